"""A whole remote evaluation over two Daphne processes sharing Redis (REDIS_URL), as deployed behind nginx.

The draw excludes an expert employed by a bidder and recomputes offline (``python -m evaluation.draw_check``);
five experts, half on each process, sign in, declare, elect the chair, pass the qualification and score over
WebSockets; a deviating score must be explained before the scoring closes; the chair asks a bidder, who
answers over HTTP; an expert reconnects to the other process and finds its drafts; every member signs the
report, the platform files it (PAdES) and ``python -m evaluation.report_check`` checks it; and the ranking
equals a calculation written here from the Mark rows and the method (not evaluation.formulas).

The forked servers inherit the frozen clock and the test database (tests/fixtures/live_platform.py).
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from channels.testing.live import make_application
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from django.conf import settings
from django.db import connections
from django.urls import reverse

from accounts.models import KeyPurpose, PublicKey
from accounts.own_device import register_own_key
from archive.pdf import verify_pdf_signature
from archive.signing import platform_signer
from archive.storage import get_object_store
from config import clock as platform_clock
from evaluation.models import Clarification, Deviation, Evaluation, Mark, MemberState, Report, SheetKind, Stage
from evaluation.services import confirmation, draw
from evaluation.services import report as report_service
from tendering.models import BidOpening, Tender
from tests.evaluation.factories import METHOD, publish_with_method
from tests.evaluation.pool_helpers import drawn, eligible_pool, expert
from tests.fixtures.live_platform import PlatformServerProcess, _prepare_forked_server
from tests.fixtures.personas import Personas
from tests.opening.test_hall_consumer import session_cookie

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not settings.REDIS_URL, reason="two server processes share their events through Redis"),
]

TIMEOUT = 30
CENT = Decimal("0.01")


def _own_channel_layer() -> None:
    """In each forked server, before it serves: the live platform's preparation, and a channel layer of its own.

    The test process made its layer already (the services it ran published events). channels_redis names a
    process's channels with the layer's random ``client_prefix`` and each process pops the messages of its prefix
    from one Redis key: two children sharing the parent's layer would take each other's messages, and an event
    for a client of one server could be popped, and dropped, by the other."""
    from channels.layers import channel_layers

    _prepare_forked_server()
    channel_layers.backends.clear()


@pytest.fixture
def two_servers() -> Iterator[list[int]]:
    """Two Daphnes serving the platform, forked once the case is in the database; their ports."""
    connections.close_all()  # the children must not share the test's database socket
    servers = []
    try:
        for _ in range(2):
            server = PlatformServerProcess("127.0.0.1", lambda: make_application(static_wrapper=None))
            server.setup = _own_channel_layer
            server.daemon = True
            server.start()
            servers.append(server)
        for server in servers:
            assert server.ready.wait(timeout=TIMEOUT), "Daphne did not start"
        yield [server.port.value for server in servers]
    finally:
        for server in servers:
            server.terminate()
            server.join(timeout=TIMEOUT)


class Participant:
    """One WebSocket connection to the session, read all the time (so that Daphne's pings are answered): commands
    answered by ``ref``, every event kept in order, its numbers strictly increasing."""

    def __init__(self, name: str, cookie: str, http: aiohttp.ClientSession) -> None:
        self.name, self.cookie, self.http = name, cookie, http
        self.ws: Any = None
        self.reader: asyncio.Task[None] | None = None
        self.replies: dict[str, dict[str, Any]] = {}
        self.events: list[dict[str, Any]] = []
        self.arrived = asyncio.Event()
        self.last_seq = 0
        self.refs = 0

    async def connect(self, port: int, path: str, resume: bool = False) -> dict[str, Any]:
        headers = {"Origin": f"http://127.0.0.1:{port}", "Cookie": self.cookie}
        self.ws = await self.http.ws_connect(f"ws://127.0.0.1:{port}{path}", headers=headers, heartbeat=None)
        hello = json.loads((await self.ws.receive(timeout=TIMEOUT)).data)
        assert hello["type"] == "hello", hello
        self.reader = asyncio.ensure_future(self._read(self.ws))
        if resume:
            return await self.command("resume", last_seq=self.last_seq, expect="resumed")
        snapshot = await self.command("snapshot", expect="snapshot")
        self.last_seq = max(self.last_seq, snapshot["seq"])
        return snapshot

    async def _read(self, ws: Any) -> None:
        async for message in ws:
            frame: dict[str, Any] = json.loads(message.data)
            if frame["type"] == "event":
                assert frame["seq"] > self.last_seq, (self.name, "event twice or out of order", frame)
                self.last_seq = frame["seq"]
                self.events.append(frame)
            elif frame.get("ref"):
                self.replies[frame["ref"]] = frame
            self.arrived.set()

    async def _until(self, found: Any) -> Any:
        async def wait() -> Any:
            while (result := found()) is None:
                assert self.reader is not None and not self.reader.done(), (self.name, "connection ended")
                self.arrived.clear()
                await self.arrived.wait()
            return result

        return await asyncio.wait_for(wait(), TIMEOUT)

    async def command(self, kind: str, expect: str = "ok", **fields: Any) -> dict[str, Any]:
        """Sends a command; its answer (``expect``: ok, error, snapshot, resumed)."""
        self.refs += 1
        ref = f"{self.name}-{self.refs}"
        await self.ws.send_str(json.dumps({"type": kind, "ref": ref, **fields}))
        frame: dict[str, Any] = await self._until(lambda: self.replies.pop(ref, None))
        assert frame["type"] == expect, (self.name, kind, fields, frame)
        return frame

    async def event(self, kind: str, **match: Any) -> dict[str, Any]:
        """The first event of ``kind`` whose data has ``match`` (waiting for it if need be)."""

        def found() -> dict[str, Any] | None:
            for frame in self.events:
                if frame["kind"] == kind and all(frame["data"].get(k) == v for k, v in match.items()):
                    return frame
            return None

        try:
            result: dict[str, Any] = await self._until(found)
        except TimeoutError:
            raise AssertionError(f"{self.name}: no {kind} {match}; had {[f['kind'] for f in self.events]}") from None
        return result

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        if self.reader is not None:
            await asyncio.gather(self.reader, return_exceptions=True)
            if not self.reader.cancelled() and self.reader.exception() is not None:
                raise self.reader.exception()  # type: ignore[misc]


def independent_ranking(tender: Tender, evaluation: Evaluation) -> list[tuple[str, Decimal]]:
    """(bid, total) by rank, from the Mark rows and the method alone: a criterion's points = mean of the
    experts' scores ÷ max_score × weight, price score = lowest price ÷ price × weight, each half-up to 2 places;
    ties: lower price, then higher technical points, then the opening position."""
    method = tender.evaluation_criteria
    criteria = {c["id"]: c for c in method["criteria"]}
    openings = list(BidOpening.objects.filter(opening__tender=tender).select_related("bid"))
    prices = {bo.bid_id: sum(Decimal(str(lot["price_yuan"])) for lot in bo.price_summary["lots"]) for bo in openings}
    position = {bo.bid_id: bo.position for bo in openings}
    public = {bo.bid_id: str(bo.bid.public_id) for bo in openings}
    scores: dict[tuple[int, str], list[Decimal]] = {}
    for mark in Mark.objects.filter(sheet__member__evaluation=evaluation, sheet__kind=SheetKind.SCORING):
        scores.setdefault((mark.bid_id, mark.item), []).append(mark.score)
    lowest = min(prices.values())
    rows = []
    for bid, price in prices.items():
        technical = commercial = Decimal(0)
        for item, criterion in criteria.items():
            values = scores[(bid, item)]
            mean = sum(values) / len(values)
            points = (mean / Decimal(criterion["max_score"]) * Decimal(criterion["weight"])).quantize(
                CENT, ROUND_HALF_UP
            )
            if criterion["kind"] == "technical":
                technical += points
            else:
                commercial += points
        price_score = (lowest / price * Decimal(method["price"]["weight"])).quantize(CENT, ROUND_HALF_UP)
        total = technical + commercial + price_score
        rows.append((-total, price, -technical, position[bid], public[bid], total))
    rows.sort()
    return [(row[4], row[5]) for row in rows]


async def in_thread(read: Any) -> Any:
    """``read()`` (a database read) in a thread of its own, its connection closed after it."""

    def run() -> Any:
        try:
            return read()
        finally:
            connections.close_all()

    return await asyncio.to_thread(run)


def sign(key: ec.EllipticCurvePrivateKey, statement: str) -> str:
    return base64.b64encode(key.sign(statement.encode(), ec.ECDSA(hashes.SHA256()))).decode()


def test_a_whole_remote_evaluation_over_two_server_processes(
    personas: Personas,
    draft_tender: Tender,
    frozen_clock: platform_clock.FrozenClock,
    tmp_path: Path,
    object_store_dir: Any,
    request: pytest.FixtureRequest,
) -> None:
    tender = publish_with_method(personas, draft_tender, METHOD)

    # --- the draw: an expert employed by a bidder is excluded; the record recomputes offline -----------------
    eligible_pool(7, "TJ01")
    conflicted = expert("X01", "TJ01", employer="红土建设", employer_code=personas.bidder_org_a.credit_code)
    evaluation, bids, bidder_users = drawn(personas, tender, frozen_clock, tmp_path, {"TJ01": 5}, n_bids=3)
    record = draw.public_record(tender)
    assert record is not None
    assert {"expert": "X01", "specialty": "TJ01", "reasons": ["employer_is_bidder"]} in record["exclusions"]
    assert "X01" not in record["candidates"]["TJ01"]
    members = list(evaluation.members.select_related("expert__user").order_by("draw_rank"))
    assert len(members) == 5 and conflicted.pk not in {m.expert_id for m in members}
    record_file = tmp_path / "draw.json"
    record_file.write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")
    checked = subprocess.run(
        [sys.executable, "-m", "evaluation.draw_check", str(record_file)], capture_output=True, text=True, timeout=60
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.startswith("ok:")

    # Every drawn expert confirms and has a signing key on its device: the sign-in opens.
    keys = []
    for member in members:
        key = ec.generate_private_key(ec.SECP256R1())
        register_own_key(member.expert.user, KeyPurpose.SIGNING, key)
        keys.append(key)
        confirmation.confirm(member.expert.user, tender)
    evaluation.refresh_from_db()
    assert evaluation.stage == Stage.SIGN_IN
    assert all(m.state == MemberState.CONFIRMED for m in evaluation.members.all())
    fingerprints = [
        PublicKey.objects.get(owner=m.expert.user, purpose=KeyPurpose.SIGNING, revoked_at__isnull=True).fingerprint
        for m in members
    ]
    experts = [m.expert.user for m in members]
    cookies = [session_cookie(user).decode() for user in experts]
    supervisor_cookie = session_cookie(personas.regulator).decode()
    bidder_cookie = session_cookie(bidder_users[0]).decode()
    bid_ids = [str(bid.public_id) for bid in bids]
    deadline = (frozen_clock() + dt.timedelta(hours=2)).isoformat()

    ports = request.getfixturevalue("two_servers")
    path = f"/ws/tenders/{tender.public_id}/session/"

    async def session() -> dict[str, Any]:
        async with aiohttp.ClientSession() as http:
            people = [Participant(f"e{i}", cookie, http) for i, cookie in enumerate(cookies)]
            supervisor = Participant("sup", supervisor_cookie, http)
            for index, person in enumerate(people):
                await person.connect(ports[index % 2], path)  # e0, e2, e4 on the first process; e1, e3 on the other
            await supervisor.connect(ports[1], path)
            chair = people[0]

            for index, person in enumerate(people):
                await person.command("sign_in", venue="main" if index < 3 else "sub", location="评标室")
                await person.command(
                    "declare", declarations=[{"bid": bid, "conflict": False, "note": ""} for bid in bid_ids]
                )
            for person in people[:3]:
                await person.command("vote_chair", candidate=members[0].pk)
            await supervisor.event("chair.elected", member=members[0].pk)
            refused = await supervisor.command("close_stage", expect="error", stage="sign_in")
            assert refused["code"] == "read_only"
            await chair.command("close_stage", stage="sign_in")

            async def submit(index: int, sheet: str) -> None:
                statement = await people[index].command("sheet_statement", sheet=sheet)
                await people[index].command(
                    "submit_sheet",
                    sheet=sheet,
                    key=fingerprints[index],
                    signature=sign(keys[index], statement["statement"]),
                )

            # Qualification: every bid passes every item.
            for index, person in enumerate(people):
                for bid in bid_ids:
                    for item in ("Q1", "Q2"):
                        await person.command("mark", sheet="qualification", bid=bid, item=item, passed=True)
                await submit(index, "qualification")
            await people[3].event("scores.revealed")
            await chair.command("close_stage", stage="qualification")

            # Scoring; expert 4 scores T1 of the first bid far from the others (a deviation).
            scores = {
                (bid, item): [Decimal("8.00") - k * Decimal("0.50") + i * Decimal("0.25") for i in range(5)]
                for k, bid in enumerate(bid_ids)
                for item in ("T1", "C1")
            }
            scores[(bid_ids[0], "T1")][4] = Decimal("2.00")
            for index, person in enumerate(people):
                for (bid, item), values in scores.items():
                    await person.command("mark", sheet="scoring", bid=bid, item=item, score=f"{values[index]:.2f}")

            # Expert 1 drops its connection and comes back on the other process: its drafts are all there.
            await people[1].close()
            await people[1].connect(ports[0], path, resume=True)
            again = await people[1].command("snapshot", expect="snapshot")
            drafts = {(m["bid"], m["item"]): m["score"] for m in again["you"]["marks"] if m["sheet"] == "scoring"}
            assert drafts == {key: f"{values[1]:.2f}" for key, values in scores.items()}

            # A clarification: the chair asks the first bidder, who answers over HTTP; the committee sees it.
            asked = await chair.command(
                "ask_clarification",
                bid=bid_ids[0],
                question="请说明施工组织设计中的工期安排。",
                reply_deadline=deadline,
            )
            del asked
            page_url = f"http://127.0.0.1:{ports[1]}" + reverse(
                "frontend:bidder-clarifications", args=[tender.public_id]
            )
            name, _, value = bidder_cookie.partition("=")
            jar = aiohttp.CookieJar(unsafe=True)  # the session cookie, then the CSRF cookie the page sets (127.0.0.1)
            async with aiohttp.ClientSession(cookie_jar=jar, cookies={name: value}) as bidder:
                async with bidder.get(page_url) as page:
                    html = await page.text()
                    assert page.status == 200, html[:500]
                token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
                assert token is not None
                clarification = await in_thread(lambda: Clarification.objects.get(evaluation=evaluation).pk)
                async with bidder.post(
                    page_url,
                    data={
                        "csrfmiddlewaretoken": token.group(1),
                        "clarification": str(clarification),
                        "answer": "工期180天。",
                    },
                    headers={"Origin": f"http://127.0.0.1:{ports[1]}", "Referer": page_url},
                    allow_redirects=False,
                ) as answered:
                    assert answered.status == 302, await answered.text()
            await people[4].event("clarification.answered")

            for index in range(5):
                await submit(index, "scoring")
            flagged = await people[4].event("deviation.flagged")
            assert flagged["data"]["bid"] == bid_ids[0] and flagged["data"]["item"] == "T1"
            before = await in_thread(lambda: Evaluation.objects.get(pk=evaluation.pk).stage)
            unresolved = await chair.command("close_stage", expect="error", stage="scoring")
            assert unresolved["code"] == "deviations_unresolved"
            assert await in_thread(lambda: Evaluation.objects.get(pk=evaluation.pk).stage) == before
            await people[4].command(
                "explain_deviation", deviation=flagged["data"]["id"], explanation="该投标工期安排不合理，不满足要求。"
            )
            await chair.command("close_stage", stage="scoring")
            await chair.command("close_stage", stage="price")
            await chair.command("close_stage", stage="summary")
            summary = await supervisor.event("stage.closed", stage="summary")
            await supervisor.event("report.ready")

            for index, person in enumerate(people):
                statement = await person.command("report_statement")
                await person.command(
                    "sign_report", key=fingerprints[index], signature=sign(keys[index], statement["statement"])
                )
            for person in [*people, supervisor]:
                await person.close()
            return summary["data"]["result"]

    result = asyncio.run(session())

    # The deviation was explained; the report is signed by all, filed (as the worker does) and checks offline.
    assert Deviation.objects.get(mark__sheet__member__evaluation=evaluation).explained_at is not None
    assert report_service.file_report(evaluation.pk) == "filed"
    report = Report.objects.get(evaluation=evaluation)
    assert report.signatures.count() == 5
    with get_object_store().open(report.object_key) as stored:
        pdf = stored.read()
    pades = verify_pdf_signature(pdf, platform_signer().trust_anchors)
    assert pades.problem is None and pades.valid and pades.covers_whole_document
    pdf_file = tmp_path / "report.pdf"
    pdf_file.write_bytes(pdf)
    checked = subprocess.run(
        [sys.executable, "-m", "evaluation.report_check", str(pdf_file)], capture_output=True, text=True, timeout=120
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr

    # The ranking the committee published equals the one computed here from the recorded sheets.
    published = [(row["bid"], Decimal(row["total"])) for row in result["ranking"]]
    assert published == independent_ranking(tender, evaluation)
