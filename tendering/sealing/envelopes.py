"""Key envelopes: the file key sealed to the bidder and, in XOR parts, to every k-subset of custodians.

HPKE (RFC 9180) base mode, DHKEM(P-256, HKDF-SHA256), HKDF-SHA256, AES-256-GCM
(suite 0x0010/0x0001/0x0002), single shot, empty associated data: an envelope
is ``enc(65) ‖ ciphertext(32) ‖ tag(16)``, 113 bytes. docs/sealed-bid-format.md §4.

Custody without a platform key (密钥保管人): for each k-subset of the n
custodians, in lexicographic order of their positions in the tender's
published list, the client draws k random 32-byte parts whose XOR is the file
key and seals part j to the subset's j-th member. Fewer than k custodians hold
at most k-1 parts of any subset, which are independent uniform bytes.
"""

from __future__ import annotations

import hmac
import itertools
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from math import comb

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hpke as _hpke
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from tendering.sealing.errors import EnvelopeCoverageError, EnvelopeError, KeyCommitmentError
from tendering.sealing.identity import BidIdentity
from tendering.sealing.keys import PublicKeyLike, fingerprint, load_public_key
from tendering.sealing.stream import KEY_SIZE

SUITE = _hpke.Suite(_hpke.KEM.P256, _hpke.KDF.HKDF_SHA256, _hpke.AEAD.AES_256_GCM)
ENC_SIZE = 65  # the ephemeral public key, an uncompressed P-256 point
ENVELOPE_SIZE = ENC_SIZE + KEY_SIZE + 16
MAX_CUSTODIANS = 9  # C(9,4) = 126 subsets x 4 = 504 envelopes at worst
ENVELOPE_INFO_LABEL = "etender-envelope-v1"
COMMITMENT_INFO = b"etender-commit-v1"


# -- key commitment ---------------------------------------------------------------------------------------------


def key_commitment(file_key: bytes) -> bytes:
    """kc = HKDF-SHA256(ikm=file_key, salt=32 zero bytes, info="etender-commit-v1", L=32).

    An absent salt, an empty salt and 32 zero bytes are the same HMAC key, so
    every HKDF implementation gives the same kc whichever it is handed.
    """
    _check_file_key(file_key)
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=bytes(32), info=COMMITMENT_INFO).derive(bytes(file_key))


def verify_commitment(file_key: bytes, kc: bytes) -> None:
    """Raise ``KeyCommitmentError`` unless ``file_key`` is the key the manifest committed to."""
    if not hmac.compare_digest(key_commitment(file_key), bytes(kc)):
        raise KeyCommitmentError(
            "the file key does not match the manifest's key commitment (kc): it is not the key this bid was sealed with"
        )


def _check_file_key(file_key: bytes) -> None:
    if not isinstance(file_key, (bytes, bytearray)) or len(file_key) != KEY_SIZE:
        raise EnvelopeError(f"a file key is {KEY_SIZE} bytes")


# -- XOR parts --------------------------------------------------------------------------------------------------


def custodian_subsets(n: int, k: int) -> list[tuple[int, ...]]:
    """Every k-subset of positions 0..n-1, each ascending, in lexicographic order."""
    check_threshold(n, k)
    return list(itertools.combinations(range(n), k))


def check_threshold(n: int, k: int) -> None:
    if not 1 <= n <= MAX_CUSTODIANS:
        raise EnvelopeError(f"a tender names 1 to {MAX_CUSTODIANS} custodians, not {n}")
    if not 1 <= k <= n:
        raise EnvelopeError(f"the threshold k must be between 1 and n={n}, not {k}")


def split_key(file_key: bytes, k: int, randbytes: Callable[[int], bytes] = os.urandom) -> tuple[bytes, ...]:
    """k parts whose XOR is ``file_key``: k-1 random, the last the key XOR the others."""
    _check_file_key(file_key)
    parts = [randbytes(KEY_SIZE) for _ in range(k - 1)]
    parts.append(_xor([bytes(file_key), *parts]))
    return tuple(parts)


