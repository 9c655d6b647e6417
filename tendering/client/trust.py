"""The bidder's own trust in custodians' signing keys: a list kept here, never taken from the platform.

A custodian's confirmation of a tender (``etender-custody-v1``, docs/custody.md)
is only worth the trust in the key that signed it. The platform serves that key
and, maybe, a certificate for it; the operator could serve any key of its own.
So the client trusts a signing key only if, by this list:

- its fingerprint is **pinned** by hand for that custodian's user name (compared
  with what the custodian said in person, by phone, on paper), or
- its **certificate** chains to a CA added here by hand (the trading centre's
  CA, CA数字证书: never the platform's own signer), is valid now by this
  machine's clock, certifies exactly this key, and names the custodian's user
  name as its subject ``serialNumber``.

The list is ``custody-trust.json`` in the client's folder::

    {"format": "etender-trust-v1",
     "cas": ["-----BEGIN CERTIFICATE-----…", …],
     "pins": {"zhonghua": ["a86061aa…"], …}}

``GET /api/pki/key-ca`` shows which CAs a platform is configured with; the
client may print it, but nothing here ever reads trust from the platform.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID

from accounts.key_certificates import CertificateProblem, check_key_certificate, load_certificate, spki_of
from tendering.client.config import ensure_private_folder, read_json, write_json
from tendering.client.transport import ClientError

TRUST_LIST_FILE = "custody-trust.json"
TRUST_LIST_FORMAT = "etender-trust-v1"
_FINGERPRINT = re.compile(r"\A[0-9a-f]{64}\Z")
_USERNAME = re.compile(r"\A[\w.@+-]{1,150}\Z")


def check_fingerprint(text: str) -> str:
    value = text.strip().lower().replace(":", "")
    if not _FINGERPRINT.match(value):
        raise ClientError(f"a key's fingerprint is 64 hex digits (SHA-256 of its public key), not {text!r}")
    return value


def check_username(text: str) -> str:
    if not _USERNAME.match(text):
        raise ClientError(f"not a user name of the platform: {text!r}")
    return text


def certificate_fingerprint(certificate: x509.Certificate) -> str:
    """SHA-256 of the certificate's DER, hex: how the list and its commands name a CA."""
    return hashlib.sha256(certificate.public_bytes(serialization.Encoding.DER)).hexdigest()


def load_certificates(data: bytes, what: str) -> list[x509.Certificate]:
    """Every certificate of a PEM file (or one DER certificate); refuses a file with none."""
    try:
        if b"-----BEGIN" in data:
            found = x509.load_pem_x509_certificates(data)
        else:
            found = [x509.load_der_x509_certificate(data)]
    except ValueError:
        raise ClientError(f"{what} holds no readable X.509 certificate (PEM or DER)") from None
    return found


