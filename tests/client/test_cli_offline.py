"""The command line without a platform: usage, offline refusals, HTTP errors, the progress bar."""

from __future__ import annotations

import io
import json
import socket
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from tendering.client.cli import main, parse_rate
from tendering.client.progress import Progress
from tendering.client.transport import ApiError, ClientError, HttpTransport, NetworkError, normalize_url

ROOT = Path(__file__).resolve().parents[2]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        status = main(list(argv))
    except SystemExit as exc:
        status = int(exc.code or 0)
    out, err = capsys.readouterr()
    return status, out, err


@pytest.fixture(autouse=True)
def client_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for name in ("ETENDER_URL", "ETENDER_TOKEN", "ETENDER_PASSPHRASE", "ETENDER_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ETENDER_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


# --- refusals first -------------------------------------------------------------------------------------


def test_bad_usage_exits_with_status_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "seal", "bid", "--tender", "x")[0] == 2  # no price
    assert run(capsys, "seal", "bid", "--tender", "x", "--price", "1=1", "--price-file", "p.json")[0] == 2
    assert run(capsys, "keys", "generate", "--purpose", "authentication")[0] == 2
    assert run(capsys, "submit", "bid.etb", "--limit-rate", "fast")[0] == 2
    status, _, err = run(capsys)
    assert status == 2 and "COMMAND" in err


