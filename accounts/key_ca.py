"""The key CAs the platform is configured with, and the development demo CA.

``KEY_CA_CERTIFICATES_FILE`` names the trading centre's CA certificates (PEM), the
ones that certify users' keys (CA数字证书). They are NOT the platform's signer
(``archive.signing``): a platform that could certify keys could vouch for keys of
its own. The server uses them to check a certificate uploaded for a key; clients
never take trust from the server (docs/custody.md §B).

In development and test (``DEMO_KEY_CA_ENABLED``) a demo CA with its own key lives
in ``DEMO_KEY_CA_DIR`` (``var/demo-ca/``, apart from ``var/pki/``) and certifies
every key at registration, so that the whole flow runs without a real CA. The
production system check etender.E020 refuses it.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from accounts.key_certificates import key_subject, load_anchors, new_self_signed_ca
from accounts.models import User
from config import clock
from config.private_files import locked_folder, write_private

DEMO_CA_NAME = "eTender Demo Key CA (development only)"
DEMO_CA_KEY_FILE = "demo-ca.key.pem"
DEMO_CA_CERTIFICATE_FILE = "demo-ca.cert.pem"
KEY_CERTIFICATE_DAYS = 730


def configured_anchors() -> list[x509.Certificate]:
    """The CA certificates of ``KEY_CA_CERTIFICATES_FILE`` (none if unset)."""
    path = settings.KEY_CA_CERTIFICATES_FILE
    if not path:
        return []
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ImproperlyConfigured(f"KEY_CA_CERTIFICATES_FILE ({path}) cannot be read: {exc.strerror or exc}") from exc
    anchors = load_anchors(data)
    if not anchors:
        raise ImproperlyConfigured(f"KEY_CA_CERTIFICATES_FILE ({path}) holds no PEM certificate.")
    return anchors


def trusted_anchors() -> list[x509.Certificate]:
    """What the server checks an uploaded key certificate against: the configured CAs, and the demo CA when on."""
    anchors = configured_anchors()
    if settings.DEMO_KEY_CA_ENABLED:
        anchors.append(demo_ca()[1])
    return anchors


# --- The demo CA (development and test only) -------------------------------------------


def demo_ca(directory: Path | None = None) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """The demo key CA's key and certificate, made once under its folder's lock."""
    directory = Path(settings.DEMO_KEY_CA_DIR) if directory is None else directory
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    key_path, certificate_path = directory / DEMO_CA_KEY_FILE, directory / DEMO_CA_CERTIFICATE_FILE
    with locked_folder(directory):
        if not (key_path.exists() and certificate_path.exists()):
            key, certificate = _new_demo_ca()
            write_private(
                key_path,
                key.private_bytes(
                    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
                ),
            )
            write_private(certificate_path, certificate.public_bytes(serialization.Encoding.PEM))
        try:
            loaded = serialization.load_pem_private_key(key_path.read_bytes(), None)
            certificate = x509.load_pem_x509_certificate(certificate_path.read_bytes())
        except (OSError, ValueError) as exc:
            raise ImproperlyConfigured(
                f"The demo key CA in {directory} is unreadable ({exc}); delete it to regenerate."
            ) from exc
    if not isinstance(loaded, ec.EllipticCurvePrivateKey):
        raise ImproperlyConfigured(f"The demo key CA in {directory} has no EC key; delete it to regenerate.")
    return loaded, certificate


def demo_ca_certificate_pem(directory: Path | None = None) -> bytes:
    return demo_ca(directory)[1].public_bytes(serialization.Encoding.PEM)


def subject_for(user: User) -> x509.Name:
    """CN = the person's name, serialNumber = the platform username, O = the organization when there is one."""
    return key_subject(user.username, str(user), user.organization.name if user.organization is not None else "")


def issue_demo_certificate(user: User, spki_der: bytes, *, days: int = KEY_CERTIFICATE_DAYS) -> x509.Certificate:
    """A demo CA certificate for one key of ``user`` (valid from an hour ago, as the development PKI's)."""
    ca_key, ca = demo_ca()
    public_key = serialization.load_der_public_key(bytes(spki_der))
    if not isinstance(public_key, ec.EllipticCurvePublicKey):
        raise ValueError("only P-256 keys are certified")
    start = clock.now().replace(microsecond=0) - dt.timedelta(hours=1)
    return (
        x509.CertificateBuilder()
        .subject_name(subject_for(user))
        .issuer_name(ca.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(min(start + dt.timedelta(days=days), ca.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(
                ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
            ),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )


def _new_demo_ca() -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "eTender demo (not a real CA)"),
            x509.NameAttribute(NameOID.COMMON_NAME, DEMO_CA_NAME),
        ]
    )
    start = clock.now().replace(microsecond=0) - dt.timedelta(hours=1)
    return new_self_signed_ca(name, start)