def is_ca(certificate: x509.Certificate) -> bool:
    try:
        return bool(certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


_LABELS = {
    NameOID.COMMON_NAME: "CN",
    NameOID.SERIAL_NUMBER: "serialNumber",
    NameOID.ORGANIZATION_NAME: "O",
    NameOID.ORGANIZATIONAL_UNIT_NAME: "OU",
    NameOID.COUNTRY_NAME: "C",
}


def describe_name(name: x509.Name) -> str:
    """A subject as people read it, most specific first: ``CN=钟华, serialNumber=zhonghua, O=…``."""
    order = list(_LABELS)
    attributes = sorted(name, key=lambda a: order.index(a.oid) if a.oid in order else len(order))
    return ", ".join(f"{_LABELS.get(a.oid, a.oid.dotted_string)}={a.value!s}" for a in attributes)


def describe_certificate(certificate: x509.Certificate) -> str:
    return (
        f"{describe_name(certificate.subject)} (issued by {describe_name(certificate.issuer)}, "
        f"valid {certificate.not_valid_before_utc:%Y-%m-%d} to {certificate.not_valid_after_utc:%Y-%m-%d})"
    )


@dataclass
class TrustList:
    """The CAs and pinned fingerprints this client trusts for custodians' signing keys."""

    folder: Path
    cas: list[x509.Certificate] = field(default_factory=list)
    pins: dict[str, list[str]] = field(default_factory=dict)

    @property
    def path(self) -> Path:
        return self.folder / TRUST_LIST_FILE

    @property
    def empty(self) -> bool:
        return not self.cas and not any(self.pins.values())

    @classmethod
    def load(cls, folder: Path) -> TrustList:
        trust = cls(folder)
        try:
            data = read_json(trust.path, "the trust list")
        except FileNotFoundError:
            return trust
        if not isinstance(data, dict) or data.get("format") != TRUST_LIST_FORMAT:
            raise ClientError(f"{trust.path} is not a trust list of this client ({TRUST_LIST_FORMAT})")
        for pem in data.get("cas") or []:
            trust.cas.extend(load_certificates(str(pem).encode("ascii"), f"a CA of {trust.path}"))
        pins = data.get("pins") or {}
        if not isinstance(pins, dict):
            raise ClientError(f"{trust.path}: pins must be an object of user names")
        trust.pins = {str(user): [check_fingerprint(str(fp)) for fp in fps] for user, fps in pins.items()}
        return trust

    def save(self) -> None:
        ensure_private_folder(self.folder)
        cas = [c.public_bytes(serialization.Encoding.PEM).decode("ascii") for c in self.cas]
        pins = {user: sorted(fps) for user, fps in sorted(self.pins.items()) if fps}
        # Readable by others is harmless (public keys and fingerprints); writable only by the owner.
        write_json(self.path, {"format": TRUST_LIST_FORMAT, "cas": cas, "pins": pins}, 0o644)

    # --- changes ------------------------------------------------------------------------------------

    def add_ca(self, certificate: x509.Certificate, *, refused: Sequence[x509.Certificate] = ()) -> bool:
        """Add a CA certificate; False if it was there. Refuses a non-CA and any of ``refused``."""
        if not is_ca(certificate):
            raise ClientError(
                f"{describe_name(certificate.subject)} is not a CA certificate (no basicConstraints cA=TRUE): "
                "add the certificate of the CA that issues custodians' certificates, or pin the custodian's key"
            )
        if any(spki_of(certificate) == spki_of(other) for other in refused):
            raise ClientError(
                f"{describe_name(certificate.subject)} is one of the platform's own certificates (pinned at login "
                "for receipts): the platform's operator holds its key and could certify keys of its own. Trust the "
                "trading centre's CA (CA数字证书) instead, or pin each custodian's fingerprint"
            )
        if certificate in self.cas:
            return False
        self.cas.append(certificate)
        return True

    def pin(self, username: str, fp: str) -> bool:
        pinned = self.pins.setdefault(check_username(username), [])
        fp = check_fingerprint(fp)
        if fp in pinned:
            return False
        pinned.append(fp)
        return True

    def remove_ca(self, fp: str) -> x509.Certificate:
        fp = check_fingerprint(fp)
        for certificate in self.cas:
            if certificate_fingerprint(certificate) == fp:
                self.cas.remove(certificate)
                return certificate
        raise ClientError(f"no CA with certificate fingerprint {fp} in {self.path} (see `etender trust list`)")

    def unpin(self, username: str, fp: str | None = None) -> list[str]:
        pinned = self.pins.get(username) or []
        removed = [p for p in pinned if fp is None or p == check_fingerprint(fp)]
        if not removed:
            what = f"fingerprint {fp} pinned" if fp else "fingerprint pinned"
            raise ClientError(f"no {what} for {username} in {self.path} (see `etender trust list`)")
        self.pins[username] = [p for p in pinned if p not in removed]
        return removed

    # --- the check --------------------------------------------------------------------------------------

    def signing_key_problem(
        self, username: str, spki: bytes, certificate_pem: str | None, *, now: dt.datetime
    ) -> tuple[str | None, str]:
        """(why this signing key is not trusted for ``username``, or None; how it is trusted).

        ``spki`` is the key's SPKI DER as served; ``certificate_pem`` its served
        certificate, maybe followed by intermediate CAs.
        """
        fp = hashlib.sha256(spki).hexdigest()
        pinned = self.pins.get(username) or []
        if fp in pinned:
            return None, "pinned fingerprint"
        reasons = []
        if pinned:
            reasons.append(f"its fingerprint {fp} is not the one pinned for {username} ({', '.join(pinned)})")
        if certificate_pem:
            problem = self.certificate_problem(username, spki, certificate_pem.encode("ascii"), now=now)
            if problem is None:
                return None, "certificate of a trusted CA"
            reasons.append(f"its certificate {problem}")
        else:
            reasons.append("it has no certificate")
        if not self.cas and not pinned:
            reasons.append(f"no CA is in the trust list and no fingerprint is pinned for {username}")
        return "the signing key is not trusted: " + "; ".join(reasons), ""

    def certificate_problem(self, username: str, spki: bytes, data: bytes, *, now: dt.datetime) -> str | None:
        """Why the certificate in ``data`` does not vouch for ``spki`` as ``username``'s now, or None.

        The same checks as the platform's (``accounts.key_certificates``), against this list's CAs only.
        """
        if not self.cas:
            return "cannot be checked: no CA in the trust list"
        try:
            check_key_certificate(load_certificate(data), spki_der=spki, username=username, anchors=self.cas, now=now)
        except CertificateProblem as exc:
            return f"does not vouch for it: {exc.reason} ({exc.code})"
        return None
