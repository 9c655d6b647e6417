"""`etender open release | status` and `etender custodian open` against an in-memory opening
(real keys, real envelopes).
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import io
import uuid
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from tendering.client import cli
from tendering.client import keys as keystore
from tendering.client import opening as client_opening
from tendering.client.commands import base as commands_base
from tendering.client.commands.opening import display_width
from tendering.client.progress import Progress
from tendering.client.transport import ApiError
from tendering.sealing import CustodianPart, file_key_from_parts, parse_manifest
from tendering.sealing.refusal import verify_refusal
from tests.client.fakes import FakeHall, HallEntry, seal_for_opening

PASSPHRASE = "保管人 passphrase 2026"
TENDER = str(uuid.uuid4())


@dataclasses.dataclass
class Machine:
    """One participant's computer: its ETENDER_HOME and its local encryption key (made with the client)."""

    home: Path
    key: keystore.LocalKey

    @property
    def public_key(self) -> ec.EllipticCurvePublicKey:
        return self.key.public_key()


@pytest.fixture(autouse=True)
def client_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ETENDER_URL", "ETENDER_TOKEN", "ETENDER_PASSPHRASE", "ETENDER_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ETENDER_URL", FakeHall.base_url)
    monkeypatch.setenv("ETENDER_TOKEN", "etk_test")
    monkeypatch.setenv("ETENDER_PASSPHRASE", PASSPHRASE)


def machine(tmp_path: Path, name: str) -> Machine:
    home = tmp_path / name
    return Machine(home, keystore.generate_key(home, "encryption", keystore.DEFAULT_NAME, PASSPHRASE.encode()))


@pytest.fixture
def bidder(tmp_path: Path) -> Machine:
    return machine(tmp_path, "bidder")


@pytest.fixture
def custodians(tmp_path: Path) -> list[Machine]:
    found = [machine(tmp_path, f"custodian{i}") for i in (1, 2, 3)]
    for custodian in found:
        # The signing key a custodian signs its custody and its "does not open" statements with.
        keystore.generate_key(custodian.home, "signing", keystore.DEFAULT_NAME, PASSPHRASE.encode())
    return found


def serve(monkeypatch: pytest.MonkeyPatch, hall: FakeHall) -> FakeHall:
    monkeypatch.setattr(commands_base, "HttpTransport", lambda url, token=None, **kwargs: hall)
    return hall


def run(capsys: pytest.CaptureFixture[str], home: Path, *argv: str) -> tuple[int, str, str]:
    status = cli.main(["--home", str(home), *argv])
    out, err = capsys.readouterr()
    return status, out, err


def entries(tmp_path: Path, bidder: Machine, custodians: list[Machine], *, others: int = 1) -> list[HallEntry]:
    """The bidder's own bid first, then ``others`` bids of other companies."""
    keys = [c.public_key for c in custodians]
    found = [HallEntry(1, "红土建设", seal_for_opening(tmp_path / "bids", TENDER, bidder.public_key, keys), own=True)]
    for position in range(2, others + 2):
        stranger = ec.generate_private_key(ec.SECP256R1()).public_key()
        found.append(HallEntry(position, "宏达路桥", seal_for_opening(tmp_path / "bids", TENDER, stranger, keys)))
    return found


# --- a bidder releases its key: refusals first -----------------------------------------------------------------------


def test_a_bid_sealed_to_another_key_is_named_and_nothing_is_sent(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    bidder: Machine,
    custodians: list[Machine],
) -> None:
    sealed_to = machine(tmp_path, "elsewhere")  # the key the bid was really sealed to, not on this machine
    keys = [c.public_key for c in custodians]
    entry = HallEntry(1, "红土建设", seal_for_opening(tmp_path / "bids", TENDER, sealed_to.public_key, keys), own=True)
    hall = serve(monkeypatch, FakeHall(TENDER, ["bidder"], [entry], ["钟华", "黄芳", "刘洋"]))
    monkeypatch.delenv("ETENDER_PASSPHRASE")  # not needed: the addressee is checked before asking
    status, out, err = run(capsys, bidder.home, "open", "release", TENDER)
    assert status == 1
    assert f"bid 1 ({entry.bid}): not released: it was sealed to encryption key {sealed_to.key.fingerprint()}" in out
    assert f"not to your local key 'default' ({bidder.key.fingerprint()}): nothing was sent for it" in out
    assert "1 of 1 bid(s) not released" in err and "no passphrase" not in err
    assert hall.posts() == [] and hall.released == {}