def combine_parts(parts: Sequence[bytes]) -> bytes:
    """The XOR of the parts: the file key when they are all the parts of one subset."""
    if not parts:
        raise EnvelopeError("no parts to combine")
    for part in parts:
        if len(part) != KEY_SIZE:
            raise EnvelopeError(f"a key part is {KEY_SIZE} bytes, not {len(part)}")
    return _xor(parts)


def _xor(values: Sequence[bytes]) -> bytes:
    acc = 0
    for value in values:
        acc ^= int.from_bytes(value, "big")
    return acc.to_bytes(KEY_SIZE, "big")


# -- info strings -----------------------------------------------------------------------------------------------


def bidder_envelope_info(identity: BidIdentity, recipient: str) -> bytes:
    """``etender-envelope-v1|bidder|{tender}|{bid}|{bidder}|{recipient fingerprint}``."""
    return f"{ENVELOPE_INFO_LABEL}|bidder|{identity.tender}|{identity.bid}|{identity.bidder}|{recipient}".encode()


def custodian_part_info(
    identity: BidIdentity, k: int, n: int, members: Sequence[int], position: int, recipient: str
) -> bytes:
    """``etender-envelope-v1|custodian|{tender}|{bid}|{bidder}|{k}-of-{n}|{members}|{position}|{recipient}``.

    ``members`` are the subset's positions (0-based, in the published list)
    joined by commas, ``position`` the recipient's own position in that list.
    """
    subset = ",".join(str(m) for m in members)
    return (
        f"{ENVELOPE_INFO_LABEL}|custodian|{identity.tender}|{identity.bid}|{identity.bidder}"
        f"|{k}-of-{n}|{subset}|{position}|{recipient}"
    ).encode()


# -- envelopes --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BidderEnvelope:
    """The file key sealed to the bidder's own encryption key (released at 不见面开标)."""

    recipient: str  # fingerprint of the bidder's encryption key
    sealed: bytes


@dataclass(frozen=True)
class SubsetEnvelopes:
    """The k parts of one subset, ``parts[j]`` sealed to the custodian at position ``members[j]``."""

    members: tuple[int, ...]
    parts: tuple[bytes, ...]


@dataclass(frozen=True)
class CustodianEnvelopes:
    threshold: int
    recipients: tuple[str, ...]  # fingerprints of the custodians' keys, in the tender's published order
    subsets: tuple[SubsetEnvelopes, ...]


@dataclass(frozen=True)
class Envelopes:
    bidder: BidderEnvelope
    custodians: CustodianEnvelopes


@dataclass(frozen=True)
class CustodianPart:
    """One opened part: what a custodian submits at the opening for one subset."""

    members: tuple[int, ...]
    position: int
    part: bytes


def check_sealed_envelope(sealed: bytes, where: str) -> None:
    """What can be checked of an envelope without its private key: its size and its ephemeral point."""
    if len(sealed) != ENVELOPE_SIZE:
        raise EnvelopeError(f"{where}: an envelope is {ENVELOPE_SIZE} bytes, this one has {len(sealed)}")
    try:
        if sealed[0] != 0x04:
            raise ValueError("compressed or infinity")
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), bytes(sealed[:ENC_SIZE]))
    except ValueError:
        raise EnvelopeError(f"{where}: the envelope does not start with an uncompressed P-256 point") from None


def _seal(plaintext: bytes, public_key: ec.EllipticCurvePublicKey, info: bytes) -> bytes:
    return SUITE.encrypt(plaintext, public_key, info)


def _open(sealed: bytes, private_key: ec.EllipticCurvePrivateKey, info: bytes, where: str) -> bytes:
    check_sealed_envelope(sealed, where)
    try:
        plaintext = SUITE.decrypt(sealed, private_key, info)
    except InvalidTag:
        raise EnvelopeError(
            f"{where} does not open with this key: modified, or made for another tender, bid or recipient"
        ) from None
    if len(plaintext) != KEY_SIZE:
        raise EnvelopeError(f"{where} holds {len(plaintext)} bytes, not a {KEY_SIZE}-byte key")
    return plaintext