def test_commands_that_need_the_platform_say_how_to_log_in(capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = run(capsys, "bids", "list")
    assert status == 1 and "etender login --url URL --username NAME" in err
    status, _, err = run(capsys, "--url", "https://ztb.example.cn", "bids", "list")
    assert status == 1 and "not logged in" in err


def test_the_stored_token_is_never_sent_to_another_platform(
    capsys: pytest.CaptureFixture[str], client_home: Path
) -> None:
    from tendering.client.config import Config

    Config(client_home, url="https://ztb.example.gov.cn", username="wanglei", token="etk_secret").save()
    status, _, err = run(capsys, "--url", "https://elsewhere.example.com", "bids", "list")
    assert status == 1 and "not logged in" in err


def test_a_receipt_cannot_be_verified_without_anchors(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    receipt = tmp_path / "bid.etb.receipt.json"
    receipt.write_text("{}")
    status, _, err = run(capsys, "receipt", "verify", str(receipt))
    assert status == 1 and "no trust anchors pinned" in err


def test_a_damaged_receipt_fails_verification(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    receipt = tmp_path / "bid.etb.receipt.json"
    receipt.write_text('{"format": "etender-receipt-v1"}')
    ca = tmp_path / "ca.pem"
    ca.write_text(_self_signed_pem())
    status, out, _ = run(capsys, "receipt", "verify", str(receipt), "--ca", str(ca))
    assert status == 1 and out.startswith("FAILED: the receipt has no")


def test_keys_generate_without_a_terminal_asks_for_the_environment(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    status, _, err = run(capsys, "keys", "generate", "--purpose", "signing")
    assert status == 1 and "set ETENDER_PASSPHRASE" in err


def test_keys_generate_refuses_a_short_passphrase_from_a_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    secret = tmp_path / "passphrase.txt"
    secret.write_text("short\n")
    status, _, err = run(capsys, "keys", "generate", "--purpose", "signing", "--passphrase-file", str(secret))
    assert status == 1 and "at least 8 characters" in err


@pytest.mark.parametrize(
    "url", ["ztb.example.cn", "ftp://ztb.example.cn", "https://u:p@ztb.example.cn", "https://x:99999"]
)
def test_platform_urls_other_than_http_and_https_are_refused(url: str) -> None:
    with pytest.raises(ClientError):
        normalize_url(url)


def test_an_unreachable_platform_is_named_in_the_error() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    transport = HttpTransport(f"http://127.0.0.1:{port}")
    with pytest.raises(NetworkError, match=rf"cannot reach http://127.0.0.1:{port}/api/tenders: connection refused"):
        transport.request("GET", "/api/tenders")


def test_api_errors_carry_the_message_and_fields() -> None:
    body = {
        "code": "invalid_input",
        "message": "请求内容不符合要求，请检查各字段。",
        "fields": {"size": ["投标文件过大"]},
    }
    with serve(422, json.dumps(body).encode(), "application/json") as url, pytest.raises(ApiError) as caught:
        HttpTransport(url, "etk_x").request("POST", "/api/x", json_body={})
    assert caught.value.status == 422 and caught.value.code == "invalid_input"
    assert (
        caught.value.describe() == "请求内容不符合要求，请检查各字段。 [invalid_input, HTTP 422]\n  size: 投标文件过大"
    )


def test_a_server_that_is_not_the_platform_is_recognized() -> None:
    with (
        serve(200, b"<html>hello</html>", "text/html") as url,
        pytest.raises(ClientError, match="not JSON: is this the platform's URL"),
    ):
        HttpTransport(url).request("GET", "/api/tenders")
    with (
        serve(502, b"<html>Bad Gateway</html>", "text/html") as url,
        pytest.raises(ApiError, match="HTTP 502 Bad Gateway from http://"),
    ):
        HttpTransport(url).request("GET", "/api/tenders")


# --- what works ---------------------------------------------------------------------------------------------


def test_the_client_does_not_import_django() -> None:
    code = (
        "import sys, tendering.client.cli; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('django', 'ninja', 'channels', 'config')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True, env={"PATH": "/usr/bin"}
    )
    assert result.stdout.strip() == "[]"


def test_the_progress_bar_is_one_final_line_when_not_on_a_terminal() -> None:
    stream = io.StringIO()
    times = iter([0.0, 2.0])  # the clock is read at the start and at the end only
    progress = Progress("upload", 4 * 1024 * 1024, stream=stream, clock=lambda: next(times))
    progress.update(1024 * 1024)
    progress.update(4 * 1024 * 1024)
    progress.finish()
    assert stream.getvalue() == "upload: 4.0 MiB in 2.0 s (2.0 MiB/s)\n"


def test_the_progress_bar_redraws_one_line_on_a_terminal() -> None:
    stream = io.StringIO()
    times = iter([0.0, 1.0, 2.0, 3.0])
    progress = Progress("seal", 2 * 1024 * 1024, stream=stream, enabled=True, clock=lambda: next(times))
    progress.update(1024 * 1024)
    progress.update(2 * 1024 * 1024)
    progress.finish()
    text = stream.getvalue()
    assert text.count("\r") == 3 and " 50.0% 1.0/2.0 MiB" in text and "100.0%" in text
    assert text.endswith("seal: 2.0 MiB in 3.0 s (0.7 MiB/s)\n")


def test_rates_are_read_with_units() -> None:
    assert parse_rate("500K") == 500 * 1024
    assert parse_rate("2M") == 2 * 1024 * 1024
    assert parse_rate("1.5MiB/s") == 1.5 * 1024 * 1024


def test_logout_forgets_only_the_token(capsys: pytest.CaptureFixture[str], client_home: Path) -> None:
    from tendering.client.config import Config

    # Port 9 on loopback refuses at once: the platform cannot be reached to revoke the token.
    Config(client_home, url="http://127.0.0.1:9", username="wanglei", token="etk_secret").save()
    status, out, _ = run(capsys, "logout")
    assert status == 0 and "could not revoke" in out and "token removed" in out
    config = Config.load(client_home)
    assert (config.url, config.username, config.token) == ("http://127.0.0.1:9", "wanglei", "")


# --- helpers ----------------------------------------------------------------------------------------------------


class serve:
    """A one-answer HTTP server on 127.0.0.1 in a thread."""

    def __init__(self, status: int, body: bytes, content_type: str) -> None:
        answer = (status, body, content_type)

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                self.send_response(answer[0])
                self.send_header("Content-Type", answer[2])
                self.send_header("Content-Length", str(len(answer[1])))
                self.end_headers()
                self.wfile.write(answer[1])

            do_GET = do_POST = _answer

            def log_message(self, *args: object) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)

    def __enter__(self) -> str:
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def _self_signed_pem() -> str:
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test CA")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode()
