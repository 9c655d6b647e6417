"""The installed ``etender`` console script against the real platform under Daphne.

A Daphne process serving the platform (channels' live-server process, as the
browser tests use; ``platform_url`` in conftest.py) is started once for this
module, with the filesystem object store, a development PKI and 5 MiB bid
parts, all in a temporary folder. Each test sets up its personas and a
published tender through the services (real time: the server keeps the real
clock), then runs ``.venv/bin/etender`` as subprocesses with ``ETENDER_HOME``
in its own temporary folder.

Needs the console script: ``pip install -e . --no-deps``.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from tendering.client.keys import load_private_key
from tendering.client.opening import OPENING_TIMES_FILE
from tendering.models import Bid, BidUpload, Tender
from tendering.sealing import fingerprint, open_bid, open_bidder_envelope, parse_manifest
from tendering.services import documents, tenders
from tests.client.conftest import PART_SIZE
from tests.fixtures.personas import PASSWORD, PDF_BYTES, Personas, confirm_custody, tender_input

ETENDER = Path(sys.executable).parent / "etender"
MiB = 1024 * 1024
PASSPHRASE = "红土建设 signing passphrase"

pytestmark = pytest.mark.skipif(
    not ETENDER.exists(), reason=f"{ETENDER} is not installed: run `pip install -e . --no-deps`"
)


@pytest.fixture
def open_tender(transactional_db: Any, personas: Personas, platform_url: str) -> Tender:
    """A published tender with two lots, three custodians (k = 2) who confirmed it,
    open for 30 days by the real clock.
    """
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    lots = [
        tenders.LotInput(1, "路面工程", Decimal("6000000.00")),
        tenders.LotInput(2, "桥梁工程", Decimal("2600000.00")),
    ]
    tender = tenders.create_draft(personas.tenderer, tender_input(now, personas.custodians, lots=lots))
    documents.add_document(personas.tenderer, tender, "招标文件.pdf", io.BytesIO(PDF_BYTES), len(PDF_BYTES))
    return confirm_custody(tenders.publish(personas.tenderer, tender), personas)


class Bidder:
    """One bidder's machine: its own ETENDER_HOME, running the installed console script."""

    def __init__(self, home: Path, url: str) -> None:
        self.home = home
        self.url = url
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(home.parent),
            "LANG": "C.UTF-8",
            "ETENDER_HOME": str(home),
            "ETENDER_PASSWORD": PASSWORD,
            "ETENDER_PASSPHRASE": PASSPHRASE,
        }

    def forget_opening_times(self) -> None:
        """A test that moves a tender's schedule back (instead of waiting for it) plays a machine that never saw the
        old opening time: the client refuses an opening time served earlier than the one it was shown."""
        (self.home / OPENING_TIMES_FILE).unlink(missing_ok=True)

    def command(self, *args: str) -> list[str]:
        return [str(ETENDER), *args]

    def run(self, *args: str, expect: int = 0, **env: str) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            self.command(*args),
            env={**self.env, **env},
            capture_output=True,
            text=True,
            timeout=120,
            stdin=subprocess.DEVNULL,
        )
        assert result.returncode == expect, (
            f"etender {' '.join(args)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
        )
        return result

    def ready(self, username: str = "bidder_a") -> None:
        """Logged in, with a signing and an encryption key made here and registered."""
        self.run("login", "--url", self.url, "--username", username)
        for purpose in ("signing", "encryption"):
            self.run("keys", "generate", "--purpose", purpose)
            self.run("keys", "register", "--purpose", purpose)

    def pin(self, custodians: Sequence[tuple[str, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey]]) -> None:
        """Trust these custodians' signing keys by fingerprint, as each custodian told the bidder in person."""
        for username, key in custodians:
            public = key.public_key() if isinstance(key, ec.EllipticCurvePrivateKey) else key
            self.run("trust", "pin", username, fingerprint(public))


def personas_custodians(personas: Personas) -> list[tuple[str, ec.EllipticCurvePrivateKey]]:
    return [(u.username, k) for u, k in zip(personas.custodians, personas.custodian_signing_keys, strict=True)]


# The documents the fixtures' method requires (tendering.method.default_method): `etender seal` refuses a folder
# without them (一次性告知).
REQUIRED_DOCUMENTS = ["营业执照", "资质证书", "项目经理注册证书", "安全生产考核合格证", "投标保证金凭证"]