def seal_file_key(
    file_key: bytes,
    identity: BidIdentity,
    bidder_encryption_key: PublicKeyLike,
    custodian_keys: Sequence[PublicKeyLike],
    threshold: int,
    *,
    randbytes: Callable[[int], bytes] = os.urandom,
) -> Envelopes:
    """Every envelope of a bid: one to the bidder's key, and k parts for each k-subset of the custodians."""
    _check_file_key(file_key)
    bidder_key = load_public_key(bidder_encryption_key)
    bidder_fp = fingerprint(bidder_key)
    keys = [load_public_key(key) for key in custodian_keys]
    recipients = tuple(fingerprint(key) for key in keys)
    n = len(keys)
    check_threshold(n, threshold)
    _check_distinct(recipients)
    bidder = BidderEnvelope(bidder_fp, _seal(bytes(file_key), bidder_key, bidder_envelope_info(identity, bidder_fp)))
    subsets = []
    for members in custodian_subsets(n, threshold):
        parts = split_key(file_key, threshold, randbytes)
        sealed = tuple(
            _seal(
                part,
                keys[position],
                custodian_part_info(identity, threshold, n, members, position, recipients[position]),
            )
            for position, part in zip(members, parts, strict=True)
        )
        subsets.append(SubsetEnvelopes(members, sealed))
    return Envelopes(bidder, CustodianEnvelopes(threshold, recipients, tuple(subsets)))


def _check_distinct(recipients: Sequence[str]) -> None:
    seen: dict[str, int] = {}
    for position, recipient in enumerate(recipients):
        if recipient in seen:
            # One key twice would hold two parts of a subset: fewer than k people could open the bid.
            raise EnvelopeError(f"custodians {seen[recipient]} and {position} have the same key {recipient}")
        seen[recipient] = position


def open_bidder_envelope(
    envelope: BidderEnvelope, identity: BidIdentity, private_key: ec.EllipticCurvePrivateKey
) -> bytes:
    """The file key, opened with the bidder's own encryption key."""
    mine = fingerprint(private_key.public_key())
    if envelope.recipient != mine:
        raise EnvelopeError(f"the bidder envelope is sealed to key {envelope.recipient}, not to this key ({mine})")
    return _open(envelope.sealed, private_key, bidder_envelope_info(identity, mine), "the bidder envelope")


def open_custodian_part(
    custodians: CustodianEnvelopes,
    identity: BidIdentity,
    members: Sequence[int],
    private_key: ec.EllipticCurvePrivateKey,
) -> CustodianPart:
    """The holder of ``private_key`` opens its part of the subset ``members``."""
    mine = fingerprint(private_key.public_key())
    if mine not in custodians.recipients:
        raise EnvelopeError(f"key {mine} is not one of this bid's custodians")
    position = custodians.recipients.index(mine)
    members = tuple(members)
    subset = next((s for s in custodians.subsets if s.members == members), None)
    if subset is None:
        raise EnvelopeError(f"this bid has no subset {list(members)}")
    if position not in members:
        raise EnvelopeError(f"custodian {position} is not a member of subset {list(members)}")
    j = members.index(position)
    n = len(custodians.recipients)
    info = custodian_part_info(identity, custodians.threshold, n, members, position, mine)
    where = f"the part of custodian {position} in subset {list(members)}"
    return CustodianPart(members, position, _open(subset.parts[j], private_key, info, where))


def open_custodian_parts(
    custodians: CustodianEnvelopes, identity: BidIdentity, private_key: ec.EllipticCurvePrivateKey
) -> list[CustodianPart]:
    """Every part the holder of ``private_key`` has in this bid (one per subset it belongs to)."""
    mine = fingerprint(private_key.public_key())
    if mine not in custodians.recipients:
        raise EnvelopeError(f"key {mine} is not one of this bid's custodians")
    position = custodians.recipients.index(mine)
    return [
        open_custodian_part(custodians, identity, subset.members, private_key)
        for subset in custodians.subsets
        if position in subset.members
    ]


