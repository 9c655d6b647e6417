"""RFC 3161 time-stamps: the development TSA, a production TSA over HTTP, and the token checks."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import os
import shutil
import socket
import stat
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from asn1crypto import algos, cms, tsp
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from django.core.checks import Tags, run_checks
from django.core.exceptions import ImproperlyConfigured
from pyhanko.sign.timestamps import HTTPTimeStamper, TimeStamper, TimestampRequestError
from pyhanko.sign.timestamps.common_utils import handle_tsp_response

from archive import signing, timestamps
from archive.receipts import issue_receipt, verify_receipt
from archive.timestamps import DevelopmentTimeStamper, TimestampAuthorityError
from archive.tsp import DEVELOPMENT_POLICY, TimestampError, respond, verify_timestamp
from config import clock
from config.checks import timestamp_authority
from tests.receipts import pki
from tests.receipts.conftest import SUBJECT
from tests.receipts.tsa_server import tsa_server

REPO = Path(__file__).resolve().parents[2]
SERVER_TIME = dt.datetime(2026, 3, 2, 1, 0, 42, tzinfo=dt.UTC)


def token_for(stamper: DevelopmentTimeStamper, data: bytes) -> bytes:
    return bytes(stamper.timestamp_digest(hashlib.sha256(data).digest()).dump())


def tst_info(token: bytes) -> Any:
    return cms.ContentInfo.load(token)["content"]["encap_content_info"]["content"].parsed


@pytest.fixture
def production_tsa(settings: Any, tmp_path: Path) -> Any:
    """A TSA of its own CA, served over HTTP on 127.0.0.1; the platform configured to use it."""
    key, certificate, ca = pki.make_tsa("County TSA")
    (tmp_path / "tsa-ca.pem").write_bytes(pki.pem(ca))
    with tsa_server(DevelopmentTimeStamper(key, certificate, now=lambda: SERVER_TIME)) as server:
        settings.TIMESTAMP_AUTHORITY_URL = server.url
        settings.TIMESTAMP_AUTHORITY_CERTIFICATE_FILE = str(tmp_path / "tsa-ca.pem")
        server.ca = ca
        yield server


# --- Refusals -------------------------------------------------------------------------------


def test_an_unreachable_tsa_is_reported(settings: Any, tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    _key, _certificate, ca = pki.make_tsa()
    (tmp_path / "tsa-ca.pem").write_bytes(pki.pem(ca))
    settings.TIMESTAMP_AUTHORITY_URL = f"http://127.0.0.1:{port}/tsa"
    settings.TIMESTAMP_AUTHORITY_CERTIFICATE_FILE = str(tmp_path / "tsa-ca.pem")

    with pytest.raises(
        TimestampAuthorityError, match=rf"the time-stamp authority http://127\.0\.0\.1:{port}/tsa gave no time-stamp"
    ):
        timestamps.timestamp(b"data")


def test_a_tsa_whose_tokens_do_not_chain_to_the_configured_certificate_is_refused(
    production_tsa: Any, settings: Any, tmp_path: Path
) -> None:
    _key, other_ca = pki.make_ca("Not the TSA's CA")
    (tmp_path / "other.pem").write_bytes(pki.pem(other_ca))
    settings.TIMESTAMP_AUTHORITY_CERTIFICATE_FILE = str(tmp_path / "other.pem")

    with pytest.raises(
        TimestampAuthorityError, match=r"answered with a token that does not verify: .* not issued by a trusted CA"
    ):
        timestamps.timestamp(b"data")


def test_an_unreadable_tsa_certificate_file_is_refused_naming_the_setting(settings: Any, tmp_path: Path) -> None:
    settings.TIMESTAMP_AUTHORITY_URL = "http://127.0.0.1:9/tsa"
    settings.TIMESTAMP_AUTHORITY_CERTIFICATE_FILE = str(tmp_path / "missing.pem")
    with pytest.raises(
        ImproperlyConfigured, match=r"^TIMESTAMP_AUTHORITY_CERTIFICATE_FILE \(.*missing\.pem\) cannot be read"
    ):
        timestamps.trusted_tsa_certificates()
    (tmp_path / "junk.pem").write_text("junk", encoding="utf-8")
    settings.TIMESTAMP_AUTHORITY_CERTIFICATE_FILE = str(tmp_path / "junk.pem")
    with pytest.raises(ImproperlyConfigured, match="holds no PEM certificate"):
        timestamps.trusted_tsa_certificates()


@pytest.mark.parametrize(
    ("environment", "message"),
    [
        ({"TIMESTAMP_AUTHORITY_URL": "https://tsa.example.org/"}, "TIMESTAMP_AUTHORITY_CERTIFICATE_FILE must name"),
        (
            {"TIMESTAMP_AUTHORITY_URL": "tsa.example.org", "TIMESTAMP_AUTHORITY_CERTIFICATE_FILE": "/x.pem"},
            "TIMESTAMP_AUTHORITY_URL must be an http:// or https:// URL.",
        ),
        ({"TIMESTAMP_AUTHORITY_TIMEOUT_SECONDS": "0"}, "TIMESTAMP_AUTHORITY_TIMEOUT_SECONDS=0 is below the minimum 1."),
    ],
)
def test_settings_refuse_an_incomplete_tsa_configuration_at_start_up(
    tmp_path: Path, environment: dict[str, str], message: str
) -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "HOME": str(tmp_path),
        "ETENDER_VAR_DIR": str(tmp_path / "var"),
        **environment,
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode != 0
    assert message in result.stderr


def test_production_with_the_development_tsa_is_refused(settings: Any) -> None:
    settings.ETENDER_ENV = "production"
    settings.TIMESTAMP_AUTHORITY_URL = ""
    [error] = timestamp_authority()
    assert error.id == "etender.E009"
    assert error.hint == "Set TIMESTAMP_AUTHORITY_URL and TIMESTAMP_AUTHORITY_CERTIFICATE_FILE."
    assert "etender.E009" in [e.id for e in run_checks(tags=[Tags.security])]

    settings.TIMESTAMP_AUTHORITY_URL = "https://tsa.example.org/"
    assert timestamp_authority() == []
    settings.ETENDER_ENV = "test"
    settings.TIMESTAMP_AUTHORITY_URL = ""
    assert timestamp_authority() == []


def test_the_tsa_rejects_a_request_it_cannot_honour() -> None:
    key, certificate, _ca = pki.make_tsa()
    request = tsp.TimeStampReq(
        {
            "version": 1,
            "message_imprint": {
                "hash_algorithm": algos.DigestAlgorithm({"algorithm": "sha1"}),
                "hashed_message": b"x" * 20,
            },
            "cert_req": True,
        }
    )
    response = respond(request, key=key, certificate=certificate, gen_time=SERVER_TIME, serial_number=1)

    assert response["status"]["status"].native == "rejection"
    assert response["status"]["fail_info"].native == {"bad_alg"}
    with pytest.raises(TimestampRequestError, match="refused our request"):
        handle_tsp_response(response, None)


def test_bytes_that_are_not_a_token_are_refused() -> None:
    _key, _certificate, ca = pki.make_tsa()
    with pytest.raises(TimestampError, match="not a well-formed RFC 3161 token"):
        verify_timestamp(b"\x30\x03\x02\x01\x01", b"data", [ca])
    with pytest.raises(TimestampError, match="no trusted certificate was given"):
        verify_timestamp(b"", b"data", [])


def test_a_tsa_certificate_whose_time_stamping_usage_is_not_critical_is_refused() -> None:
    ca_key, ca = pki.make_ca("TSA CA")
    key, certificate = pki.issue(ca_key, ca, "Lax TSA", usages=[ExtendedKeyUsageOID.TIME_STAMPING], critical=False)
    token = token_for(DevelopmentTimeStamper(key, certificate, now=lambda: SERVER_TIME), b"data")

    with pytest.raises(TimestampError, match=r"not a time-stamping certificate \(RFC 3161 §2\.3"):
        verify_timestamp(token, b"data", [ca])


def test_a_token_made_outside_the_tsa_certificates_validity_is_refused() -> None:
    key, certificate, ca = pki.make_tsa(not_after=dt.datetime(2026, 2, 1, tzinfo=dt.UTC))
    token = token_for(DevelopmentTimeStamper(key, certificate, now=lambda: SERVER_TIME), b"data")

    with pytest.raises(TimestampError, match="certificate was not valid at 2026-03-02T01:00:42"):
        verify_timestamp(token, b"data", [ca])


def test_a_token_without_the_tsa_certificate_is_refused_unless_the_certificate_is_trusted() -> None:
    key, certificate, ca = pki.make_tsa()
    stamper = DevelopmentTimeStamper(key, certificate, now=lambda: SERVER_TIME)
    imprint = {"hash_algorithm": {"algorithm": "sha256"}, "hashed_message": hashlib.sha256(b"data").digest()}
    request = tsp.TimeStampReq({"version": 1, "message_imprint": imprint, "cert_req": False})
    token = bytes(stamper.request_tsa_response(request)["time_stamp_token"].dump())

    with pytest.raises(TimestampError, match="neither in the token nor trusted"):
        verify_timestamp(token, b"data", [ca])
    assert verify_timestamp(token, b"data", [certificate]) == SERVER_TIME


# --- The development TSA -----------------------------------------------------------------------


def test_the_development_tsa_is_issued_once_by_the_development_ca(development_pki: Path) -> None:
    _key, certificate, ca = timestamps.development_tsa()
    again = timestamps.development_tsa()

    assert again[1] == certificate
    assert ca == signing.development_ca()[1]
    certificate.verify_directly_issued_by(ca)
    assert certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == (
        "eTender Time-Stamping Authority (development)"
    )
    usage = certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    assert usage.critical
    assert list(usage.value) == [ExtendedKeyUsageOID.TIME_STAMPING]
    assert certificate.extensions.get_extension_for_class(x509.KeyUsage).value.digital_signature
    assert not certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    for name in ("tsa.key.pem", "tsa.cert.pem"):
        assert stat.S_IMODE((development_pki / name).stat().st_mode) == 0o600


def test_processes_starting_together_make_one_development_tsa(development_pki: Path) -> None:
    start = threading.Barrier(5)
    certificates: list[x509.Certificate] = []

    def load() -> None:
        start.wait()
        certificates.append(timestamps.development_tsa(development_pki)[1])

    threads = [threading.Thread(target=load) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(certificates) == 5
    assert len(set(certificates)) == 1


def test_a_new_development_ca_gets_a_new_development_tsa(development_pki: Path) -> None:
    first = timestamps.development_tsa()[1]
    for name in ("ca.key.pem", "ca.cert.pem"):
        (development_pki / name).unlink()
    signing.reset_platform_signer_cache()

    _key, certificate, ca = timestamps.development_tsa()
    assert certificate != first
    certificate.verify_directly_issued_by(ca)


def test_the_development_token_carries_the_platform_clocks_time_and_the_imprint(
    frozen_clock: clock.FrozenClock,
) -> None:
    moment = frozen_clock.advance(hours=3, microseconds=1)
    token = timestamps.timestamp(b"the data")
    info = tst_info(token)

    assert info["gen_time"].native == moment
    assert info["policy"].native == DEVELOPMENT_POLICY
    assert info["message_imprint"]["hash_algorithm"]["algorithm"].native == "sha256"
    assert info["message_imprint"]["hashed_message"].native == hashlib.sha256(b"the data").digest()
    assert info["nonce"].native is not None
    assert verify_timestamp(token, b"the data", timestamps.trusted_tsa_certificates()) == moment


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
@pytest.mark.parametrize("key_type", ["p256", "rsa"])
def test_openssl_accepts_the_development_token(tmp_path: Path, key_type: str) -> None:
    """An independent implementation (OpenSSL's ts -verify) agrees that the token is good, and bad on other data."""
    ca_key, ca = pki.make_ca("TSA CA")
    if key_type == "rsa":
        key: Any = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        certificate = (
            x509.CertificateBuilder()
            .subject_name(pki.name("RSA TSA"))
            .issuer_name(ca.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(pki.START)
            .not_valid_after(pki.START + dt.timedelta(days=900))
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
            .sign(ca_key, hashes.SHA256())
        )
    else:
        key, certificate = pki.issue(ca_key, ca, "P-256 TSA", usages=[ExtendedKeyUsageOID.TIME_STAMPING])
    token = token_for(DevelopmentTimeStamper(key, certificate, now=lambda: SERVER_TIME), b"the data")
    assert verify_timestamp(token, b"the data", [ca]) == SERVER_TIME
    (tmp_path / "token.der").write_bytes(token)
    (tmp_path / "ca.pem").write_bytes(pki.pem(ca))
    (tmp_path / "data").write_bytes(b"the data")
    (tmp_path / "other").write_bytes(b"other data")

    def openssl(data: str) -> subprocess.CompletedProcess[str]:
        command = ["openssl", "ts", "-verify", "-token_in", "-in", "token.der", "-data", data, "-CAfile", "ca.pem"]
        env = {**os.environ, "OPENSSL_CONF": "/dev/null"}
        return subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60, check=False)

    good = openssl("data")
    assert good.returncode == 0 and "Verification: OK" in good.stdout, good.stdout + good.stderr
    assert openssl("other").returncode != 0


def test_the_development_tsa_works_through_pyhankos_async_api() -> None:
    key, certificate, ca = pki.make_tsa()
    stamper = DevelopmentTimeStamper(key, certificate, now=lambda: SERVER_TIME)

    pyhanko_stamper = stamper.pyhanko_timestamper()
    assert isinstance(pyhanko_stamper, TimeStamper)

    token = asyncio.run(pyhanko_stamper.async_timestamp(hashlib.sha256(b"pdf bytes").digest(), "sha256"))
    assert verify_timestamp(bytes(token.dump()), b"pdf bytes", [ca]) == SERVER_TIME


def test_a_tsa_certificate_under_an_intermediate_carried_in_the_token_verifies() -> None:
    root_key, root = pki.make_ca("Root")
    intermediate_key, intermediate = pki.make_ca("Intermediate")
    intermediate = (
        x509.CertificateBuilder()
        .subject_name(intermediate.subject)
        .issuer_name(root.subject)
        .public_key(intermediate_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(pki.START)
        .not_valid_after(pki.START + dt.timedelta(days=900))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(root_key, hashes.SHA256())
    )
    key, certificate = pki.issue(intermediate_key, intermediate, "TSA", usages=[ExtendedKeyUsageOID.TIME_STAMPING])
    with_chain = DevelopmentTimeStamper(key, certificate, now=lambda: SERVER_TIME, extra_certificates=[intermediate])
    without_chain = DevelopmentTimeStamper(key, certificate, now=lambda: SERVER_TIME)

    assert verify_timestamp(token_for(with_chain, b"d"), b"d", [root]) == SERVER_TIME
    with pytest.raises(TimestampError, match="not issued by a trusted CA"):
        verify_timestamp(token_for(without_chain, b"d"), b"d", [root])


# --- A production TSA over HTTP ------------------------------------------------------------------


def test_a_configured_tsa_url_is_asked_over_http_with_pyhankos_client(production_tsa: Any) -> None:
    assert isinstance(timestamps.time_stamper(), HTTPTimeStamper)

    token = timestamps.timestamp(b"receipt signature")

    assert len(production_tsa.requests) == 1
    assert production_tsa.requests[0]["content-type"] == "application/timestamp-query"
    # The time is the TSA's, not the platform clock's.
    assert verify_timestamp(token, b"receipt signature", [production_tsa.ca]) == SERVER_TIME


def test_a_receipt_time_stamped_by_the_configured_tsa_verifies_with_its_ca(
    production_tsa: Any, submitted: Any, tmp_path: Path
) -> None:
    receipt = issue_receipt(submitted, SUBJECT)
    ca = signing.development_ca()[1].public_bytes(serialization.Encoding.PEM)

    result = verify_receipt(receipt, ca, tsa_trusted_pem=pki.pem(production_tsa.ca))
    assert result.ok, result.reason
    assert result.time == SERVER_TIME
    assert not verify_receipt(receipt, ca).ok  # the development CA does not vouch for the county TSA

    (tmp_path / "receipt.json").write_bytes(receipt)
    (tmp_path / "ca.pem").write_bytes(ca)
    (tmp_path / "tsa.pem").write_bytes(pki.pem(production_tsa.ca))
    command = [
        sys.executable,
        "-m",
        "archive.verify",
        "receipt",
        "receipt.json",
        "--ca",
        "ca.pem",
        "--tsa-ca",
        "tsa.pem",
    ]
    env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": str(tmp_path), "PYTHONPATH": str(REPO)}
    cli = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert cli.returncode == 0, cli.stdout + cli.stderr
    assert "time-stamped 2026-03-02T01:00:42.000000Z" in cli.stdout


def test_time_stamping_from_inside_a_running_event_loop_works(production_tsa: Any) -> None:
    async def in_an_async_context() -> bytes:
        return timestamps.timestamp(b"from a coroutine")

    token = asyncio.run(in_an_async_context())
    assert verify_timestamp(token, b"from a coroutine", [production_tsa.ca]) == SERVER_TIME


OPENSSL_TSA_CONFIG = """
[ tsa ]
default_tsa = tsa_config1
[ tsa_config1 ]
serial = ./serial
crypto_device = builtin
signer_cert = ./tsa.pem
certs = ./tsa.pem
signer_key = ./tsa.key
signer_digest = sha256
default_policy = 1.2.3.4.1
other_policies = 1.2.3.4.2
digests = sha256, sha384, sha512
accuracy = secs:1
ordering = yes
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = {ess}
"""


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
@pytest.mark.parametrize("ess", ["sha1", "sha256"])
def test_a_token_from_openssls_tsa_verifies_and_not_over_other_data(tmp_path: Path, ess: str) -> None:
    """The other direction: OpenSSL as the TSA (ESS signing-certificate v1 or v2), our verifier checking."""
    key, certificate, ca = pki.make_tsa("OpenSSL TSA", not_after=dt.datetime(2100, 1, 1, tzinfo=dt.UTC))
    (tmp_path / "tsa.cnf").write_text(OPENSSL_TSA_CONFIG.format(ess=ess), encoding="utf-8")
    (tmp_path / "serial").write_text("01\n", encoding="utf-8")
    (tmp_path / "tsa.pem").write_bytes(pki.pem(certificate))
    (tmp_path / "tsa.key").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    (tmp_path / "data").write_bytes(b"a platform signature")
    env = {**os.environ, "OPENSSL_CONF": "/dev/null"}
    for command in (
        ["openssl", "ts", "-query", "-data", "data", "-sha256", "-cert", "-out", "request.tsq"],
        [
            "openssl",
            "ts",
            "-reply",
            "-config",
            "tsa.cnf",
            "-queryfile",
            "request.tsq",
            "-token_out",
            "-out",
            "token.der",
        ],
    ):
        done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode == 0, done.stderr
    token = (tmp_path / "token.der").read_bytes()

    moment = verify_timestamp(token, b"a platform signature", [ca])
    assert abs(moment - dt.datetime.now(dt.UTC)) < dt.timedelta(minutes=5)
    with pytest.raises(TimestampError, match="over other data"):
        verify_timestamp(token, b"another signature", [ca])
