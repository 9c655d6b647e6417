"""The platform's signing identity: an ECDSA P-256 key and its X.509 certificate.

Production names its own key and certificate (``PLATFORM_SIGNING_KEY_FILE``,
``PLATFORM_SIGNING_KEY_PASSWORD``, ``PLATFORM_CERTIFICATE_FILE``,
``PLATFORM_CA_CERTIFICATE_FILE``; system check etender.E007 insists on it).
Without them the embedded default generates, once, a development PKI under
``DEVELOPMENT_PKI_DIR``: a root CA and a document-signing certificate issued by
it, ordinary enough for pyHanko to sign PDFs (PAdES) with.

Checkpoints, receipts and dossier manifests are signed with ``platform_signer()``.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.dispatch import receiver
from django.test.signals import setting_changed

from accounts.key_certificates import new_self_signed_ca
from config import clock
from config.private_files import locked_folder, write_private

# id-kp-documentSigning (RFC 9336)
DOCUMENT_SIGNING = x509.ObjectIdentifier("1.3.6.1.5.5.7.3.36")

DEVELOPMENT_CA_NAME = "eTender Development Root CA"
DEVELOPMENT_SIGNER_NAME = "eTender Platform (development)"
DEVELOPMENT_ORGANIZATION = "eTender (development)"

CA_KEY_FILE = "ca.key.pem"
CA_CERTIFICATE_FILE = "ca.cert.pem"
SIGNER_KEY_FILE = "platform.key.pem"
SIGNER_CERTIFICATE_FILE = "platform.cert.pem"

_SETTINGS = {
    "PLATFORM_SIGNING_KEY_FILE",
    "PLATFORM_SIGNING_KEY_PASSWORD",
    "PLATFORM_CERTIFICATE_FILE",
    "PLATFORM_CA_CERTIFICATE_FILE",
    "DEVELOPMENT_PKI_DIR",
}


@dataclass(frozen=True)
class PlatformSigner:
    private_key: ec.EllipticCurvePrivateKey
    certificate: x509.Certificate
    # leaf first, then the certificates that issued it, up to and including the CA when known
    chain: list[x509.Certificate]
    development: bool

    def sign(self, data: bytes) -> bytes:
        """ECDSA-SHA256 over ``data``, DER-encoded (r, s)."""
        return self.private_key.sign(data, ec.ECDSA(hashes.SHA256()))

    def verify(self, data: bytes, signature: bytes) -> bool:
        return _verify(self.private_key.public_key(), data, signature)

    def certificate_pem(self) -> str:
        return self.certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")

    @property
    def fingerprint(self) -> str:
        return certificate_fingerprint(self.certificate)

    @property
    def trust_anchors(self) -> list[x509.Certificate]:
        """What a checkpoint's certificate must be, or be issued by:
        the CA, or the certificate itself if none is known.
        """
        return self.chain[1:] or [self.certificate]


@functools.cache
def platform_signer() -> PlatformSigner:
    if settings.PLATFORM_SIGNING_KEY_FILE or settings.PLATFORM_CERTIFICATE_FILE:
        return _load_from_files()
    return _development_signer(Path(settings.DEVELOPMENT_PKI_DIR))


def reset_platform_signer_cache() -> None:
    """Forget the loaded signer (tests that change the settings; key rotation)."""
    platform_signer.cache_clear()


@receiver(setting_changed)
def _reset_on_setting_changed(setting: str, **kwargs: Any) -> None:
    if setting in _SETTINGS:
        reset_platform_signer_cache()


# --- Offline checks -------------------------------------------------------------


def certificate_fingerprint(certificate: x509.Certificate) -> str:
    """SHA-256 of the certificate's DER, hex."""
    return hashlib.sha256(certificate.public_bytes(serialization.Encoding.DER)).hexdigest()


def load_certificate(pem: str | bytes) -> x509.Certificate:
    return x509.load_pem_x509_certificate(pem.encode("ascii") if isinstance(pem, str) else pem)


def verify_with_certificate(certificate_pem: str | bytes, data: bytes, signature: bytes) -> bool:
    """Does ``signature`` (DER ECDSA-SHA256) over ``data`` verify with the certificate's key?

    Raises ``ValueError`` if the PEM is not a certificate. Checks the signature
    only: whether to trust the certificate is ``is_issued_by``'s question.
    """
    public_key = load_certificate(certificate_pem).public_key()
    if not isinstance(public_key, ec.EllipticCurvePublicKey):
        return False
    return _verify(public_key, data, signature)


