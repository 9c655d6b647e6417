"""Statements signed on this machine: key proofs at registration, custodians' confirmations of a tender.

Both are RFC 8785 canonical JSON, signed with ECDSA P-256/SHA-256 in strict
DER (docs/custody.md):

- ``etender-key-proof-v1``: the platform's one-time challenge for a key being
  registered. A signing key signs it; an encryption key opens the nonce the
  platform HPKE-sealed to it. Only a statement of exactly that form, for this
  key, purpose and user, is signed: the key is never a signing oracle for the
  platform.
- ``etender-custody-v1``: a custodian's "I serve on this tender, at index i,
  k of n, with the encryption key the list names for me". The bidder's client
  rebuilds it from the tender it is about to seal to and compares it byte for
  byte with each custodian's (:func:`check_custody`), then trusts the signing
  key only through its own trust list (:mod:`tendering.client.trust`).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from archive.canonical import canonical_json
from tendering.client.transport import ClientError
from tendering.client.trust import TrustList
from tendering.sealing import EnvelopeError, ManifestSignatureError, der_to_raw, fingerprint, load_public_key
from tendering.sealing.envelopes import SUITE, check_sealed_envelope

KEY_PROOF_FORMAT = "etender-key-proof-v1"
CUSTODY_FORMAT = "etender-custody-v1"
_KEY_PROOF_FIELDS = {"format", "purpose", "fingerprint", "user", "organization", "nonce"}
_CUSTODY_FIELDS = {"format", "tender", "index", "threshold", "recipients", "custodian", "signing_key"}
_NONCE = re.compile(r"\A[0-9a-f]{64}\Z")
NONCE_SIZE = 32


def b64decode(value: Any, what: str) -> bytes:
    try:
        return base64.b64decode(str(value), validate=True)
    except (binascii.Error, ValueError):
        raise ClientError(f"the platform sent {what} that is not base64") from None


def b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def sign_statement(statement: bytes, private_key: ec.EllipticCurvePrivateKey) -> bytes:
    """ECDSA P-256/SHA-256 over the statement's bytes, DER (``cryptography`` writes minimal DER)."""
    return private_key.sign(statement, ec.ECDSA(hashes.SHA256()))