def test_another_local_key_with_the_addressee_s_fingerprint_is_suggested(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    bidder: Machine,
    custodians: list[Machine],
) -> None:
    older = keystore.generate_key(bidder.home, "encryption", "2025", PASSPHRASE.encode())
    keys = [c.public_key for c in custodians]
    entry = HallEntry(1, "红土建设", seal_for_opening(tmp_path / "bids", TENDER, older.public_key(), keys), own=True)
    hall = serve(monkeypatch, FakeHall(TENDER, ["bidder"], [entry], ["钟华", "黄芳", "刘洋"]))
    status, out, _ = run(capsys, bidder.home, "open", "release", TENDER)
    assert status == 1 and "Your local key '2025' has that fingerprint: use --key 2025" in out
    assert hall.posts() == []
    status, out, _ = run(capsys, bidder.home, "open", "release", TENDER, "--key", "2025")
    assert status == 0 and f"bid 1 ({entry.bid}): released (key_ready)" in out


def test_a_key_that_does_not_match_the_manifest_s_commitment_is_never_sent(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    bidder: Machine,
    custodians: list[Machine],
) -> None:
    [entry, _] = entries(tmp_path, bidder, custodians)
    # The envelope still opens, but the manifest commits to another key: what opens is not this bid's key.
    altered = dataclasses.replace(parse_manifest(entry.manifest_bytes), kc="00" * 32)
    entry.manifest_bytes = altered.canonical_bytes()
    hall = serve(monkeypatch, FakeHall(TENDER, ["bidder"], [entry], ["钟华", "黄芳", "刘洋"]))
    status, out, _ = run(capsys, bidder.home, "open", "release", TENDER)
    assert status == 1
    assert "not released: the file key does not match the manifest's key commitment (kc)" in out
    assert "nothing was sent for it" in out and hall.posts() == []


def test_a_wrong_passphrase_sends_nothing(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    bidder: Machine,
    custodians: list[Machine],
) -> None:
    hall = serve(
        monkeypatch, FakeHall(TENDER, ["bidder"], entries(tmp_path, bidder, custodians), ["钟华", "黄芳", "刘洋"])
    )
    monkeypatch.setenv("ETENDER_PASSPHRASE", "not the passphrase")
    status, _, err = run(capsys, bidder.home, "open", "release", TENDER)
    assert status == 1 and "error: wrong passphrase for the key file" in err
    assert hall.posts() == []


def test_the_platform_s_refusal_is_printed_for_the_bid_and_the_exit_is_1(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    bidder: Machine,
    custodians: list[Machine],
) -> None:
    hall = serve(
        monkeypatch, FakeHall(TENDER, ["bidder"], entries(tmp_path, bidder, custodians), ["钟华", "黄芳", "刘洋"])
    )
    hall.refuse_release = ApiError(409, "decryption_window_closed", "解密时间已于 2026-03-02 10:00 结束，不能再解密。")
    status, out, _ = run(capsys, bidder.home, "open", "release", TENDER)
    bid = hall.entries[0].bid
    assert status == 1
    assert (
        f"bid 1 ({bid}): refused: 解密时间已于 2026-03-02 10:00 结束，不能再解密。 [decryption_window_closed, HTTP 409]"
        in out
    )