def is_issued_by(certificate: x509.Certificate, anchors: Sequence[x509.Certificate]) -> bool:
    """Is ``certificate`` one of ``anchors`` or signed directly by one of them?"""
    for anchor in anchors:
        if certificate == anchor:
            return True
        try:
            certificate.verify_directly_issued_by(anchor)
        except (ValueError, TypeError, InvalidSignature):
            continue
        return True
    return False


def _verify(public_key: ec.EllipticCurvePublicKey, data: bytes, signature: bytes) -> bool:
    try:
        public_key.verify(signature, data, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError):
        return False
    return True


# --- Configured key and certificate --------------------------------------------


def _read(setting: str) -> bytes:
    path = getattr(settings, setting)
    if not path:
        raise ImproperlyConfigured(
            f"{setting} is not set: PLATFORM_SIGNING_KEY_FILE and PLATFORM_CERTIFICATE_FILE go together."
        )
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise ImproperlyConfigured(f"{setting} ({path}) cannot be read: {exc.strerror or exc}") from exc


def _load_from_files() -> PlatformSigner:
    key_bytes = _read("PLATFORM_SIGNING_KEY_FILE")
    password = settings.PLATFORM_SIGNING_KEY_PASSWORD.encode() or None
    try:
        if key_bytes.lstrip().startswith(b"-----"):
            key = serialization.load_pem_private_key(key_bytes, password)
        else:
            key = serialization.load_der_private_key(key_bytes, password)
    except (ValueError, TypeError) as exc:
        raise ImproperlyConfigured(
            f"PLATFORM_SIGNING_KEY_FILE ({settings.PLATFORM_SIGNING_KEY_FILE}) is not a private key that "
            f"PLATFORM_SIGNING_KEY_PASSWORD opens: {exc}"
        ) from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise ImproperlyConfigured("PLATFORM_SIGNING_KEY_FILE must hold an ECDSA P-256 (secp256r1) key.")

    certificates = _load_certificates("PLATFORM_CERTIFICATE_FILE")
    certificate = certificates[0]
    if _public_der(certificate.public_key()) != _public_der(key.public_key()):
        raise ImproperlyConfigured(
            f"The key in PLATFORM_SIGNING_KEY_FILE does not match the certificate in PLATFORM_CERTIFICATE_FILE "
            f"(subject {certificate.subject.rfc4514_string()}): they are not a pair."
        )
    chain = list(certificates)
    for child, parent in itertools.pairwise(chain):
        if not is_issued_by(child, [parent]):
            raise ImproperlyConfigured(
                "PLATFORM_CERTIFICATE_FILE must hold the certificate first, "
                "then each certificate that issued the one before it."
            )
    if settings.PLATFORM_CA_CERTIFICATE_FILE:
        authorities = _load_certificates("PLATFORM_CA_CERTIFICATE_FILE")
        if not is_issued_by(chain[-1], authorities):
            raise ImproperlyConfigured(
                "The certificate in PLATFORM_CERTIFICATE_FILE is not issued by a certificate "
                "in PLATFORM_CA_CERTIFICATE_FILE."
            )
        chain += [authority for authority in authorities if authority not in chain]
    return PlatformSigner(private_key=key, certificate=certificate, chain=chain, development=False)


def _load_certificates(setting: str) -> list[x509.Certificate]:
    data = _read(setting)
    try:
        certificates = x509.load_pem_x509_certificates(data)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{setting} ({getattr(settings, setting)}) holds no PEM certificate: {exc}") from exc
    return certificates


def _public_der(public_key: Any) -> bytes:
    return bytes(public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo))


# --- Development PKI -----------------------------------------------------------


def development_ca(directory: Path | None = None) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """The development root CA (generated if needed), for issuing other development certificates."""
    directory = Path(settings.DEVELOPMENT_PKI_DIR) if directory is None else directory
    _development_signer(directory)
    with locked_folder(directory):
        return _load_key(directory / CA_KEY_FILE), load_certificate((directory / CA_CERTIFICATE_FILE).read_bytes())


IssueCertificate = Callable[
    [ec.EllipticCurvePrivateKey, x509.Certificate], tuple[ec.EllipticCurvePrivateKey, x509.Certificate]
]