def file_key_from_parts(custodians: CustodianEnvelopes, parts: Iterable[CustodianPart], kc: bytes) -> bytes:
    """The file key from the parts custodians submitted: the first complete subset whose XOR matches ``kc``.

    A subset whose parts do not match (a custodian submitted a wrong part) is
    skipped; the error names the subsets tried when none matches.
    """
    by_subset: dict[tuple[int, ...], dict[int, bytes]] = {}
    for part in parts:
        by_subset.setdefault(tuple(part.members), {})[part.position] = part.part
    failed = []
    for subset in custodians.subsets:
        have = by_subset.get(subset.members, {})
        if all(m in have for m in subset.members):
            candidate = combine_parts([have[m] for m in subset.members])
            try:
                verify_commitment(candidate, kc)
            except KeyCommitmentError:
                failed.append(list(subset.members))
                continue
            return candidate
    if failed:
        raise KeyCommitmentError(f"the parts of subsets {failed} combine to a key that does not match kc")
    raise EnvelopeError(f"no subset of {custodians.threshold} custodians has submitted all its parts yet")


def check_envelope_coverage(
    custodians: CustodianEnvelopes, published_custodian_keys: Sequence[PublicKeyLike | str], k: int
) -> None:
    """Refuse unless the envelopes cover every k-subset of the published custodians exactly once.

    ``published_custodian_keys`` are the tender's custodian keys (key objects,
    SPKI DER, or fingerprints) in the published order. This checks the shape:
    that each part really opens only its custodian can tell.
    """
    try:
        published = [_published_fingerprint(key) for key in published_custodian_keys]
    except EnvelopeError as exc:
        raise EnvelopeCoverageError(f"the tender's published custodians are not usable: {exc}") from None
    n = len(published)
    try:
        check_threshold(n, k)
        _check_distinct(published)
    except EnvelopeError as exc:
        raise EnvelopeCoverageError(f"the tender's published custodians are not usable: {exc}") from None
    if custodians.threshold != k:
        raise EnvelopeCoverageError(f"the envelopes are for a threshold of {custodians.threshold}, the tender's is {k}")
    if list(custodians.recipients) != published:
        if sorted(custodians.recipients) == sorted(published):
            raise EnvelopeCoverageError("the envelopes name the tender's custodians in another order")
        missing = [p for p, fp in enumerate(published) if fp not in custodians.recipients]
        strangers = [fp for fp in custodians.recipients if fp not in published]
        raise EnvelopeCoverageError(
            f"the envelopes are not addressed to the tender's published custodians "
            f"(custodians missing at positions {missing}; keys not published: {strangers})"
        )
    expected = custodian_subsets(n, k)
    if len(custodians.subsets) != len(expected):
        raise EnvelopeCoverageError(
            f"{k} of {n} custodians need {comb(n, k)} subsets of envelopes, the bid has {len(custodians.subsets)}"
        )
    for index, (subset, members) in enumerate(zip(custodians.subsets, expected, strict=True)):
        if subset.members != members:
            raise EnvelopeCoverageError(
                f"subset {index} is {list(subset.members)}, expected {list(members)} "
                "(every k-subset once, in lexicographic order)"
            )
        if len(subset.parts) != k:
            raise EnvelopeCoverageError(f"subset {list(members)} has {len(subset.parts)} parts, expected {k}")
        for position, sealed in zip(members, subset.parts, strict=True):
            try:
                check_sealed_envelope(sealed, f"the part of custodian {position} in subset {list(members)}")
            except EnvelopeError as exc:
                raise EnvelopeCoverageError(str(exc)) from None


def _published_fingerprint(key: PublicKeyLike | str) -> str:
    if isinstance(key, str):
        if len(key) != 64 or key.strip("0123456789abcdef"):
            raise EnvelopeError(f"{key!r} is not a fingerprint (64 lowercase hex digits)")
        return key
    return fingerprint(key)
