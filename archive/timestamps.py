"""RFC 3161 time-stamps for the platform's records: receipts and ledger checkpoints.

``timestamp(data)`` returns the DER bytes of a time-stamp token over
SHA-256(data), checked before it is handed out. Where it comes from:

- ``TIMESTAMP_AUTHORITY_URL`` set (production): that TSA, through pyHanko's
  ``HTTPTimeStamper`` (RFC 3161 over HTTP, ``application/timestamp-query``);
  its tokens are checked against ``TIMESTAMP_AUTHORITY_CERTIFICATE_FILE``.
- unset (the embedded default, development and tests): an in-process
  development TSA (``DevelopmentTimeStamper``; ``.pyhanko_timestamper()`` hands
  it to pyHanko, e.g. for PAdES document time-stamps). Its P-256 key and certificate (critical extendedKeyUsage
  timeStamping) are issued once by the development CA of ``archive.signing``
  and kept beside it under ``DEVELOPMENT_PKI_DIR`` as ``tsa.key.pem`` /
  ``tsa.cert.pem``. The time it writes is the platform clock's
  (``config.clock.now()``), so tests that move time move it too.
  ``etender.E009`` refuses it in production.

Checking a token needs no Django: ``archive.tsp.verify_timestamp``, re-exported
here. docs/receipts.md §3 describes the token and what the checks prove.

pyHanko is imported only when a real TSA is configured (or an adapter is asked
for): it costs a third of a second, and every process imports this module.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import secrets
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NewType, TypeVar

from asn1crypto import cms
from asn1crypto import tsp as asn1_tsp
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.dispatch import receiver
from django.test.signals import setting_changed

from archive import signing
from archive.tsp import DEVELOPMENT_POLICY, TimestampError, respond, verify_timestamp
from archive.verify.pdf import run_to_end
from config import clock

__all__ = [
    "DevelopmentTimeStamper",
    "TimestampAuthorityError",
    "TimestampError",
    "TimestampToken",
    "development_tsa",
    "reset_timestamp_caches",
    "time_stamper",
    "timestamp",
    "trusted_tsa_certificates",
    "verify_timestamp",
]

# The DER bytes of an RFC 3161 TimeStampToken (CMS ContentInfo, SignedData over a TSTInfo).
TimestampToken = NewType("TimestampToken", bytes)

DEVELOPMENT_TSA_NAME = "eTender Time-Stamping Authority (development)"
DEVELOPMENT_TSA_STEM = "tsa"  # tsa.key.pem, tsa.cert.pem under DEVELOPMENT_PKI_DIR

_SETTINGS = {
    "TIMESTAMP_AUTHORITY_URL",
    "TIMESTAMP_AUTHORITY_CERTIFICATE_FILE",
    "TIMESTAMP_AUTHORITY_TIMEOUT_SECONDS",
    "DEVELOPMENT_PKI_DIR",
}

T = TypeVar("T")


class TimestampAuthorityError(Exception):
    """No good time-stamp could be had: the TSA is unreachable, refused, or sent a token that does not verify."""


class DevelopmentTimeStamper:
    """A time-stamping authority in the process: answers requests with ``archive.tsp.respond``.

    Synchronous, so the platform needs no event loop for it. ``now`` gives the
    time written into tokens (the platform clock by default).
    """

    def __init__(
        self,
        key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey,
        certificate: x509.Certificate,
        *,
        now: Callable[[], dt.datetime] = clock.now,
        extra_certificates: Sequence[x509.Certificate] = (),
    ) -> None:
        self.key = key
        self.certificate = certificate
        self.now = now
        self.extra_certificates = list(extra_certificates)

    def request_tsa_response(self, req: asn1_tsp.TimeStampReq) -> asn1_tsp.TimeStampResp:
        """The TSA's answer to a request, as a TSA's HTTP endpoint would give it."""
        return respond(
            req,
            key=self.key,
            certificate=self.certificate,
            gen_time=self.now(),
            serial_number=x509.random_serial_number(),
            policy=DEVELOPMENT_POLICY,
            extra_certificates=self.extra_certificates,
        )

    def timestamp_digest(self, message_digest: bytes, md_algorithm: str = "sha256") -> cms.ContentInfo:
        """The token over ``message_digest``: a request with a nonce and certReq, the answer checked."""
        nonce = secrets.randbits(63) | 1 << 62  # positive, 8 bytes, like pyHanko's
        request = asn1_tsp.TimeStampReq(
            {
                "version": 1,
                "message_imprint": {"hash_algorithm": {"algorithm": md_algorithm}, "hashed_message": message_digest},
                "nonce": nonce,
                "cert_req": True,
            }
        )
        response = self.request_tsa_response(request)
        status = response["status"]
        if status["status"].native != "granted":
            texts = "; ".join(status["status_string"].native or [])
            raise TimestampAuthorityError(f"the development TSA refused the request: {texts}")
        token = response["time_stamp_token"]
        if token["content"]["encap_content_info"]["content"].parsed["nonce"].native != nonce:
            raise TimestampAuthorityError("the development TSA answered with another nonce")
        return token

    def pyhanko_timestamper(self) -> Any:
        """This TSA as a pyHanko ``TimeStamper`` (pyHanko's async API, PAdES document time-stamps)."""
        from pyhanko.sign.timestamps import TimeStamper

        tsa = self

        class InProcessTimeStamper(TimeStamper):
            async def async_request_tsa_response(self, req: asn1_tsp.TimeStampReq) -> asn1_tsp.TimeStampResp:
                return tsa.request_tsa_response(req)

        return InProcessTimeStamper()


# --- What the platform uses ------------------------------------------------------


def timestamp(data: bytes) -> TimestampToken:
    """An RFC 3161 token over SHA-256(``data``) from the configured TSA, checked before it is returned.

    Raises ``TimestampAuthorityError`` when the TSA cannot be reached, refuses,
    or answers with a token that does not verify against the trusted TSA
    certificates (a misconfigured or impostor TSA is caught here, not by the
    first person who checks a receipt).
    """
    stamper = time_stamper()
    message_digest = hashlib.sha256(data).digest()
    try:
        if isinstance(stamper, DevelopmentTimeStamper):
            token = stamper.timestamp_digest(message_digest)
        else:
            token = run_to_end(stamper.async_timestamp(message_digest, "sha256"))
        der = bytes(token.dump())
    except TimestampAuthorityError:
        raise
    except (OSError, ValueError, TypeError, KeyError) as exc:  # pyHanko's TimestampRequestError is an OSError
        raise TimestampAuthorityError(f"the time-stamp authority {_tsa_label()} gave no time-stamp: {exc}") from exc
    try:
        verify_timestamp(der, data, trusted_tsa_certificates())
    except TimestampError as exc:
        raise TimestampAuthorityError(
            f"the time-stamp authority {_tsa_label()} answered with a token that does not verify: {exc}"
        ) from exc
    return TimestampToken(der)


@functools.cache
def time_stamper() -> Any:
    """pyHanko's ``HTTPTimeStamper`` for ``TIMESTAMP_AUTHORITY_URL``, or the development TSA when it is empty."""
    if settings.TIMESTAMP_AUTHORITY_URL:
        from pyhanko.sign.timestamps import HTTPTimeStamper

        return HTTPTimeStamper(settings.TIMESTAMP_AUTHORITY_URL, timeout=settings.TIMESTAMP_AUTHORITY_TIMEOUT_SECONDS)
    key, certificate, _ca = development_tsa()
    return DevelopmentTimeStamper(key, certificate)


@functools.cache
def _trusted_tsa_certificates() -> tuple[x509.Certificate, ...]:
    if settings.TIMESTAMP_AUTHORITY_URL:
        path = settings.TIMESTAMP_AUTHORITY_CERTIFICATE_FILE
        try:
            return tuple(x509.load_pem_x509_certificates(Path(path).read_bytes()))
        except OSError as exc:
            raise ImproperlyConfigured(
                f"TIMESTAMP_AUTHORITY_CERTIFICATE_FILE ({path}) cannot be read: {exc.strerror or exc}"
            ) from exc
        except ValueError as exc:
            raise ImproperlyConfigured(
                f"TIMESTAMP_AUTHORITY_CERTIFICATE_FILE ({path}) holds no PEM certificate: {exc}"
            ) from exc
    _key, _certificate, ca = development_tsa()
    return (ca,)


def trusted_tsa_certificates() -> list[x509.Certificate]:
    """What time-stamp tokens must chain to: the configured TSA certificate(s), or the development CA."""
    return list(_trusted_tsa_certificates())


def development_tsa(
    directory: Path | None = None,
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate, x509.Certificate]:
    """The development TSA's key, certificate and the CA that issued it (generated once)."""
    return signing.development_identity(DEVELOPMENT_TSA_STEM, _issue_tsa_certificate, directory)


def reset_timestamp_caches() -> None:
    """Forget the loaded TSA client and trusted certificates (tests that change the settings)."""
    time_stamper.cache_clear()
    _trusted_tsa_certificates.cache_clear()


@receiver(setting_changed)
def _reset_on_setting_changed(setting: str, **kwargs: Any) -> None:
    if setting in _SETTINGS:
        reset_timestamp_caches()


def _tsa_label() -> str:
    return settings.TIMESTAMP_AUTHORITY_URL or "(development, in-process)"


def _issue_tsa_certificate(
    ca_key: ec.EllipticCurvePrivateKey, ca: x509.Certificate
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """A P-256 time-stamping certificate of the development CA (RFC 3161 §2.3: critical EKU timeStamping only)."""
    return signing.issue_development_leaf(
        ca_key, ca, DEVELOPMENT_TSA_NAME, ExtendedKeyUsageOID.TIME_STAMPING, eku_critical=True
    )