def signature_problem(statement: bytes, signature: bytes, public_key: ec.EllipticCurvePublicKey) -> str | None:
    """Why ``signature`` is not a strict-DER signature of ``statement`` by ``public_key``, or None."""
    try:
        der_to_raw(signature)  # refuses BER, padding, r or s out of range: one encoding per signature
    except ManifestSignatureError as exc:
        return str(exc)
    try:
        public_key.verify(signature, statement, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return "the signature does not verify with the signing key"
    return None


# --- proof of possession at registration ------------------------------------------------------------------


def key_proof_info(key_fingerprint: str) -> bytes:
    """HPKE ``info`` of the nonce sealed to an encryption key being registered."""
    return f"{KEY_PROOF_FORMAT}|{key_fingerprint}".encode("ascii")


def check_key_proof_statement(
    statement: bytes, purpose: str, key_fingerprint: str, username: str, organization: str | None = None
) -> dict[str, Any]:
    """The challenge's statement, once it is exactly a key proof for this key, purpose and user (and organization)."""
    try:
        value = json.loads(statement)
    except ValueError:
        raise ClientError("the platform's key challenge is not JSON: not answered") from None
    if not isinstance(value, dict) or set(value) != _KEY_PROOF_FIELDS or value.get("format") != KEY_PROOF_FORMAT:
        raise ClientError(f"the platform's key challenge is not an {KEY_PROOF_FORMAT} statement: not answered")
    try:
        canonical = canonical_json(value)
    except (TypeError, ValueError):
        canonical = b""
    if canonical != statement:
        raise ClientError("the platform's key challenge is not canonical JSON: not answered")
    wrong = [
        f"{name} {value[name]!r} (expected {expected!r})"
        for name, expected in (
            ("purpose", purpose),
            ("fingerprint", key_fingerprint),
            ("user", username),
            ("organization", value["organization"] if organization is None else organization),
        )
        if value[name] != expected
    ]
    if not isinstance(value["nonce"], str) or not _NONCE.match(value["nonce"]):
        wrong.append("a nonce that is not 64 hex digits")
    if wrong:
        raise ClientError("the platform's key challenge names " + ", ".join(wrong) + ": not answered")
    return value


def answer_key_proof(
    challenge: dict[str, Any],
    purpose: str,
    private_key: ec.EllipticCurvePrivateKey,
    username: str,
    organization: str | None = None,
) -> dict[str, str]:
    """The ``proof`` of ``POST /api/accounts/keys`` for the challenge the platform issued for this key.

    ``organization``: the credit code the statement must name ("" for a user without one; None: not checked).
    """
    key_fingerprint = fingerprint(private_key.public_key())
    statement = b64decode(challenge.get("statement"), "a key challenge")
    check_key_proof_statement(statement, purpose, key_fingerprint, username, organization)
    challenge_id = str(challenge.get("challenge") or "")
    if purpose == "signing":
        return {"challenge": challenge_id, "signature": b64encode(sign_statement(statement, private_key))}
    sealed = b64decode(challenge.get("sealed"), "a sealed nonce")
    try:
        check_sealed_envelope(sealed, "the nonce the platform sealed to this key")
        nonce = SUITE.decrypt(sealed, private_key, key_proof_info(key_fingerprint))
    except EnvelopeError as exc:
        raise ClientError(f"{exc}: not answered") from None
    except (InvalidTag, ValueError):
        raise ClientError("the nonce the platform sealed to this key does not open with it: not answered") from None
    if len(nonce) != NONCE_SIZE:
        raise ClientError(f"the nonce the platform sealed to this key is {len(nonce)} bytes, not {NONCE_SIZE}")
    return {"challenge": challenge_id, "nonce": b64encode(nonce)}


# --- custodians' confirmations ---------------------------------------------------------------------------------


def custody_statement(
    tender: str, index: int, threshold: int, recipients: Sequence[str], custodian: str, signing_key: str
) -> bytes:
    """The canonical ``etender-custody-v1`` statement (docs/custody.md §C)."""
    return canonical_json(
        {
            "format": CUSTODY_FORMAT,
            "tender": tender,
            "index": index,
            "threshold": threshold,
            "recipients": list(recipients),
            "custodian": custodian,
            "signing_key": signing_key,
        }
    )


@dataclass(frozen=True)
class CustodySlot:
    """One custodian as the platform serves it, its encryption key read and fingerprinted here."""

    index: int
    name: str
    username: str
    encryption_key: ec.EllipticCurvePublicKey
    fingerprint: str
    confirmation: dict[str, Any] | None

    @property
    def label(self) -> str:
        return f"custodian {self.index + 1} ({self.name}, user {self.username}; index {self.index})"


def custody_slots(custody: dict[str, Any], tender_id: str) -> list[CustodySlot]:
    """The served custodians in index order; refuses a custody that is not this tender's or cannot be read."""
    try:
        if str(custody["tender"]) != tender_id:
            raise ClientError(f"the platform served the custody of tender {custody['tender']}, not of {tender_id}")
        slots = []
        for item in sorted(custody["custodians"], key=lambda c: int(c["index"])):
            spki = b64decode(item["encryption_key"]["spki"], f"custodian {item['index']}'s encryption key")
            try:
                key = load_public_key(spki)
            except EnvelopeError as exc:
                raise ClientError(f"custodian {item['index']}'s encryption key is unusable: {exc}") from None
            slots.append(
                CustodySlot(
                    int(item["index"]),
                    str(item["name"]),
                    str(item["username"]),
                    key,
                    fingerprint(key),
                    item.get("confirmation"),
                )
            )
    except (KeyError, TypeError, ValueError) as exc:
        raise ClientError(f"the platform's custody of tender {tender_id} is unreadable ({exc!r})") from None
    if [s.index for s in slots] != list(range(len(slots))):
        raise ClientError(f"the platform's custody of tender {tender_id} does not number its custodians 0..n-1")
    return slots


@dataclass
class CustodyCheck:
    """The outcome of :func:`check_custody`: the keys to seal to, and every problem found, by custodian."""

    slots: list[CustodySlot]
    general: list[str] = field(default_factory=list)  # problems of the custody as a whole
    problems: dict[int, list[str]] = field(default_factory=dict)
    trusted_by: dict[int, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.general and not any(self.problems.values())

    def lines(self) -> list[str]:
        return self.general + [
            f"{self.slots[index].label}: {problem}"
            for index in sorted(self.problems)
            for problem in self.problems[index]
        ]


def check_custody(
    custody: dict[str, Any],
    tender_id: str,
    threshold: int,
    trust: TrustList,
    *,
    now: dt.datetime,
) -> CustodyCheck:
    """Check every custodian's confirmation of the tender against this machine's trust list.

    For each custodian: its statement, rebuilt here from the tender's id, its k,
    the fingerprints of the encryption keys served now (in order) and the
    custodian's index, user name and signing key, must equal the signed one byte
    for byte; the signature must verify (strict DER) with the served signing key;
    that key must be pinned for the custodian's user name or certified by a CA of
    the trust list. A confirmation that is good except for the recipients names
    the position whose key changed since: that custodian gets the problem.
    """
    slots = custody_slots(custody, tender_id)
    check = CustodyCheck(slots)
    recipients = [slot.fingerprint for slot in slots]
    if custody.get("threshold") != threshold:
        check.general.append(f"the platform's custody gives k = {custody.get('threshold')}, its tender k = {threshold}")
    if custody.get("recipients") != recipients:
        check.general.append(
            "the custody's list of recipients is not the fingerprints of the encryption keys it serves"
        )
    problems: dict[int, list[str]] = defaultdict(list)
    confirmed_otherwise: dict[int, list[tuple[int, str]]] = defaultdict(list)
    for slot in slots:
        problem = _confirmation_problem(slot, tender_id, threshold, recipients, trust, now, check, confirmed_otherwise)
        if problem:
            problems[slot.index].append(problem)
    for position, confirmers in sorted(confirmed_otherwise.items()):
        confirmed = sorted({fp for _, fp in confirmers})
        by = ", ".join(str(i + 1) for i, _ in confirmers)
        problems[position].append(
            f"the encryption key served for it now ({slots[position].fingerprint}) is not the key "
            f"{' or '.join(confirmed)} confirmed by custodian(s) {by}: the key was changed after they confirmed"
        )
    check.problems = dict(problems)
    return check


def _confirmation_problem(
    slot: CustodySlot,
    tender_id: str,
    threshold: int,
    recipients: list[str],
    trust: TrustList,
    now: dt.datetime,
    check: CustodyCheck,
    confirmed_otherwise: dict[int, list[tuple[int, str]]],
) -> str | None:
    confirmation = slot.confirmation
    if not confirmation:
        return "has not confirmed its custody of this tender"
    try:
        statement = b64decode(confirmation["statement"], "a custody statement")
        signature = b64decode(confirmation["signature"], "a custody signature")
        served_key = confirmation["signing_key"]
        spki = b64decode(served_key["spki"], "a signing key")
        certificate = served_key.get("certificate")
    except (KeyError, TypeError, ClientError) as exc:
        return f"its confirmation is unreadable ({exc})"
    try:
        signing_key = load_public_key(spki)
    except EnvelopeError as exc:
        return f"its signing key is unusable: {exc}"
    signing_fp = fingerprint(signing_key)
    problem = signature_problem(statement, signature, signing_key)
    if problem:
        return f"its confirmation's signature is invalid: {problem}"
    untrusted, how = trust.signing_key_problem(slot.username, spki, certificate, now=now)
    if untrusted:
        return f"{untrusted} (signing key {signing_fp})"
    expected = custody_statement(tender_id, slot.index, threshold, recipients, slot.username, signing_fp)
    if statement == expected:
        check.trusted_by[slot.index] = how
        return None
    # A statement good in all but its recipients: the custodian confirmed other keys than are served now.
    try:
        signed = json.loads(statement)
        confirmed = signed["recipients"]
        if (
            isinstance(confirmed, list)
            and len(confirmed) == len(recipients)
            and all(isinstance(fp, str) for fp in confirmed)
            and custody_statement(tender_id, slot.index, threshold, confirmed, slot.username, signing_fp) == statement
        ):
            check.trusted_by[slot.index] = how
            for position, (was, now_served) in enumerate(zip(confirmed, recipients, strict=True)):
                if was != now_served:
                    confirmed_otherwise[position].append((slot.index, was))
            return None
    except (ValueError, KeyError, TypeError):
        pass
    return f"its signed statement is not the one for this tender as served now: {_differences(statement, expected)}"


def _differences(statement: bytes, expected: bytes) -> str:
    try:
        signed = json.loads(statement)
    except ValueError:
        return "it is not JSON"
    wanted = json.loads(expected)
    if not isinstance(signed, dict) or set(signed) != _CUSTODY_FIELDS:
        return f"it is not an {CUSTODY_FORMAT} statement"
    differing = [name for name in sorted(_CUSTODY_FIELDS) if signed[name] != wanted[name]]
    if not differing:
        return "it is not in canonical form"
    return ", ".join(f"{name} is {signed[name]!r}, expected {wanted[name]!r}" for name in differing)
