"""System checks that refuse an unsafe production configuration.

Ids are stable (they are named in docs/operations.md and in tests):

- etender.E001  embedded SQLite database in production
- etender.E002  default or short secret key in production
- etender.E003  DEBUG on in production
- etender.E004  in-memory channel layer in production
- etender.E005  filesystem object store in production
- etender.E006  clock offset in production
- etender.E007  development PKI in production
- etender.E008  the configured platform key or certificate cannot be used (any environment)
- etender.E009  development time-stamping authority in production
- etender.E010  generated development data key in production, or a configured data key that cannot be used
- etender.E011  a key, certificate or data key file under the development PKI folder, the var folder, the
                object store's folder or the SQLite database's folder, in production
- etender.E012  the object store's default credentials (minioadmin) in production, over plain HTTP or not
- etender.E013  demo users (load_demo) with their printed passwords in the production database
- etender.E014  the demo's private keys (var/demo-keys) on a production machine
- etender.E020  the demo key CA (DEMO_KEY_CA_ENABLED) in production
- etender.E021  a KEY_CA_CERTIFICATES_FILE holding the platform's own CA or signing certificate, the
                development PKI's or the demo key CA's (any environment)
- etender.E022  a KEY_CA_CERTIFICATES_FILE that cannot be read or holds no certificate (any environment)
- etender.E015  closed cases' dossiers kept under GOVERNANCE retention (liftable) in production
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.checks import Error, Tags, register


@register(Tags.security, deploy=False)
def production_configuration(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    if settings.ETENDER_ENV != "production":
        return []
    errors: list[Error] = []
    if settings.DATABASES["default"]["ENGINE"].endswith("sqlite3"):
        errors.append(
            Error(
                "The embedded SQLite database cannot run production.",
                hint="Set DATABASE_URL to a PostgreSQL database.",
                id="etender.E001",
            )
        )
    if settings.SECRET_KEY == settings.DEVELOPMENT_SECRET_KEY or len(settings.SECRET_KEY) < 50:
        errors.append(
            Error(
                "SECRET_KEY is the development default or shorter than 50 characters.",
                hint="Set SECRET_KEY (or SECRET_KEY_FILE) to a long random value.",
                id="etender.E002",
            )
        )
    if settings.DEBUG:
        errors.append(Error("DEBUG is on.", hint="Unset DEBUG or set DEBUG=0.", id="etender.E003"))
    if str(settings.CHANNEL_LAYERS["default"]["BACKEND"]).endswith("InMemoryChannelLayer"):
        errors.append(
            Error(
                "The in-memory channel layer cannot serve more than one process.",
                hint="Set REDIS_URL.",
                id="etender.E004",
            )
        )
    if not settings.S3_ENDPOINT:
        errors.append(
            Error(
                "The filesystem object store has no object lock enforced by a server.",
                hint="Set S3_ENDPOINT, S3_ACCESS_KEY, S3_SECRET_KEY and S3_BUCKET.",
                id="etender.E005",
            )
        )
    if settings.CLOCK_OFFSET_SECONDS:
        errors.append(
            Error(
                "ETENDER_CLOCK_OFFSET_SECONDS moves the platform clock.",
                hint="Unset it: only demos and tests may move time.",
                id="etender.E006",
            )
        )
    if settings.DOSSIER_RETENTION_MODE != "COMPLIANCE":
        errors.append(
            Error(
                "Closed cases' dossiers would be kept under GOVERNANCE retention, which the operator can lift.",
                hint="Unset DOSSIER_RETENTION_MODE (COMPLIANCE is the production default).",
                id="etender.E015",
            )
        )
    if not (settings.PLATFORM_SIGNING_KEY_FILE and settings.PLATFORM_CERTIFICATE_FILE):
        errors.append(
            Error(
                "The platform would sign with a generated development key.",
                hint="Set PLATFORM_SIGNING_KEY_FILE and PLATFORM_CERTIFICATE_FILE.",
                id="etender.E007",
            )
        )
    return errors


@register(Tags.security)
def platform_signing_identity(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    """Configured key and certificate files must load and match, at start-up rather than at first signature."""
    if not (settings.PLATFORM_SIGNING_KEY_FILE or settings.PLATFORM_CERTIFICATE_FILE):
        return []
    from django.core.exceptions import ImproperlyConfigured

    from archive.signing import platform_signer, reset_platform_signer_cache

    reset_platform_signer_cache()
    try:
        platform_signer()
    except ImproperlyConfigured as exc:
        return [
            Error(
                f"The platform signing identity cannot be used: {exc}",
                hint="Check PLATFORM_SIGNING_KEY_FILE, PLATFORM_CERTIFICATE_FILE and PLATFORM_CA_CERTIFICATE_FILE.",
                id="etender.E008",
            )
        ]
    return []


@register(Tags.security, deploy=False)
def timestamp_authority(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    """Production time-stamps come from a real TSA, not from the in-process development one."""
    if settings.ETENDER_ENV != "production" or settings.TIMESTAMP_AUTHORITY_URL:
        return []
    return [
        Error(
            "Receipts and checkpoints would be time-stamped by the in-process development authority.",
            hint="Set TIMESTAMP_AUTHORITY_URL and TIMESTAMP_AUTHORITY_CERTIFICATE_FILE.",
            id="etender.E009",
        )
    ]


@register(Tags.security)
def platform_data_key(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    """Production seals opened-bid secrets under its own data key; configured keys (current and retired) must load."""
    if settings.ETENDER_ENV == "production" and not settings.PLATFORM_DATA_KEY_FILE:
        return [
            Error(
                "Opened bids' keys would be sealed under a generated development data key.",
                hint=(
                    "Set PLATFORM_DATA_KEY_FILE to a file holding 32 random bytes in base64 (openssl rand -base64 32)."
                ),
                id="etender.E010",
            )
        ]
    if not (settings.PLATFORM_DATA_KEY_FILE or settings.PLATFORM_DATA_KEY_RETIRED_FILES):
        return []
    from django.core.exceptions import ImproperlyConfigured

    from archive.vault import data_key, reset_data_key_cache

    reset_data_key_cache()
    try:
        data_key()
    except ImproperlyConfigured as exc:
        return [
            Error(
                f"The platform data key cannot be used: {exc}",
                hint="Check PLATFORM_DATA_KEY_FILE and PLATFORM_DATA_KEY_RETIRED_FILES.",
                id="etender.E010",
            )
        ]
    return []


# Settings naming files that hold the platform's keys, certificates or data keys.
KEY_FILE_SETTINGS = (
    "PLATFORM_SIGNING_KEY_FILE",
    "PLATFORM_CERTIFICATE_FILE",
    "PLATFORM_CA_CERTIFICATE_FILE",
    "PLATFORM_DATA_KEY_FILE",
    "TIMESTAMP_AUTHORITY_CERTIFICATE_FILE",
)
# The object store's out-of-the-box credentials (MinIO's root user and password).
DEFAULT_S3_CREDENTIALS = frozenset({"minioadmin"})
DEMO_KEYS_FOLDER = "demo-keys"


def _configured_key_files() -> list[tuple[str, Path]]:
    files = [(name, Path(value)) for name in KEY_FILE_SETTINGS if (value := getattr(settings, name, ""))]
    files += [("PLATFORM_DATA_KEY_RETIRED_FILES", Path(value)) for value in settings.PLATFORM_DATA_KEY_RETIRED_FILES]
    return files


def _folders_beside_the_data() -> list[tuple[str, Path]]:
    """Where a key must not lie: what a backup of the database or of the object store, or the var folder, carries."""
    folders = [
        ("the development PKI folder (DEVELOPMENT_PKI_DIR)", Path(settings.DEVELOPMENT_PKI_DIR)),
        ("the var folder (ETENDER_VAR_DIR)", Path(settings.VAR_DIR)),
        ("the filesystem object store (OBJECT_STORE_ROOT)", Path(settings.OBJECT_STORE_ROOT)),
    ]
    database = settings.DATABASES["default"]
    if database["ENGINE"].endswith("sqlite3") and str(database.get("NAME", "")) not in {"", ":memory:"}:
        folders.append(("the SQLite database's folder", Path(database["NAME"]).parent))
    return folders


def _is_within(path: Path, folder: Path) -> bool:
    return path.resolve().is_relative_to(folder.resolve())


@register(Tags.security, deploy=False)
def key_files_apart_from_the_data(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    """A key beside the data it protects ends up in the same backup: the backup alone would open the bids' secrets."""
    if settings.ETENDER_ENV != "production":
        return []
    errors = []
    for name, path in _configured_key_files():
        for label, folder in _folders_beside_the_data():
            if _is_within(path, folder):
                errors.append(
                    Error(
                        f"{name}={path} lies under {label}.",
                        hint=(
                            "Keep keys and certificates in a secrets folder of their own (/run/secrets), "
                            "outside the database's and the object store's backups."
                        ),
                        id="etender.E011",
                    )
                )
                break
    return errors


