#!/usr/bin/env python3
"""The remote evaluation session (远程评标) under load, and its recovery when a server process dies.

Everything runs on 127.0.0.1, in a temporary folder:

* a Redis server of its own (or ``--redis-url``) for the channel layer, shared by two Daphne processes
  serving ``bench.live:application`` (the platform untouched, plus the bare consumer of the baseline);
* the platform (``ETENDER_ENV=test``) on a fresh PostgreSQL database (two processes write it at once) with
  ``--sessions`` tenders in evaluation, each built as the tests build one (tests/evaluation/factories.py:
  bids sealed, submitted, opened and decrypted through the services, a confirmed committee of
  ``--experts`` members), then signed in, declared and the chair elected through the session's services,
  so that the qualification stage is open; the regulator supervises every session;
* the participants' clients in a child process (aiohttp WebSockets, one asyncio loop): per session every
  expert and the supervisor, half of the connections on each Daphne.

Subject: every expert acts every ``--interval`` seconds (start times spread), alternately a ``mark``
(a qualification entry, a draft: its ``ok`` and its ``sheet.saved`` go to the expert alone) and a
``message`` (``message.posted`` goes to every participant of the session). Latency = the command sent →
the event received, by every other participant of the session for a message, on ``time.monotonic``
(one clock for every process on the machine). Shown beside it, not judged: from the event's ``at`` (stamped
inside the command's transaction, on the server's wall clock) to its arrival, on this machine's wall clock:
the part after the command's statements (the ledger entry, the commit, the publish and the fan-out).

Baseline, same run, same clients: the bare consumer joined to one group per session, and this process
sending, from one long-lived event loop (``bench.live.BareSender``), as many frames of the same size (the
real ``message.posted`` frames, renumbered) to the same groups at the same rate; stamped before the send.

Recovery (``--kill``): a second subject phase; midway the first Daphne is killed by its pid (SIGKILL).
Its clients reconnect to the other one and ``resume`` from the last number they saw (a command left
without an answer is sent again). Checked: every mark that was answered ``ok`` is in the database with
the value sent last; every client's event numbers strictly increase (no event twice) and, at the end, are
exactly the session's events its audiences may see (none missed). Reported: the time from the kill until
every client of the killed process is back in sync (has ``resumed``).

    .venv/bin/python bench/session_load.py --sessions 20 --experts 9 --duration 30 --interval 3
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import io
import itertools
import json
import os
import random
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: the repository root, for bench.common and the platform
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import (
    Row,
    cpu_seconds,
    emit,
    machine_line,
    percentile,
    postgres_database,
    script_command,
    setup_django,
    start_daphne,
    stop_process,
)
from bench.live import BareSender, bare_path, channel_layer_redis

APPLICATION = "bench.live:application"
BARE_GROUP = "bench.session.{}"  # one bare group per session
# Each tender's bidding month, one after the other in the past: all within the development platform
# certificate's two years (made at the first of them), so at most 21 sessions.
DAYS_PER_TENDER = 32


# --- the clients (child process, no Django) ----------------------------------------------------------------------


class Client:
    """One participant's connection: what it sent, what it was answered, every event it received."""

    def __init__(self, index: int, spec: dict[str, Any], urls: list[str]) -> None:
        self.index = index
        self.spec = spec
        self.url_index = spec["port"]
        self.urls = urls
        self.ws: Any = None
        self.last_seq = 0
        self.start_seq = 0  # the snapshot's number at the first connect
        self.done_seq = 0  # the last number seen when the actors stopped and the events settled
        self.seqs: list[int] = []  # every event number, in the order received (the replay included)
        self.events: list[tuple[str, str, float]] = []  # (kind, tag, received) of each event
        # message.posted tag -> seconds from the event's ``at`` (stamped in the command's transaction, the server's
        # wall clock: the same machine's) to its arrival here (this process's wall clock)
        self.ages: dict[str, float] = {}
        self.sent: dict[str, tuple[float, dict[str, Any]]] = {}  # ref -> (sent at, command)
        self.oks: dict[str, float] = {}
        self.errors: list[str] = []
        self.pending: dict[str, dict[str, Any]] = {}  # sent, no answer yet: sent again after a reconnect
        self.resumed_at: list[float] = []
        self.reconnects = 0
        self.connected = asyncio.Event()


