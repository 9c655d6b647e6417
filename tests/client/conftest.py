"""The platform under Daphne for the tests that run the installed ``etender`` against it."""

from __future__ import annotations

import base64
import datetime as dt
import os
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from channels.testing.live import make_application
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.test import override_settings

from tests.client.fakes import make_ca
from tests.fixtures.live_platform import PlatformServerProcess, reset_platform_caches

PART_SIZE = 5 * 1024 * 1024


@dataclass(frozen=True)
class KeyCa:
    """The trading centre's CA (CA数字证书) of these tests: its key is the test's, nobody's on the platform."""

    key: ec.EllipticCurvePrivateKey
    certificate: x509.Certificate
    path: Path

    def issue(self, request: x509.CertificateSigningRequest) -> x509.Certificate:
        """What the CA does with a custodian's request, once it has checked who the person is."""
        now = dt.datetime.now(dt.UTC)
        return (
            x509.CertificateBuilder()
            .subject_name(request.subject)
            .issuer_name(self.certificate.subject)
            .public_key(request.public_key())  # type: ignore[arg-type]
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1))
            .not_valid_after(now + dt.timedelta(days=365))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(self.key, hashes.SHA256())
        )


@pytest.fixture(scope="module")
def key_ca(tmp_path_factory: pytest.TempPathFactory) -> KeyCa:
    key, certificate = make_ca("赣州市数字证书认证中心 (test)")
    path = tmp_path_factory.mktemp("key-ca") / "key-ca.pem"
    path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return KeyCa(key, certificate, path)


@pytest.fixture(scope="module")
def platform_url(
    django_db_setup: Any, django_db_blocker: Any, tmp_path_factory: pytest.TempPathFactory, key_ca: KeyCa
) -> Iterator[str]:
    """The platform under Daphne on 127.0.0.1, sharing the test database; its settings are fixed before the fork.

    It takes key certificates from ``key_ca`` (as a platform configured with the trading centre's CA)
    and, as in every test setting, from its own demo key CA.
    """

    folder = tmp_path_factory.mktemp("client-platform")
    # A data key in a file, not the development one under the PKI folder, which each test moves to its own:
    # this process then opens what the server sealed (keys released at the opening), as a worker would.
    data_key = folder / "data.key"
    data_key.write_bytes(base64.b64encode(os.urandom(32)) + b"\n")
    data_key.chmod(0o600)
    overrides = override_settings(
        S3_ENDPOINT="",
        OBJECT_STORE_ROOT=folder / "objects",
        DEVELOPMENT_PKI_DIR=folder / "pki",
        PLATFORM_DATA_KEY_FILE=str(data_key),
        KEY_CA_CERTIFICATES_FILE=str(key_ca.path),
        DEMO_KEY_CA_DIR=folder / "demo-ca",
        BID_PART_SIZE=PART_SIZE,
    )
    overrides.enable()

    reset = reset_platform_caches
    reset()
    server = PlatformServerProcess("127.0.0.1", partial(make_application, static_wrapper=None))
    try:
        with django_db_blocker.unblock():
            server.start()
            while not server.ready.wait(timeout=1):
                if not server.is_alive():
                    raise RuntimeError("the Daphne process stopped before it was ready")
        yield f"http://127.0.0.1:{server.port.value}"
    finally:
        server.terminate()
        server.join()
        overrides.disable()
        reset()