def test_only_a_bidder_in_the_hall_releases_a_key(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    bidder: Machine,
    custodians: list[Machine],
) -> None:
    hall = serve(
        monkeypatch, FakeHall(TENDER, ["custodian"], entries(tmp_path, bidder, custodians), ["钟华", "黄芳", "刘洋"])
    )
    status, _, err = run(capsys, custodians[0].home, "open", "release", TENDER)
    assert status == 1 and "you are not a bidder in the opening of tender RJ-2026-001" in err
    assert "`etender custodian open`" in err and hall.posts() == []


def test_a_manifest_that_names_another_bid_is_refused(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    bidder: Machine,
    custodians: list[Machine],
) -> None:
    own, other = entries(tmp_path, bidder, custodians)
    hall = serve(monkeypatch, FakeHall(TENDER, ["bidder"], [own], ["钟华", "黄芳", "刘洋"]))
    swapped = hall.manifests()
    swapped[0]["manifest"] = base64.b64encode(other.manifest_bytes).decode()
    monkeypatch.setattr(hall, "manifests", lambda: swapped)
    status, _, err = run(capsys, bidder.home, "open", "release", TENDER)
    assert status == 1 and f"the manifest of bid {other.bid}" in err and "refusing to open it" in err
    assert hall.posts() == []


# --- a bidder releases its key: what works ---------------------------------------------------------------------------


def test_a_bidder_releases_its_own_bid_s_key_and_only_its_own(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    bidder: Machine,
    custodians: list[Machine],
) -> None:
    # A bidder that is also a custodian gets every manifest: only its own bid is released.
    hall = serve(
        monkeypatch,
        FakeHall(TENDER, ["bidder", "custodian"], entries(tmp_path, bidder, custodians), ["钟华", "黄芳", "刘洋"]),
    )
    own = hall.entries[0]
    status, out, _ = run(capsys, bidder.home, "open", "release", TENDER)
    assert status == 0
    assert (
        "opening of tender RJ-2026-001 (乡村道路提升改造工程): opening time 2026-03-02 09:00:00 +0800 (Asia/Shanghai)"
        in out
    )
    assert "1 bid(s) of yours; decryption until 2026-03-02 10:00:00 +0800" in out
    assert f"bid 1 ({own.bid}): released (key_ready): the platform decrypts it now" in out
    assert hall.posts() == [f"/api/tenders/{TENDER}/opening/bids/{own.bid}/key"]
    assert list(hall.released) == [own.bid]

    again_status, again, _ = run(capsys, bidder.home, "open", "release", TENDER)
    assert again_status == 0 and f"bid 1 ({own.bid}): already released (released by the bidder; key_ready)" in again
    assert len(hall.posts()) == 1


def test_a_key_released_meanwhile_counts_as_released(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    bidder: Machine,
    custodians: list[Machine],
) -> None:
    hall = serve(
        monkeypatch, FakeHall(TENDER, ["bidder"], entries(tmp_path, bidder, custodians), ["钟华", "黄芳", "刘洋"])
    )
    # The custodians' parts completed the key between the snapshot and the release.
    hall.refuse_release = ApiError(409, "key_already_ready", "该投标文件的密钥已提交（密钥已就绪），无需再次解密。")
    status, out, _ = run(capsys, bidder.home, "open", "release", TENDER)
    assert status == 0 and "already released (该投标文件的密钥已提交" in out


# --- a custodian opens its parts -------------------------------------------------------------------------------------