def bid_folder(root: Path, technical: bytes = b"") -> Path:
    folder = root / "江西红土建设-投标文件"
    (folder / "商务标").mkdir(parents=True)
    (folder / "技术标.pdf").write_bytes(technical or ("施工组织设计 " * 5000).encode())
    (folder / "商务标" / "报价说明.txt").write_text("报价含税，工期 180 日历天。\n", encoding="utf-8")
    (folder / "资格").mkdir()
    for name in REQUIRED_DOCUMENTS:
        (folder / "资格" / f"{name}.pdf").write_bytes(f"%PDF-1.7 {name}".encode())
    return folder


# --- refusals first -------------------------------------------------------------------------------------------


def test_login_with_a_wrong_password_is_refused_and_stores_nothing(
    open_tender: Tender, platform_url: str, tmp_path: Path
) -> None:
    bidder = Bidder(tmp_path / "home", platform_url)
    result = bidder.run("login", "--url", platform_url, "--username", "bidder_a", expect=1, ETENDER_PASSWORD="wrong")
    assert "error: 请先登录" in result.stderr and "HTTP 401" in result.stderr
    assert not (bidder.home / "config.json").exists()


def test_an_unreachable_platform_is_named(tmp_path: Path) -> None:
    bidder = Bidder(tmp_path / "home", "http://127.0.0.1:9")
    result = bidder.run("login", "--url", "http://127.0.0.1:9", "--username", "x", expect=1)
    assert "cannot reach http://127.0.0.1:9/api/archive/trust" in result.stderr


def test_trust_anchors_that_changed_since_login_are_refused(
    open_tender: Tender, platform_url: str, tmp_path: Path
) -> None:
    bidder = Bidder(tmp_path / "home", platform_url)
    bidder.run("login", "--url", platform_url, "--username", "bidder_a")
    pinned = bidder.home / "trust.pem"
    genuine = pinned.read_bytes()
    pinned.write_bytes(genuine.replace(b"A", b"B", 1))  # as if the server now presented other anchors
    result = bidder.run("login", "--url", platform_url, "--username", "bidder_a", expect=1)
    assert "now presents other trust anchors" in result.stderr and "--repin" in result.stderr
    bidder.run("login", "--url", platform_url, "--username", "bidder_a", "--repin")
    assert pinned.read_bytes() == genuine


def test_sealing_is_refused_with_an_unregistered_key_or_after_the_deadline(
    open_tender: Tender, personas: Personas, platform_url: str, tmp_path: Path
) -> None:
    bidder = Bidder(tmp_path / "home", platform_url)
    bidder.run("login", "--url", platform_url, "--username", "bidder_a")
    bidder.pin(personas_custodians(personas))
    for purpose in ("signing", "encryption"):
        bidder.run("keys", "generate", "--purpose", purpose)
    bidder.run("keys", "register", "--purpose", "encryption")
    folder = bid_folder(tmp_path)
    tender_id = str(open_tender.public_id)
    result = bidder.run("seal", str(folder), "--tender", tender_id, "--price", "1=100", expect=1)
    assert "your signing key 'default'" in result.stderr and "etender keys register --purpose signing" in result.stderr
    bidder.run("keys", "register", "--purpose", "signing")
    wrong = bidder.run(
        "seal",
        str(folder),
        "--tender",
        tender_id,
        "--price",
        "1=100",
        expect=1,
        ETENDER_PASSPHRASE="not the passphrase",
    )
    assert "wrong passphrase" in wrong.stderr
    now = dt.datetime.now(dt.UTC)
    Tender.objects.filter(pk=open_tender.pk).update(
        enquiry_deadline=now - dt.timedelta(minutes=2),
        bid_deadline=now - dt.timedelta(minutes=1),
        opening_time=now + dt.timedelta(hours=1),
    )
    late = bidder.run("seal", str(folder), "--tender", tender_id, "--price", "1=100", expect=1)
    assert f"tender {open_tender.number} is not open for bids (phase closed" in late.stderr
    assert not list(tmp_path.glob("*.etb*")) and not list(tmp_path.glob(".*.partial"))


# --- what works ------------------------------------------------------------------------------------------------


