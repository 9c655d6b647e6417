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
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, Tags, register


@register(Tags.security, deploy=False)
def production_configuration(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    if settings.ETENDER_ENV != "production":
        return []
    errors: list[Error] = []
    if settings.DATABASES["default"]["ENGINE"].endswith("sqlite3"):
        errors.append(Error("The embedded SQLite database cannot run production.", hint="Set DATABASE_URL to a PostgreSQL database.", id="etender.E001"))
    if settings.SECRET_KEY == settings.DEVELOPMENT_SECRET_KEY or len(settings.SECRET_KEY) < 50:
        errors.append(Error("SECRET_KEY is the development default or shorter than 50 characters.", hint="Set SECRET_KEY (or SECRET_KEY_FILE) to a long random value.", id="etender.E002"))
    if settings.DEBUG:
        errors.append(Error("DEBUG is on.", hint="Unset DEBUG or set DEBUG=0.", id="etender.E003"))
    if str(settings.CHANNEL_LAYERS["default"]["BACKEND"]).endswith("InMemoryChannelLayer"):
        errors.append(Error("The in-memory channel layer cannot serve more than one process.", hint="Set REDIS_URL.", id="etender.E004"))
    if not settings.S3_ENDPOINT:
        errors.append(Error("The filesystem object store has no object lock enforced by a server.", hint="Set S3_ENDPOINT, S3_ACCESS_KEY, S3_SECRET_KEY and S3_BUCKET.", id="etender.E005"))
    if settings.CLOCK_OFFSET_SECONDS:
        errors.append(Error("ETENDER_CLOCK_OFFSET_SECONDS moves the platform clock.", hint="Unset it: only demos and tests may move time.", id="etender.E006"))
    if not (settings.PLATFORM_SIGNING_KEY_FILE and settings.PLATFORM_CERTIFICATE_FILE):
        errors.append(Error("The platform would sign with a generated development key.", hint="Set PLATFORM_SIGNING_KEY_FILE and PLATFORM_CERTIFICATE_FILE.", id="etender.E007"))
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
        return [Error(f"The platform signing identity cannot be used: {exc}", hint="Check PLATFORM_SIGNING_KEY_FILE, PLATFORM_CERTIFICATE_FILE and PLATFORM_CA_CERTIFICATE_FILE.", id="etender.E008")]
    return []


@register(Tags.security, deploy=False)
def timestamp_authority(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    """Production time-stamps come from a real TSA, not from the in-process development one."""
    if settings.ETENDER_ENV != "production" or settings.TIMESTAMP_AUTHORITY_URL:
        return []
    return [Error("Receipts and checkpoints would be time-stamped by the in-process development authority.", hint="Set TIMESTAMP_AUTHORITY_URL and TIMESTAMP_AUTHORITY_CERTIFICATE_FILE.", id="etender.E009")]


@register(Tags.security)
def platform_data_key(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    """Production seals opened-bid secrets under its own data key; a configured key must load."""
    if settings.ETENDER_ENV == "production" and not settings.PLATFORM_DATA_KEY_FILE:
        return [Error("Opened bids' keys would be sealed under a generated development data key.", hint="Set PLATFORM_DATA_KEY_FILE to a file holding 32 random bytes in base64 (openssl rand -base64 32).", id="etender.E010")]
    if not settings.PLATFORM_DATA_KEY_FILE:
        return []
    from django.core.exceptions import ImproperlyConfigured

    from archive.vault import data_key, reset_data_key_cache

    reset_data_key_cache()
    try:
        data_key()
    except ImproperlyConfigured as exc:
        return [Error(f"The platform data key cannot be used: {exc}", hint="Check PLATFORM_DATA_KEY_FILE.", id="etender.E010")]
    return []