@register(Tags.security, deploy=False)
def object_store_credentials(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    """MinIO's out-of-the-box root credentials are public; over S3_SECURE=0 they also travel in the clear."""
    if settings.ETENDER_ENV != "production" or not settings.S3_ENDPOINT:
        return []
    if settings.S3_ACCESS_KEY in DEFAULT_S3_CREDENTIALS or settings.S3_SECRET_KEY in DEFAULT_S3_CREDENTIALS:
        transport = "over plain HTTP (S3_SECURE=0)" if not settings.S3_SECURE else "over TLS"
        return [
            Error(
                f"The object store is reached with its default credentials (minioadmin), {transport}.",
                hint=(
                    "Give the platform a user of its own with a random secret (deploy/minio-init.sh does) "
                    "and set S3_ACCESS_KEY_FILE and S3_SECRET_KEY_FILE."
                ),
                id="etender.E012",
            )
        ]
    return []


@register(Tags.database, Tags.security)
def no_demo_users(app_configs: Any = None, databases: Any = None, **kwargs: Any) -> list[Error]:
    """The demo's users sign in with passwords printed by `make run`.

    A database check: it reads the database only where Django names one (``migrate``,
    which the release step runs, and ``check --database default``), never in a bare ``check``.
    """
    if settings.ETENDER_ENV != "production" or not databases or "default" not in databases:
        return []
    demo_users = _demo_users_with_their_passwords()
    if demo_users:
        return [
            Error(
                f"The database holds demo users with their printed passwords: {', '.join(demo_users)}.",
                hint=(
                    "This database was loaded with `manage.py load_demo`: "
                    "deactivate or delete these users (or start from an empty database)."
                ),
                id="etender.E013",
            )
        ]
    return []


@register(Tags.security, deploy=False)
def no_demo_keys(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    """load_demo wrote the demo's private keys to var/demo-keys."""
    if settings.ETENDER_ENV != "production":
        return []
    keys = Path(settings.VAR_DIR) / DEMO_KEYS_FOLDER
    if keys.exists():
        return [
            Error(
                f"The demo's private keys are on this machine: {keys}.",
                hint="Delete the folder: load_demo wrote it for development.",
                id="etender.E014",
            )
        ]
    return []


def _demo_users_with_their_passwords() -> list[str]:
    """Demo usernames that still sign in with the demo's password (a database not yet migrated has none)."""
    from django.contrib.auth import get_user_model
    from django.db import DatabaseError

    from frontend.demo import USERS, demo_password

    try:
        users = list(get_user_model().objects.filter(username__in=[u.username for u in USERS], is_active=True))
    except DatabaseError:
        return []
    return sorted(user.username for user in users if user.check_password(demo_password(user.username)))


@register(Tags.security, deploy=False)
def demo_key_ca(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    """The demo key CA certifies every key registered: in production it would vouch for the operator's keys."""
    if settings.ETENDER_ENV == "production" and settings.DEMO_KEY_CA_ENABLED:
        return [
            Error(
                "The demo key CA certifies every key at registration.",
                hint=(
                    "Unset DEMO_KEY_CA_ENABLED (or set it to 0) "
                    "and name the trading centre's CA in KEY_CA_CERTIFICATES_FILE."
                ),
                id="etender.E020",
            )
        ]
    return []


@register(Tags.security)
def key_ca_certificates(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    """The key CAs certify people's keys: never the platform's own signer, the development PKI or the demo CA.

    A platform that could certify keys could vouch for keys of its own, which is the
    swap custody confirmations exist to stop (docs/custody.md). Compared by public key,
    so a certificate re-issued for the same key is refused too.
    """
    if not settings.KEY_CA_CERTIFICATES_FILE:
        return []
    from django.core.exceptions import ImproperlyConfigured

    from accounts.key_ca import configured_anchors
    from accounts.key_certificates import spki_of

    try:
        anchors = configured_anchors()
    except ImproperlyConfigured as exc:
        return [
            Error(
                str(exc),
                hint="KEY_CA_CERTIFICATES_FILE names a PEM file of the trading centre's CA certificates.",
                id="etender.E022",
            )
        ]
    forbidden = {spki_of(certificate): label for label, certificate in _platform_certificates()}
    errors = []
    for anchor in anchors:
        label = forbidden.get(spki_of(anchor))
        if label is not None:
            errors.append(
                Error(
                    f"KEY_CA_CERTIFICATES_FILE holds {label} ({anchor.subject.rfc4514_string()}).",
                    hint=(
                        "Name only the trading centre's CA (CA数字证书) there: "
                        "the platform must never be able to certify keys."
                    ),
                    id="etender.E021",
                )
            )
    return errors


def _platform_certificates() -> list[tuple[str, Any]]:
    """The platform's own certificates (configured files), the development PKI's
    and the demo key CA's, where present.
    """
    from cryptography import x509

    from accounts.key_ca import DEMO_CA_CERTIFICATE_FILE

    found: list[tuple[str, Any]] = []

    def read(label: str, path: Path) -> None:
        # Absent or broken: E008 and the PKI's own checks speak for these files.
        with contextlib.suppress(OSError, ValueError):
            found.extend((label, c) for c in x509.load_pem_x509_certificates(path.read_bytes()))

    for setting in ("PLATFORM_CERTIFICATE_FILE", "PLATFORM_CA_CERTIFICATE_FILE"):
        if getattr(settings, setting, ""):
            read(f"a certificate of {setting}", Path(getattr(settings, setting)))
    development = Path(settings.DEVELOPMENT_PKI_DIR)
    if development.is_dir():
        for path in sorted(development.glob("*.cert.pem")):
            read(f"the development PKI's {path.name}", path)
    read("the demo key CA's certificate", Path(settings.DEMO_KEY_CA_DIR) / DEMO_CA_CERTIFICATE_FILE)
    return found