def test_a_bidder_seals_submits_verifies_replaces_and_withdraws(
    open_tender: Tender, personas: Personas, platform_url: str, tmp_path: Path
) -> None:
    bidder = Bidder(tmp_path / "home", platform_url)
    login = bidder.run("login", "--url", platform_url, "--username", "bidder_a")
    assert "logged in to" in login.stdout and "trust anchors pinned" in login.stdout
    assert "DEVELOPMENT certificate authority" in login.stderr
    assert "custodians' confirmations are checked against your own trust list" in login.stderr
    assert oct((bidder.home / "config.json").stat().st_mode & 0o777) == "0o600"
    bidder.pin(personas_custodians(personas))
    for purpose in ("signing", "encryption"):
        generated = bidder.run("keys", "generate", "--purpose", purpose)
        assert "encrypted with your passphrase" in generated.stdout
        bidder.run("keys", "register", "--purpose", purpose)
    keys = bidder.run("keys", "list").stdout
    assert keys.count("registered, id") == 2 and "NOT REGISTERED" not in keys

    tender_id = str(open_tender.public_id)
    listed = bidder.run("tenders", "list", "--q", "道路").stdout
    assert tender_id in listed and open_tender.number in listed
    shown = bidder.run("tenders", "show", tender_id).stdout
    assert "k = 2" in shown and "lot 2: 桥梁工程" in shown
    assert "price rule lowest_ratio (weight 50.00)" in shown and "D5 投标保证金凭证  (for Q3 投标保证金)" in shown
    for slot in open_tender.custodian_slots.select_related("public_key"):
        assert slot.public_key.fingerprint in shown

    folder = bid_folder(tmp_path)
    sealed = bidder.run(
        "seal", str(folder), "--tender", tender_id, "--price", "1=5123456.7:180", "--price", "2=2400000:150"
    )
    bid_file = tmp_path / "江西红土建设-投标文件.etb"
    assert f"submit it with: etender submit {bid_file}" in sealed.stdout
    assert "seal: " in sealed.stderr  # not a terminal: one final line, no bar
    submitted = bidder.run("submit", str(bid_file))
    assert "receipt verified" in submitted.stdout and "ledger position" in submitted.stdout
    manifest = parse_manifest(bid_file.with_name(bid_file.name + ".manifest").read_bytes())
    assert f"ciphertext SHA-256 {manifest.ciphertext_sha256}" in submitted.stdout
    receipt = bid_file.with_name(bid_file.name + ".receipt.json")
    assert not bid_file.with_name(bid_file.name + ".upload.json").exists()
    verified = bidder.run("receipt", "verify", str(receipt))
    assert verified.stdout.startswith("OK: ledger entry") and manifest.bid in verified.stdout
    assert "names the sealed bid" in verified.stdout
    again = bidder.run("submit", str(bid_file))
    assert "was already submitted" in again.stdout
    assert BidUpload.objects.count() == 1

    # Whoever holds the bidder's encryption key (the bidder, at the opening) gets the files back.
    private = load_private_key(bidder.home / "keys" / "encryption-default.key.pem", PASSPHRASE.encode())
    file_key = open_bidder_envelope(manifest.envelopes.bidder, manifest.identity, private)
    with open(bid_file, "rb") as ciphertext:
        opened = open_bid(ciphertext, manifest, file_key, tmp_path / "opened")
    assert [f.path for f in opened.files] == [
        "bid/商务标/报价说明.txt",
        "bid/技术标.pdf",
        *sorted((f"bid/资格/{name}.pdf" for name in REQUIRED_DOCUMENTS), key=str.encode),
    ]
    assert [(lot.lot, lot.price_yuan, lot.schedule_days) for lot in opened.price_summary.lots] == [
        ("1", "5123456.70", 180),
        ("2", "2400000.00", 150),
    ]
    assert (tmp_path / "opened" / "bid" / "商务标" / "报价说明.txt").read_text(
        encoding="utf-8"
    ) == "报价含税，工期 180 日历天。\n"

    listed_bids = bidder.run("bids", "list").stdout
    assert manifest.bid in listed_bids and "accepted" in listed_bids
    replaced = bidder.run(
        "replace", str(folder), "--tender", tender_id, "--price", "1=5000000.00:170", "--price", "2=2400000:150"
    )
    second = tmp_path / "江西红土建设-投标文件-2.etb"
    new_manifest = parse_manifest(second.with_name(second.name + ".manifest").read_bytes())
    assert f"bid {manifest.bid} is superseded by {new_manifest.bid}" in replaced.stdout
    assert "receipt verified" in replaced.stdout
    bidder.run("withdraw", new_manifest.bid, expect=1)  # no terminal to confirm on
    withdrawal_receipt = tmp_path / "withdrawal.json"
    withdrawn = bidder.run("withdraw", new_manifest.bid, "--yes", "--receipt", str(withdrawal_receipt))
    assert f"bid {new_manifest.bid} withdrawn" in withdrawn.stdout
    # The withdrawal's receipt is saved and verified with the anchors pinned at login, as a submission's.
    assert (
        "withdrawal receipt verified (time-stamped " in withdrawn.stdout and str(withdrawal_receipt) in withdrawn.stdout
    )
    checked = bidder.run("receipt", "verify", str(withdrawal_receipt)).stdout
    assert (
        checked.startswith("OK: ledger entry")
        and "(tendering.bid.withdrawn)" in checked
        and new_manifest.bid in checked
    )
    statuses = {str(b.public_id): b.status for b in Bid.objects.all()}
    assert statuses == {manifest.bid: "superseded", new_manifest.bid: "withdrawn"}
    final = bidder.run("bids", "list", "--tender", tender_id).stdout
    assert "superseded" in final and "withdrawn" in final


