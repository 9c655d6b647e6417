"""Checks of a key's X.509 certificate from the trading centre's CA (CA数字证书), no Django.

docs/custody.md §B: the certificate binds a person to one key. It must hold exactly
that key (SubjectPublicKeyInfo equal byte for byte), name the platform username in
the subject's ``serialNumber``, be valid at the moment of the check, and be issued
directly by one of the trusted CA certificates (which must themselves be CAs and
valid). The same checks serve the server (a certificate uploaded for a key) and any
client that keeps its own trust list: the trust anchors are always the caller's.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import NameOID


class CertificateProblem(ValueError):
    """The certificate does not vouch for this key and person; ``code`` names which check failed."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def load_certificate(data: bytes | str) -> x509.Certificate:
    """One certificate, PEM or DER; anything else is a ``CertificateProblem`` (``malformed``)."""
    raw = data.encode("ascii", "replace") if isinstance(data, str) else bytes(data)
    try:
        if raw.lstrip().startswith(b"-----BEGIN"):
            certificates = x509.load_pem_x509_certificates(raw)
            if len(certificates) != 1:
                raise CertificateProblem("malformed", f"expected one certificate, found {len(certificates)}")
            return certificates[0]
        return x509.load_der_x509_certificate(raw)
    except CertificateProblem:
        raise
    except ValueError:
        raise CertificateProblem("malformed", "not an X.509 certificate (PEM or DER)") from None


def load_anchors(pem: bytes) -> list[x509.Certificate]:
    """The CA certificates of a PEM bundle (a trust list file); an empty or broken file holds none."""
    try:
        return x509.load_pem_x509_certificates(pem)
    except ValueError:
        return []


def certificate_der(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.DER)


def certificate_pem(der: bytes | memoryview) -> str:
    return x509.load_der_x509_certificate(bytes(der)).public_bytes(serialization.Encoding.PEM).decode("ascii")


def spki_of(certificate: x509.Certificate) -> bytes:
    return certificate.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def subject_serial_number(certificate: x509.Certificate) -> str | None:
    values = certificate.subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)
    return str(values[0].value) if len(values) == 1 else None


def _is_ca(certificate: x509.Certificate) -> bool:
    try:
        constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        return False
    return constraints.ca


def _valid_at(certificate: x509.Certificate, now: dt.datetime) -> bool:
    return certificate.not_valid_before_utc <= now <= certificate.not_valid_after_utc


def issuer_of(certificate: x509.Certificate, anchors: Sequence[x509.Certificate]) -> x509.Certificate | None:
    """The anchor whose key signed ``certificate`` (directly), or None."""
    for anchor in anchors:
        if anchor.subject != certificate.issuer:
            continue
        try:
            certificate.verify_directly_issued_by(anchor)
        except (ValueError, TypeError, InvalidSignature):
            continue
        return anchor
    return None


def check_key_certificate(
    certificate: x509.Certificate,
    *,
    spki_der: bytes,
    username: str,
    anchors: Sequence[x509.Certificate],
    now: dt.datetime,
) -> x509.Certificate:
    """Raise ``CertificateProblem`` unless ``certificate`` vouches for this key of this user now; return its issuer.

    The checks, in order (the first failing one decides): the key, the username, the
    validity period, the issuer among ``anchors``, the issuer being a CA valid now.
    """
    if spki_of(certificate) != bytes(spki_der):
        raise CertificateProblem("certificate_key_mismatch", "the certificate holds another key")
    if subject_serial_number(certificate) != username:
        raise CertificateProblem(
            "certificate_wrong_subject", f"the certificate's subject serialNumber is not {username!r}"
        )
    if not _valid_at(certificate, now):
        raise CertificateProblem("certificate_not_valid_now", "the certificate is expired or not yet valid")
    if _is_ca(certificate):
        raise CertificateProblem("certificate_is_ca", "a CA certificate cannot certify a person's key")
    issuer = issuer_of(certificate, anchors)
    if issuer is None:
        raise CertificateProblem("certificate_untrusted", "the certificate is not issued by a trusted CA")
    if not _is_ca(issuer) or not _valid_at(issuer, now):
        raise CertificateProblem("certificate_untrusted", "the issuing CA certificate is not a CA valid now")
    return issuer


def new_self_signed_ca(
    name: x509.Name, not_before: dt.datetime, *, days: int = 3653
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """A fresh P-256 CA that signs certificates only (the development PKI's and the demo key CA's)."""
    key = ec.generate_private_key(ec.SECP256R1())
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_before + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return key, certificate


# serialNumber is a PrintableString (RFC 5280) when it can be; usernames with other characters (``_``, ``@``)
# need UTF8String.
_PRINTABLE = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 '()+,-./:=?")


def key_subject(username: str, name: str, organization: str = "") -> x509.Name:
    """The subject a key certificate carries (docs/custody.md §B): CN the person's name, serialNumber the
    platform username, O the organization when there is one. The demo key CA issues it and ``etender keys csr``
    asks for it, so a CA sees the subject the platform expects."""
    kind = _ASN1Type.PrintableString if set(username) <= _PRINTABLE else _ASN1Type.UTF8String
    attributes = [
        x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
        x509.NameAttribute(NameOID.COMMON_NAME, name[:64] or username),
        x509.NameAttribute(NameOID.SERIAL_NUMBER, username, kind),
    ]
    if organization:
        attributes.insert(1, x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization[:64]))
    return x509.Name(attributes)