def test_a_part_that_does_not_open_is_replaced_by_a_signed_statement_and_every_other_part_is_sent(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    bidder: Machine,
    custodians: list[Machine],
) -> None:
    found = entries(tmp_path, bidder, custodians, others=2)
    manifest = parse_manifest(found[2].manifest_bytes)
    # Custodian 1 (index 0) is the first member of subset [0, 2]: its envelope there is damaged.
    subsets = list(manifest.envelopes.custodians.subsets)
    damaged = bytearray(subsets[1].parts[0])
    damaged[-1] ^= 0x01
    subsets[1] = dataclasses.replace(subsets[1], parts=(bytes(damaged), *subsets[1].parts[1:]))
    envelopes = dataclasses.replace(
        manifest.envelopes, custodians=dataclasses.replace(manifest.envelopes.custodians, subsets=tuple(subsets))
    )
    found[2].manifest_bytes = dataclasses.replace(manifest, envelopes=envelopes).canonical_bytes()
    hall = serve(monkeypatch, FakeHall(TENDER, ["custodian"], found, ["钟华", "黄芳", "刘洋"]))
    status, out, _ = run(capsys, custodians[0].home, "custodian", "open", TENDER)
    assert status == 0, out
    assert f"bid 3 ({found[2].bid}): your part of subset [0, 2] does not open (hpke_open_failed" in out
    assert '5 part(s) and 1 signed "does not open" statement(s) submitted for 3 bid(s)' in out
    # Every other part went, in one request: custodian 0 is in subsets [0, 1] and [0, 2] of each bid.
    [parts] = hall.parts
    assert sorted((p["bid"], tuple(p["members"])) for p in parts) == sorted(
        [(e.bid, m) for e in found for m in ((0, 1), (0, 2)) if (e.bid, m) != (found[2].bid, (0, 2))]
    )
    # The statement is format D, exactly, signed by the custodian's own signing key.
    [[refusal]] = hall.refusals
    signing = keystore.existing_key(custodians[0].home, "signing")
    statement = base64.b64decode(refusal["statement"])
    parsed = verify_refusal(statement, base64.b64decode(refusal["signature"]), signing.public_key())
    assert (
        statement
        == (
            f'{{"bid":"{found[2].bid}","format":"etender-part-refusal-v1","index":0,"members":[0,2],'
            f'"reason":"hpke_open_failed","signing_key":"{signing.fingerprint()}","tender":"{TENDER}"}}'
        ).encode()
    )
    assert parsed.index == 0 and parsed.members == (0, 2)


def test_a_custodian_and_a_bidder_send_nothing_while_their_own_clock_is_before_the_opening_time(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    bidder: Machine,
    custodians: list[Machine],
) -> None:
    # The platform says the hall is open (its clock, or its operator, runs ahead); this machine's clock disagrees.
    opening_time = dt.datetime(2026, 3, 2, 1, 0, tzinfo=dt.UTC)  # FakeHall's: 09:00 in Beijing
    monkeypatch.setattr(client_opening, "local_now", lambda: opening_time - dt.timedelta(minutes=10))
    hall = serve(
        monkeypatch,
        FakeHall(TENDER, ["bidder", "custodian"], entries(tmp_path, bidder, custodians), ["钟华", "黄芳", "刘洋"]),
    )
    for home, argv in ((custodians[0].home, ("custodian", "open", TENDER)), (bidder.home, ("open", "release", TENDER))):
        status, out, err = run(capsys, home, *argv)
        assert status == 1
        assert "opening time 2026-03-02 09:00:00 +0800 (Asia/Shanghai)" in out
        assert "this computer's clock says 2026-03-02 08:50:00 +0800 (Asia/Shanghai), before the opening time" in err
        assert "Nothing was sent" in err
    assert hall.posts() == [] and hall.parts == [] and hall.released == {}
    # Within the allowed skew (2 minutes) of the opening time, the parts go.
    monkeypatch.setattr(client_opening, "local_now", lambda: opening_time - client_opening.CLOCK_SKEW)
    status, out, _ = run(capsys, custodians[0].home, "custodian", "open", TENDER)
    assert status == 0 and "4 part(s) and 0 signed" in out
    assert len(hall.parts) == 1


def test_a_custodian_whose_key_the_bids_are_not_sealed_to_is_refused(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    bidder: Machine,
    custodians: list[Machine],
) -> None:
    hall = serve(
        monkeypatch, FakeHall(TENDER, ["custodian"], entries(tmp_path, bidder, custodians), ["钟华", "黄芳", "刘洋"])
    )
    newer = machine(tmp_path, "new-custodian-machine")  # a key made after the tender was published
    status, _, err = run(capsys, newer.home, "custodian", "open", TENDER)
    assert status == 1 and f"is not sealed to your local encryption key 'default' ({newer.key.fingerprint()})" in err
    assert "Nothing was sent" in err and hall.posts() == []