def tag_of(frame: dict[str, Any]) -> str:
    data = frame.get("data") or {}
    if frame.get("kind") == "message.posted":
        return str(data.get("text", "")).removeprefix("bench ")
    return ""


async def run_clients(config: dict[str, Any]) -> dict[str, Any]:
    import aiohttp

    urls: list[str] = config["urls"]
    bare = config["mode"] == "bare"
    clients = [Client(i, spec, urls) for i, spec in enumerate(config["clients"])]
    stop_acting = asyncio.Event()
    frame_bytes: list[int] = []  # the size of each message.posted frame received

    async def connect(session: aiohttp.ClientSession, client: Client, resume: bool) -> None:
        headers = {"Origin": config["origin"]}
        if client.spec["cookie"] and not bare:
            headers["Cookie"] = client.spec["cookie"]
        path = bare_path(group=BARE_GROUP.format(client.spec["session"])) if bare else client.spec["path"]
        url = urls[client.url_index] + path
        client.ws = await session.ws_connect(url, headers=headers, max_msg_size=16 * 1024 * 1024, heartbeat=None)
        hello = json.loads((await client.ws.receive(timeout=30)).data)
        if hello.get("type") != "hello":
            raise RuntimeError(f"client {client.index}: {hello}")
        if bare:
            client.connected.set()
            return
        if resume:
            await client.ws.send_str(json.dumps({"type": "resume", "last_seq": client.last_seq, "ref": "resume"}))
            # What had no answer, sent again in its order before the actor sends anything new.
            for command in list(client.pending.values()):
                await client.ws.send_str(json.dumps(command))
        else:
            await client.ws.send_str(json.dumps({"type": "snapshot", "ref": "snapshot"}))
            while True:
                frame = json.loads((await client.ws.receive(timeout=60)).data)
                if frame.get("type") == "snapshot":
                    client.last_seq = client.start_seq = int(frame.get("seq") or hello.get("seq") or 0)
                    break
                if frame.get("type") == "error":
                    raise RuntimeError(f"client {client.index}: {frame}")
        client.connected.set()

    async def listen(session: aiohttp.ClientSession, client: Client) -> None:
        while True:
            message = await client.ws.receive()
            now = time.monotonic()
            if message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR):
                if stop_acting.is_set() and not client.pending and config["mode"] != "recovery":
                    return
                if config["mode"] != "recovery":
                    client.errors.append(f"closed ({message.type.name})")
                    return
                # The process died: to the other one, resuming from the last number seen.
                client.connected.clear()
                client.reconnects += 1
                client.url_index = (client.url_index + 1) % len(urls)
                for attempt in range(100):
                    try:
                        await connect(session, client, resume=True)
                        break
                    except (TimeoutError, aiohttp.ClientError, OSError, RuntimeError):
                        await asyncio.sleep(0.05 * (attempt + 1))
                else:
                    client.errors.append("could not reconnect")
                    return
                continue
            if message.type != aiohttp.WSMsgType.TEXT:
                continue
            frame = json.loads(message.data)
            kind = frame.get("type")
            if kind == "event":
                seq = int(frame["seq"])
                client.seqs.append(seq)
                client.last_seq = max(client.last_seq, seq)
                client.events.append((frame.get("kind", ""), tag_of(frame), now))
                if frame.get("kind") == "message.posted":
                    frame_bytes.append(len(message.data.encode()))
                    if not bare:  # the baseline's frames carry no time
                        client.ages[tag_of(frame)] = time.time() - dt.datetime.fromisoformat(frame["at"]).timestamp()
            elif kind == "ok" and frame.get("ref") in client.sent:
                client.oks.setdefault(frame["ref"], now)
                client.pending.pop(frame["ref"], None)
            elif kind == "resumed" or (kind == "snapshot" and frame.get("ref") == "resume"):
                if kind == "snapshot":
                    client.last_seq = int(frame.get("seq") or client.last_seq)
                client.resumed_at.append(now)
            elif kind == "error":
                client.errors.append(f"{frame.get('code')}: {frame.get('message')}")
                client.pending.pop(frame.get("ref") or "", None)

    async def act(client: Client, rng: random.Random) -> None:
        spec = client.spec
        interval = config["interval"]
        await asyncio.sleep(rng.uniform(0, interval))
        number = 0
        while not stop_acting.is_set():
            await client.connected.wait()
            number += 1
            ref = f"c{client.index}n{number}"
            if number % 2:
                bid, item = spec["marks"][(number // 2) % len(spec["marks"])]
                passed = (number // 2 // len(spec["marks"])) % 2 == 0
                command: dict[str, Any] = {
                    "type": "mark",
                    "ref": ref,
                    "sheet": "qualification",
                    "bid": bid,
                    "item": item,
                    "passed": passed,
                    "reason": "" if passed else "资料不全",
                }
            else:
                command = {"type": "message", "ref": ref, "text": f"bench {ref}"}
            client.sent[ref] = (time.monotonic(), command)
            client.pending[ref] = command
            with contextlib.suppress(ConnectionError, RuntimeError):
                await client.ws.send_str(json.dumps(command))
            await asyncio.sleep(interval * rng.uniform(0.8, 1.2))

    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        await asyncio.gather(*(connect(session, c, resume=False) for c in clients))
        print("ready", flush=True)
        cpu_began = time.process_time()
        listeners = [asyncio.ensure_future(listen(session, c)) for c in clients]
        rng = random.Random(config["seed"])
        actors = [
            asyncio.ensure_future(act(c, random.Random(rng.random())))
            for c in clients
            if c.spec["role"] == "expert" and not bare
        ]
        await asyncio.sleep(config["duration"])
        stop_acting.set()
        for task in actors:
            task.cancel()
        # Until every command has its answer and the events settle (or the time runs out).
        deadline = time.monotonic() + config["settle"]
        while time.monotonic() < deadline:
            if not any(c.pending for c in clients) and (bare or all(c.connected.is_set() for c in clients)):
                break
            await asyncio.sleep(0.1)
        # Then until no event has arrived for settle_events seconds: a loaded server may still be sending.
        quiet, count = 0.0, -1
        while quiet < config["settle_events"] and time.monotonic() < deadline + config["settle"]:
            total = sum(len(c.seqs) for c in clients)
            quiet = quiet + 0.25 if total == count else 0.0
            count = total
            await asyncio.sleep(0.25)
        cpu = time.process_time() - cpu_began
        for client in clients:
            client.done_seq = client.last_seq
        print("done", flush=True)
        for task in listeners:
            task.cancel()
        await asyncio.gather(*(c.ws.close() for c in clients if c.ws is not None), return_exceptions=True)
    return {
        "cpu_seconds": cpu,
        "message_frame_bytes": sorted(frame_bytes)[len(frame_bytes) // 2] if frame_bytes else 0,
        "clients": [
            {
                "seqs": c.seqs,
                "events": c.events,
                "ages": c.ages,
                "sent": {ref: [at, command] for ref, (at, command) in c.sent.items()},
                "oks": c.oks,
                "pending": list(c.pending),
                "errors": c.errors,
                "resumed_at": c.resumed_at,
                "start_seq": c.start_seq,
                "done_seq": c.done_seq,
                "reconnects": c.reconnects,
                "port": c.url_index,
            }
            for c in clients
        ],
    }


def clients_child(config_path: str, out_path: str) -> int:
    config = json.loads(Path(config_path).read_text())
    result = asyncio.run(run_clients(config))
    Path(out_path).write_text(json.dumps(result))
    return 0


# --- the platform ------------------------------------------------------------------------------------------------


def prepare_platform(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """``--sessions`` tenders in evaluation, each in its qualification stage; every participant's session cookie."""
    setup_django(work / "var", DEBUG="false", LOG_LEVEL="WARNING")
    from django.core.management import call_command

    from archive.storage import get_object_store

    call_command("migrate", verbosity=0)
    get_object_store().ensure_bucket()

    from django.conf import settings
    from django.db import connections
    from django.test import Client as HttpClient

    from config import clock
    from evaluation.models import Evaluation, Stage
    from evaluation.services.session import signing_in, stages
    from tendering.services import documents, tenders
    from tests.evaluation.factories import build_session_case
    from tests.fixtures.personas import PDF_BYTES, make_personas, tender_input

    def cookie(user: Any) -> str:
        http = HttpClient()
        http.force_login(user)
        return f"{settings.SESSION_COOKIE_NAME}={http.cookies[settings.SESSION_COOKIE_NAME].value}"

    # Each tender's month of bidding in the past, one after the other (the ledger's time only moves forward).
    start = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(days=DAYS_PER_TENDER * (args.sessions + 1))
    sessions = []
    began = time.perf_counter()
    with clock.frozen(start) as frozen:
        personas = make_personas()
        supervisor_cookie = cookie(personas.regulator)
        for number in range(args.sessions):
            draft = tenders.create_draft(
                personas.tenderer,
                tender_input(frozen(), personas.custodians, number=f"BENCH-EVAL-{number + 1:03d}"),
            )
            documents.add_document(personas.tenderer, draft, "招标文件.pdf", io.BytesIO(PDF_BYTES), len(PDF_BYTES))
            case = build_session_case(  # publishes the draft with the session's method
                personas, draft, frozen, work / f"bids{number}", n_bids=args.bids, n_experts=args.experts
            )
            tender = case.tender
            for user in case.experts:
                signing_in.sign_in(user, tender, "main", "南昌市公共资源交易中心评标室")
            for user in case.experts:
                signing_in.declare(user, tender, [(bid.public_id, False, "") for bid in case.bids])
            for user in case.experts:  # until a majority has elected the first member
                if Evaluation.objects.get(pk=case.evaluation.pk).chair_id is None:
                    signing_in.vote_chair(user, tender, case.members[0].pk)
            stages.close_stage(case.experts[0], tender, Stage.SIGN_IN)  # the chair opens the qualification
            stage = Evaluation.objects.get(pk=case.evaluation.pk).stage
            if stage != Stage.QUALIFICATION:
                raise SystemExit(f"session {number}: the stage is {stage} after sign-in, not qualification")
            items = [q["id"] for q in tender.evaluation_criteria["qualification"]]
            marks = [(str(bid.public_id), item) for bid in case.bids for item in items]
            path = f"/ws/tenders/{tender.public_id}/session/"
            people = [("expert", user) for user in case.experts] + [("supervisor", personas.regulator)]
            sessions.append(
                {
                    "evaluation": case.evaluation.pk,
                    "clients": [
                        {
                            "session": number,
                            "role": role,
                            "user": user.pk,
                            "cookie": supervisor_cookie if role == "supervisor" else cookie(user),
                            "path": path,
                            "marks": marks if role == "expert" else [],
                        }
                        for role, user in people
                    ],
                }
            )
            frozen.set(start + dt.timedelta(days=DAYS_PER_TENDER * (number + 1)))
            print(f"  session {number + 1} of {args.sessions} ready ({time.perf_counter() - began:.0f} s)", flush=True)
    connections.close_all()
    return {"sessions": sessions}


def database_state(ids: dict[str, Any]) -> dict[str, Any]:
    """Per evaluation: its draft qualification marks by (expert user, bid, item), and its events (seq, audience)."""
    from evaluation.models import Mark, SessionEvent

    result: dict[str, Any] = {}
    for entry in ids["sessions"]:
        marks = {
            f"{user}|{bid}|{item}": passed
            for user, bid, item, passed in Mark.objects.filter(
                sheet__member__evaluation_id=entry["evaluation"], sheet__kind="qualification"
            ).values_list("sheet__member__expert__user_id", "bid__public_id", "item", "passed")
        }
        events = list(
            SessionEvent.objects.filter(evaluation_id=entry["evaluation"])
            .values_list("seq", "audience")
            .order_by("seq")
        )
        result[str(entry["evaluation"])] = {
            "marks": {k.replace("-", ""): v for k, v in marks.items()},
            "events": events,
        }
    return result


# --- one phase ------------------------------------------------------------------------------------------------------


def client_specs(ids: dict[str, Any], ports: int) -> list[dict[str, Any]]:
    specs = []
    for entry in ids["sessions"]:
        for spec in entry["clients"]:
            specs.append({**spec, "port": len(specs) % ports})
    return specs


def run_phase(
    mode: str,
    args: argparse.Namespace,
    work: Path,
    ports: list[int],
    specs: list[dict[str, Any]],
    servers: dict[str, int],
    bare_frames: list[tuple[float, int, int]] | None = None,
    kill: subprocess.Popen[bytes] | None = None,
) -> dict[str, Any]:
    """One phase: ``session`` (the subject), ``recovery`` (the subject, ``kill`` killed midway), ``bare`` (the
    baseline: ``bare_frames`` (offset, session, size) sent from this process)."""
    config = {
        "mode": mode,
        "urls": [f"ws://127.0.0.1:{port}" for port in ports],
        "origin": f"http://127.0.0.1:{ports[0]}",
        "clients": specs,
        "interval": args.interval,
        "duration": args.duration,
        "seed": args.seed,
        "settle": 60,
        "settle_events": 3.0,
    }
    config_path = work / f"clients-{mode}.json"
    out_path = work / f"received-{mode}.json"
    config_path.write_text(json.dumps(config))
    child = subprocess.Popen(
        [*script_command("session_load"), "--clients-child", str(config_path), str(out_path)],
        stdout=subprocess.PIPE,
        text=True,
    )
    stamps: dict[tuple[int, int], float] = {}  # bare: (session, seq) -> sent
    killed_at = None
    try:
        assert child.stdout is not None
        line = child.stdout.readline().strip()
        if line != "ready":
            raise SystemExit(f"the clients did not connect ({mode}): {line!r}")
        cpu_before = {name: cpu_seconds(pid) for name, pid in servers.items()}
        began = time.monotonic()
        if mode == "bare":
            sender = BareSender()
            assert bare_frames is not None
            for seq, (offset, session, size) in enumerate(bare_frames, start=1):
                delay = began + offset - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                frame = {"type": "event", "seq": seq, "kind": "message.posted", "at": "", "data": {"text": ""}}
                frame["data"]["text"] = "x" * max(0, size - len(json.dumps(frame, ensure_ascii=False)))
                stamps[(session, seq)] = time.monotonic()
                sender.send(BARE_GROUP.format(session), frame)
        elif kill is not None:
            time.sleep(args.duration / 2)
            killed_at = time.monotonic()
            os.kill(kill.pid, signal.SIGKILL)
            kill.wait()
            print(f"  killed Daphne pid {kill.pid}", flush=True)
        child.stdout.readline()  # "done"
        cpu_after = {name: cpu_seconds(pid) for name, pid in servers.items() if not (kill and pid == kill.pid)}
        child.wait(timeout=120)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    if child.returncode:
        raise SystemExit(f"the clients failed ({mode}, exit {child.returncode})")
    result = json.loads(out_path.read_text())
    result["began"] = began
    result["killed_at"] = killed_at
    result["cpu_ms"] = {name: (cpu_after[name] - cpu_before[name]) * 1e3 for name in cpu_after}
    result["bare_stamps"] = {f"{s}|{q}": t for (s, q), t in stamps.items()}
    return result


def latencies(result: dict[str, Any], specs: list[dict[str, Any]]) -> dict[str, Any]:
    """The subject's latencies: message sent → ``message.posted`` at every other participant of its session;
    mark sent → its ``ok``; and the frames each message was (for the baseline)."""
    sent_at: dict[str, tuple[int, float]] = {}  # message ref -> (its client, sent)
    mark_ok: list[float] = []
    for index, client in enumerate(result["clients"]):
        for ref, (at, command) in client["sent"].items():
            if command["type"] == "message":
                sent_at[ref] = (index, at)
            elif ref in client["oks"]:
                mark_ok.append(client["oks"][ref] - at)
    fanout: list[float] = []
    from_event: list[float] = []  # the event's ``at`` → its arrival at every other participant
    missing = 0
    received: dict[tuple[int, str], float] = {}
    for index, client in enumerate(result["clients"]):
        for kind, tag, at in client["events"]:
            if kind == "message.posted" and tag:
                received[(index, tag)] = at
    by_session: dict[int, list[int]] = {}
    for index, spec in enumerate(specs):
        by_session.setdefault(spec["session"], []).append(index)
    frames: list[tuple[float, int]] = []
    for ref, (author, at) in sent_at.items():
        session = specs[author]["session"]
        frames.append((at - result["began"], session))
        for other in by_session[session]:
            if other == author:
                continue
            if (other, ref) in received:
                fanout.append(received[(other, ref)] - at)
                from_event.append(result["clients"][other]["ages"][ref])
            else:
                missing += 1
    return {
        "fanout": sorted(fanout),
        "from_event": sorted(from_event),
        "mark_ok": sorted(mark_ok),
        "missing": missing,
        "frames": sorted(frames),
    }


def bare_latencies(result: dict[str, Any], specs: list[dict[str, Any]]) -> tuple[list[float], int]:
    out: list[float] = []
    missing = 0
    by_session: dict[int, list[int]] = {}
    for index, spec in enumerate(specs):
        by_session.setdefault(spec["session"], []).append(index)
    got: dict[tuple[int, int], float] = {}
    for index, client in enumerate(result["clients"]):
        for seq, (_kind, _tag, at) in zip(client["seqs"], client["events"], strict=True):
            got[(index, seq)] = at
    for key, stamp in result["bare_stamps"].items():
        session, seq = (int(part) for part in key.split("|"))
        for index in by_session[session]:
            if (index, seq) in got:
                out.append(got[(index, seq)] - stamp)
            else:
                missing += 1
    return sorted(out), missing


def check_recovery(
    result: dict[str, Any], specs: list[dict[str, Any]], ids: dict[str, Any], state: dict[str, Any]
) -> dict[str, Any]:
    """Scores lost, events duplicated or missed, and the time until every client of the killed process resumed."""
    evaluation_of = {entry["clients"][0]["session"]: str(entry["evaluation"]) for entry in ids["sessions"]}
    lost, checked, duplicated, missed, unanswered, foreign = [], 0, 0, 0, 0, 0
    done_seq: dict[int, int] = {}
    for spec, client in zip(specs, result["clients"], strict=True):
        done_seq[spec["session"]] = max(done_seq.get(spec["session"], 0), client["done_seq"])
    sync: list[float] = []
    for index, (spec, client) in enumerate(zip(specs, result["clients"], strict=True)):
        db = state[evaluation_of[spec["session"]]]
        # The value of each (bid, item) the client was answered ok for last.
        last: dict[str, tuple[float, bool]] = {}
        for ref, (at, command) in client["sent"].items():
            if command["type"] != "mark":
                continue
            if ref not in client["oks"]:
                unanswered += 1
                continue
            key = f"{spec['user']}|{command['bid'].replace('-', '')}|{command['item']}"
            if key not in last or at > last[key][0]:
                last[key] = (at, command["passed"])
        for key, (_at, passed) in last.items():
            checked += 1
            if db["marks"].get(key) is not passed:
                lost.append(f"client {index} {key}: sent {passed}, stored {db['marks'].get(key)}")
        seqs = client["seqs"]
        duplicated += sum(1 for a, b in itertools.pairwise(seqs) if b <= a)
        audiences = {"all", *({"staff"} if spec["role"] == "supervisor" else {f"expert:{spec['user']}"})}
        # Every event of its audiences from its snapshot until the last number any client of the session had
        # when the actors stopped (later ones, such as the presence of clients closing, may come after it left).
        bound = done_seq[spec["session"]]
        expected = {
            seq for seq, audience in db["events"] if audience in audiences and client["start_seq"] < seq <= bound
        }
        missed += len(expected - set(seqs))
        audience_of = dict(db["events"])
        foreign += sum(1 for seq in seqs if audience_of.get(seq, "all") not in audiences)
        if client["reconnects"]:
            if client["resumed_at"]:
                sync.append(client["resumed_at"][0] - result["killed_at"])
            else:
                sync.append(float("inf"))
    return {
        "marks_checked": checked,
        "lost": lost,
        "unanswered": unanswered,
        "duplicated": duplicated,
        "missed": missed,
        "foreign": foreign,
        "sync": sorted(sync),
        "reconnected": sum(1 for c in result["clients"] if c["reconnects"]),
    }


def errors_of(result: dict[str, Any]) -> list[str]:
    return [f"client {i}: {e}" for i, c in enumerate(result["clients"]) for e in c["errors"]]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=20, help="concurrent sessions (default 20)")
    parser.add_argument("--experts", type=int, default=9, help="experts per session (default 9), plus a supervisor")
    parser.add_argument("--bids", type=int, default=3, help="bids per tender (default 3, the fewest that is valid)")
    parser.add_argument("--duration", type=float, default=30, help="seconds each phase acts (default 30)")
    parser.add_argument("--interval", type=float, default=3, help="seconds between an expert's actions (default 3)")
    parser.add_argument("--kill", action=argparse.BooleanOptionalAction, default=True, help="the recovery phase")
    parser.add_argument("--seed", type=int, default=1, help="the actors' random start times")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/etender_bench_session"),
        help="a fresh database made here and dropped at the end (its name starts with etender_bench)",
    )
    parser.add_argument("--redis-url", default="", help="a loopback Redis to use instead of starting one")
    parser.add_argument("--tmp-dir", type=Path, default=None, help="where the temporary folder goes")
    parser.add_argument("--clients-child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.clients_child:
        return clients_child(*args.clients_child)
    if (
        args.sessions < 1
        or args.sessions * DAYS_PER_TENDER >= 700
        or args.experts < 2
        or not 3 <= args.bids <= 9
        or args.duration <= 0
    ):
        parser.error("--sessions 1 to 21, --experts ≥ 2, --bids 3 to 9 (the factory's prices), --duration > 0")

    work = Path(tempfile.mkdtemp(prefix="etender-bench-session-", dir=args.tmp_dir))
    redis_process: subprocess.Popen[bytes] | None = None
    daphnes: list[subprocess.Popen[bytes]] = []
    databases = contextlib.ExitStack()
    failed = True
    began = time.perf_counter()
    try:
        redis_process, redis_url, layer = channel_layer_redis(work, args.redis_url)
        for name in ("S3_ENDPOINT", "DATABASE_URL"):
            os.environ.pop(name, None)
        os.environ["DATABASE_URL"] = databases.enter_context(postgres_database(args.postgres_url))
        os.environ["REDIS_URL"] = redis_url
        os.environ["CHANNEL_LAYER_PREFIX"] = f"etender-bench-{secrets.token_hex(4)}"
        clients = args.sessions * (args.experts + 1)
        print(f"channel layer: channels_redis on {layer}; preparing {args.sessions} sessions ...", flush=True)
        ids = prepare_platform(args, work)
        ports = []
        for number in (1, 2):
            daphne, port = start_daphne(APPLICATION, dict(os.environ), work / f"daphne-{number}.log")
            daphnes.append(daphne)
            ports.append(port)
        print(f"Daphnes (pids {[d.pid for d in daphnes]}) on ports {ports}; {clients} clients", flush=True)
        servers = {f"Daphne {i + 1}": d.pid for i, d in enumerate(daphnes)}
        if redis_process is not None:
            servers["Redis"] = redis_process.pid
        specs = client_specs(ids, len(ports))
        subject = run_phase("session", args, work, ports, specs, servers)
        measured = latencies(subject, specs)
        fan = measured["fanout"]
        print(
            f"  session: {len(fan)} pairs, p50 {percentile(fan, 0.5) * 1e3:.1f} ms, "
            f"p99 {percentile(fan, 0.99) * 1e3:.1f} ms, missing {measured['missing']}",
            flush=True,
        )
        # The baseline: as many frames of the real frames' size, to the same sessions at the same moments.
        size = subject["message_frame_bytes"]
        frames = [(offset, session, size) for offset, session in measured["frames"]]
        bare = run_phase("bare", args, work, ports, specs, servers, bare_frames=frames)
        bare_lat, bare_missing = bare_latencies(bare, specs)
        print(
            f"  bare: {len(bare_lat)} pairs, p50 {percentile(bare_lat, 0.5) * 1e3:.1f} ms, "
            f"p99 {percentile(bare_lat, 0.99) * 1e3:.1f} ms, missing {bare_missing}",
            flush=True,
        )
        recovery: dict[str, Any] | None = None
        if args.kill:
            victim = daphnes[0]
            result = run_phase("recovery", args, work, ports, specs, {"Daphne 2": daphnes[1].pid}, kill=victim)
            state = database_state(ids)
            recovery = check_recovery(result, specs, ids, state)
            recovery["errors"] = errors_of(result)
        failed = False
    finally:
        for daphne in daphnes:
            stop_process(daphne)
        from django.db import connections

        connections.close_all()
        databases.close()
        stop_process(redis_process)
        if failed:
            print(f"failed: the work folder is kept in {work} (daphne-*.log)", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)

    import aiohttp
    import channels
    import channels_redis
    import daphne as daphne_module

    print()
    print(
        machine_line(
            Daphne=daphne_module.__version__,
            channels=channels.__version__,
            channels_redis=channels_redis.__version__,
            aiohttp=aiohttp.__version__,
        )
        + f"; {args.sessions} sessions × ({args.experts} experts + 1 supervisor) over 2 Daphnes, an action per "
        f"expert every {args.interval:g} s for {args.duration:g} s; took {time.perf_counter() - began:.0f} s"
    )
    p99, bare_p99 = percentile(fan, 0.99), percentile(bare_lat, 0.99)
    marks, from_event = measured["mark_ok"], measured["from_event"]
    head = ["variant", "pairs", "p50", "p95", "p99", "max", "missing"]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for name, values, lost in (
        ("session: `message` → `message.posted` at every other participant", fan, measured["missing"]),
        ("bare consumer, bare `group_send` from a long-lived loop (baseline)", bare_lat, bare_missing),
        ("session: the event made in the command's transaction → every other participant", from_event, 0),
        ("session: `mark` → its `ok` (the draft saved)", marks, 0),
    ):
        cells = [name, str(len(values)), *(f"{percentile(values, q) * 1e3:.1f} ms" for q in (0.5, 0.95, 0.99))]
        cells += [f"{values[-1] * 1e3:.1f} ms" if values else "-", str(lost)]
        print("| " + " | ".join(cells) + " |")
    met = p99 <= 0.050 and p99 <= 1.5 * bare_p99
    print(
        f"GOAL p99 ≤ 50 ms and ≤ 1.5× bare: p99 {p99 * 1e3:.1f} ms, bare {bare_p99 * 1e3:.1f} ms, "
        f"ratio {p99 / bare_p99:.2f}: {'met' if met else 'not met'}"
    )
    cpu = ", ".join(f"{name} {ms / max(1, len(measured['frames'])):.1f} ms" for name, ms in subject["cpu_ms"].items())
    print(f"CPU per message (and its mark) in the subject phase: {cpu}")
    for error in errors_of(subject)[:10] + errors_of(bare)[:10]:
        print(f"error: {error}")
    rows = [
        Row(
            "session_load",
            f"event latency p99, {args.sessions} sessions × {args.experts + 1}, 2 Daphnes",
            "message → message.posted at every other participant",
            "bare group_send → bare consumer",
            p99 / bare_p99,
            "<= 1.5",
            note=f"p99 session {p99 * 1e3:.1f} ms (goal ≤ 50 ms: {'met' if p99 <= 0.050 else 'not met'}), "
            f"bare {bare_p99 * 1e3:.1f} ms; mark → ok p99 {percentile(marks, 0.99) * 1e3:.1f} ms",
        )
    ]
    if recovery is not None:
        sync = recovery["sync"]
        print(
            f"RECOVERY: {recovery['reconnected']} clients reconnected to the other Daphne; back in sync "
            f"p50 {percentile(sync, 0.5) * 1e3:.0f} ms, max {sync[-1] * 1e3 if sync else float('nan'):.0f} ms after "
            f"the kill; marks answered ok {recovery['marks_checked']} checked, {len(recovery['lost'])} lost; "
            f"{recovery['unanswered']} never answered; events duplicated {recovery['duplicated']}, "
            f"missed {recovery['missed']}, of another audience {recovery['foreign']}"
        )
        for line in recovery["lost"][:10] + recovery["errors"][:10]:
            print(f"  {line}")
        rows.append(
            Row(
                "session_load",
                "recovery: one Daphne killed, every client back in sync",
                f"{recovery['reconnected']} clients resumed on the other process",
                "",
                sync[-1] if sync else float("nan"),
                unit="s",
                note=f"marks lost {len(recovery['lost'])} of {recovery['marks_checked']}, events duplicated "
                f"{recovery['duplicated']}, missed {recovery['missed']}",
            )
        )
    emit(rows)
    ok = recovery is None or not any(recovery[k] for k in ("lost", "duplicated", "missed", "foreign"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