def development_identity(
    stem: str, issue: IssueCertificate, directory: Path | None = None
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate, x509.Certificate]:
    """Another key and certificate of the development PKI (e.g. the development TSA's): (key, certificate, CA).

    Kept beside the CA as ``{stem}.key.pem`` / ``{stem}.cert.pem``. Made once by
    ``issue(ca_key, ca)`` under the PKI's lock, written like the others (0600,
    temp file + rename), and made again if the CA it came from was replaced.
    """
    if stem in {"ca", "platform"} or not stem.isidentifier():
        raise ValueError(f"{stem!r} cannot name another development identity")
    directory = Path(settings.DEVELOPMENT_PKI_DIR) if directory is None else directory
    _development_signer(directory)
    with locked_folder(directory):
        key_path, certificate_path = directory / f"{stem}.key.pem", directory / f"{stem}.cert.pem"
        ca_key = _load_key(directory / CA_KEY_FILE)
        ca = load_certificate((directory / CA_CERTIFICATE_FILE).read_bytes())
        if key_path.exists() and certificate_path.exists():
            certificate = load_certificate(certificate_path.read_bytes())
            if is_issued_by(certificate, [ca]):
                return _load_key(key_path), certificate, ca
        key, certificate = issue(ca_key, ca)
        write_private(key_path, _key_pem(key))
        write_private(certificate_path, certificate.public_bytes(serialization.Encoding.PEM))
        return key, certificate, ca


def _development_signer(directory: Path) -> PlatformSigner:
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    # A lock file, so that two processes starting together make one PKI, not two.
    with locked_folder(directory):
        ca_key_path, ca_path = directory / CA_KEY_FILE, directory / CA_CERTIFICATE_FILE
        key_path, certificate_path = directory / SIGNER_KEY_FILE, directory / SIGNER_CERTIFICATE_FILE
        if not (ca_key_path.exists() and ca_path.exists()):
            ca_key, ca = _new_ca()
            write_private(ca_key_path, _key_pem(ca_key))
            write_private(ca_path, ca.public_bytes(serialization.Encoding.PEM))
            certificate_path.unlink(missing_ok=True)  # a leaf of a lost CA is useless
        if not (key_path.exists() and certificate_path.exists()):
            ca_key, ca = _load_key(ca_key_path), load_certificate(ca_path.read_bytes())
            key, certificate = _new_signer(ca_key, ca)
            write_private(key_path, _key_pem(key))
            write_private(certificate_path, certificate.public_bytes(serialization.Encoding.PEM))
        try:
            key = _load_key(key_path)
            certificate = load_certificate(certificate_path.read_bytes())
            ca = load_certificate(ca_path.read_bytes())
        except (OSError, ValueError) as exc:
            raise ImproperlyConfigured(
                f"The development PKI in {directory} is unreadable ({exc}); delete it to regenerate."
            ) from exc
    return PlatformSigner(private_key=key, certificate=certificate, chain=[certificate, ca], development=True)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _load_key(path: Path) -> ec.EllipticCurvePrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError(f"{path} is not an EC private key")
    return key


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, DEVELOPMENT_ORGANIZATION),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _validity_start() -> dt.datetime:
    # An hour back, so that a clock slightly behind another machine's still accepts it.
    return clock.now().replace(microsecond=0) - dt.timedelta(hours=1)


def _new_ca() -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    name = _name(DEVELOPMENT_CA_NAME)
    start = _validity_start()
    return new_self_signed_ca(name, start)


def _new_signer(
    ca_key: ec.EllipticCurvePrivateKey, ca: x509.Certificate
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    return issue_development_leaf(ca_key, ca, DEVELOPMENT_SIGNER_NAME, DOCUMENT_SIGNING, eku_critical=False)


def issue_development_leaf(
    ca_key: ec.EllipticCurvePrivateKey,
    ca: x509.Certificate,
    common_name: str,
    purpose: x509.ObjectIdentifier,
    *,
    eku_critical: bool,
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """A new P-256 key and a two-year certificate of the development CA for one extended key usage."""
    key = ec.generate_private_key(ec.SECP256R1())
    start = _validity_start()
    certificate = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(min(start + dt.timedelta(days=730), ca.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,  # nonRepudiation
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([purpose]), critical=eku_critical)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(
                ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
            ),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    return key, certificate