def test_an_interrupted_submission_resumes_where_it_stopped(
    open_tender: Tender, personas: Personas, platform_url: str, tmp_path: Path
) -> None:
    bidder = Bidder(tmp_path / "home", platform_url)
    bidder.ready()
    bidder.pin(personas_custodians(personas))
    folder = bid_folder(tmp_path, os.urandom(16 * MiB))
    bidder.run("seal", str(folder), "--tender", str(open_tender.public_id), "--price", "1=100.00")
    bid_file = tmp_path / "江西红土建设-投标文件.etb"
    manifest = parse_manifest(bid_file.with_name(bid_file.name + ".manifest").read_bytes())
    expected_parts = -(-manifest.ciphertext_size // PART_SIZE)
    assert expected_parts >= 4

    # Throttled so that it is still running when the first part is confirmed; then killed outright.
    process = subprocess.Popen(
        bidder.command("submit", str(bid_file), "--limit-rate", "6M"),
        env=bidder.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        upload = None
        while time.monotonic() < deadline and process.poll() is None:
            upload = BidUpload.objects.filter(bid_id=manifest.bid).first()
            if upload is not None and upload.received_parts >= 1:
                break
            time.sleep(0.02)
        process.send_signal(signal.SIGKILL)
    finally:
        out, err = process.communicate(timeout=30)
    assert process.returncode == -signal.SIGKILL, f"submit ended by itself ({process.returncode}):\n{out!r}\n{err!r}"
    upload = BidUpload.objects.get(bid_id=manifest.bid)
    assert 1 <= upload.received_parts < expected_parts and upload.state == "open"
    state = json.loads(bid_file.with_name(bid_file.name + ".upload.json").read_text())
    assert state["upload_id"] == str(upload.public_id)

    resumed = bidder.run("submit", str(bid_file))
    assert f"resuming upload {upload.public_id}: {upload.received_parts} of {expected_parts} parts" in resumed.stdout
    assert "receipt verified" in resumed.stdout
    assert BidUpload.objects.count() == 1  # continued, not restarted
    bid = Bid.objects.get()
    assert bid.upload_id == upload.pk and bid.sha256 == manifest.ciphertext_sha256
    bidder.run("receipt", "verify", str(bid_file.with_name(bid_file.name + ".receipt.json")))


def test_scripts_can_use_a_token_from_the_environment(open_tender: Tender, platform_url: str, tmp_path: Path) -> None:
    bidder = Bidder(tmp_path / "home", platform_url)
    bidder.run("login", "--url", platform_url, "--username", "bidder_a")
    token = json.loads((bidder.home / "config.json").read_text())["token"]
    elsewhere = Bidder(tmp_path / "elsewhere", platform_url)
    listed = elsewhere.run("bids", "list", ETENDER_URL=platform_url, ETENDER_TOKEN=token)
    assert listed.stdout.strip() == "no bids"
    whoami = elsewhere.run("whoami", "--url", platform_url, "--token", token)
    assert "bidder_a" in whoami.stdout and "bidder" in whoami.stdout
    # Logging out revokes the token on the platform, not only on this computer.
    assert "revoked on the platform" in bidder.run("logout").stdout
    assert bidder.run("bids", "list", expect=1).stderr.startswith("error: not logged in")
    elsewhere.run("bids", "list", ETENDER_URL=platform_url, ETENDER_TOKEN=token, expect=1)