def test_custodians_are_refused_where_their_parts_are_not_used(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    bidder: Machine,
    custodians: list[Machine],
) -> None:
    hall = serve(
        monkeypatch, FakeHall(TENDER, ["custodian"], entries(tmp_path, bidder, custodians), ["钟华", "黄芳", "刘洋"])
    )
    hall.unreleased_bids = "revoked"
    status, _, err = run(capsys, custodians[0].home, "custodian", "open", TENDER)
    assert status == 1 and "custodians' parts are not used" in err
    hall.unreleased_bids = "custodians"
    hall.concluded_at = "2026-03-02T02:00:00Z"
    status, _, err = run(capsys, custodians[0].home, "custodian", "open", TENDER)
    assert status == 1 and "parts are no longer taken" in err
    assert hall.posts() == []


def test_a_custodian_who_already_submitted_is_told_so_and_sends_nothing(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    bidder: Machine,
    custodians: list[Machine],
) -> None:
    hall = serve(
        monkeypatch, FakeHall(TENDER, ["custodian"], entries(tmp_path, bidder, custodians), ["钟华", "黄芳", "刘洋"])
    )
    hall.custodians[1]["submitted_at"] = "2026-03-02T01:05:00Z"
    status, out, _ = run(capsys, custodians[1].home, "custodian", "open", TENDER)
    assert status == 0 and "you, custodian 2 (黄芳), submitted your parts at" in out and "nothing to do" in out
    assert hall.posts() == []


def test_two_custodians_parts_give_every_bid_s_key(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    bidder: Machine,
    custodians: list[Machine],
) -> None:
    found = entries(tmp_path, bidder, custodians, others=2)
    hall = serve(monkeypatch, FakeHall(TENDER, ["custodian"], found, ["钟华", "黄芳", "刘洋"]))
    for index in (0, 2):
        status, out, err = run(capsys, custodians[index].home, "custodian", "open", TENDER)
        assert status == 0
        assert f"3 bid(s), 3 still without a key; you are custodian {index + 1}" in out
        # Each custodian is in 2 of the 3 subsets of 2 of 3, in each of the 3 bids.
        assert '6 part(s) and 0 signed "does not open" statement(s) submitted for 3 bid(s)' in out
        assert "open: 3 bids in" in err  # not a terminal: one final line of progress
    assert hall.posts() == [f"/api/tenders/{TENDER}/opening/custodian-parts"] * 2
    for entry in found:
        manifest = entry.manifest
        opened = [
            CustodianPart(tuple(p["members"]), position, base64.b64decode(p["part"]))
            for position, submission in zip((0, 2), hall.parts, strict=True)
            for p in submission
            if p["bid"] == entry.bid
        ]
        assert {p.members for p in opened} == {(0, 1), (0, 2), (1, 2)}  # 0-based, as in the manifest
        # Subset [0, 2] is complete: its parts combine to the key the manifest commits to.
        file_key_from_parts(manifest.envelopes.custodians, opened, bytes.fromhex(manifest.kc))


# --- the hall's status ---------------------------------------------------------------------------------------------


def test_the_status_shows_bids_prices_custodians_and_moments(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    bidder: Machine,
    custodians: list[Machine],
) -> None:
    found = entries(tmp_path, bidder, custodians)
    found[0].state, found[0].key_source = "opened", "bidder"
    found[0].price_summary = {
        "lots": [
            {"lot": "1", "price_yuan": "5123456.70", "schedule_days": 180, "declared": {}},
            {"lot": "2", "price_yuan": "2400000.00", "schedule_days": 150, "declared": {}},
        ]
    }
    hall = serve(monkeypatch, FakeHall(TENDER, ["bidder"], found, ["钟华", "黄芳", "刘洋"]))
    hall.custodians[0]["submitted_at"] = "2026-03-02T01:05:00Z"
    status, out, _ = run(capsys, bidder.home, "open", "status", TENDER)
    assert status == 0
    lines = out.splitlines()
    assert lines[0] == "RJ-2026-001  乡村道路提升改造工程" and "your roles           bidder" in out
    header = next(line for line in lines if line.startswith("  #  bidder"))
    first = next(line for line in lines if line.startswith("  1  红土建设 *"))
    follow = lines[lines.index(first) + 1]
    second = next(line for line in lines if line.startswith("  2  宏达路桥"))
    # Chinese names take two columns each: the columns still line up on a terminal.
    prices = display_width(header[: header.index("prices")])
    assert from_column(first, prices) == "lot 1: 5123456.70 yuan, 180 days   -"
    assert from_column(follow, prices) == "lot 2: 2400000.00 yuan, 150 days"
    # A bid without prices before the record is published: the platform withholds them, and the client says so.
    assert from_column(second, prices) == "withheld until every bid is final  -"
    assert "opened" in first and "bidder" in first and "2.0 MiB" in first
    assert "awaiting_key" in second
    assert "custodians (2 of 3 open a bid together)" in out
    assert any(line.startswith("  1  钟华") and "submitted 2026-03-02" in line for line in lines)
    assert "  * your organization's bid" in out and hall.posts() == []


def from_column(line: str, column: int) -> str:
    """What a terminal shows of ``line`` from display column ``column`` on."""
    width = 0
    for index, char in enumerate(line):
        if width == column:
            return line[index:]
        width += display_width(char)
    return ""


def test_progress_counts_items_when_given_a_unit() -> None:
    stream = io.StringIO()
    times = iter([0.0, 1.0, 2.0, 4.0])
    progress = Progress("open", 200, stream=stream, enabled=True, clock=lambda: next(times), unit="bids")
    progress.update(50)
    progress.update(200)
    progress.finish()
    text = stream.getvalue()
    assert " 25.0% 50/200 bids 50.0 bids/s" in text and "MiB" not in text
    assert text.endswith("open: 200 bids in 4.0 s (50.0 bids/s)\n")


def test_an_opening_time_moved_earlier_on_the_server_releases_nothing_early(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    bidder: Machine,
    custodians: list[Machine],
) -> None:
    # The custodian confirmed and the bidder sealed when the tender said 10:00 Beijing time; the operator then
    # moved the opening to 09:00 in the database and opened the hall at 09:30 by its clock and this machine's.
    opening_time = dt.datetime(2026, 3, 2, 1, 0, tzinfo=dt.UTC)  # FakeHall's: 09:00 in Beijing
    shown_before = opening_time + dt.timedelta(hours=1)
    for machine_ in (custodians[0], bidder):
        client_opening.remember_opening_time(machine_.home, TENDER, shown_before.isoformat())
        client_opening.remember_opening_time(machine_.home, TENDER, opening_time.isoformat())  # never moves it back
    monkeypatch.setattr(client_opening, "local_now", lambda: opening_time + dt.timedelta(minutes=30))
    hall = serve(
        monkeypatch,
        FakeHall(TENDER, ["bidder", "custodian"], entries(tmp_path, bidder, custodians), ["钟华", "黄芳", "刘洋"]),
    )
    for home, argv in ((custodians[0].home, ("custodian", "open", TENDER)), (bidder.home, ("open", "release", TENDER))):
        status, _, err = run(capsys, home, *argv)
        assert status == 1
        assert "now says the opening time is 2026-03-02 09:00:00 +0800 (Asia/Shanghai), earlier than the" in err
        assert "2026-03-02 10:00:00 +0800 (Asia/Shanghai) this computer was shown before" in err
        assert "Nothing was sent" in err
    assert hall.posts() == [] and hall.parts == [] and hall.released == {}
    # A machine that was never shown the tender before goes by the served time and its own clock.
    status, _, _ = run(capsys, custodians[1].home, "custodian", "open", TENDER)
    assert status == 0 and len(hall.parts) == 1
