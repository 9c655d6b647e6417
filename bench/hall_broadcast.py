#!/usr/bin/env python3
"""Live updates in the opening hall (开标大厅): event latency to every connected participant, against a bare broadcast.

Everything runs on 127.0.0.1, in a temporary folder:

* a Redis server of its own (``redis-server`` on a free port, no persistence;
  or the loopback one in ``--redis-url``, under a prefix of its own), so that
  this process and Daphne share the Channels layer (``channels_redis``) as the
  worker and Daphne do in production;
* the platform (``ETENDER_ENV=test``, SQLite) with a tender whose ``--bids``
  bidders submitted real sealed bids (small ones, through the services) before
  the deadline, then the clock at the real time, past the opening; ``--clients``
  participants in all: one staff member of each bidder, the three custodians,
  two regulators and the tenderer's staff for the rest, each with a session
  (``django.test.Client.force_login``) and signed in to the hall
  (``opening.sign_in``);
* Daphne serving ``config.asgi:application`` untouched, through a wrapper
  (``bench.live:application``) that only adds the baseline's route
  ``/bench/bare/``;
* the participants' clients in a child process (``aiohttp`` WebSockets, one
  asyncio loop), so that their receiving does not share a GIL with the
  publisher.

Subject: every client opens ``ws/tenders/<id>/hall/`` with its session cookie,
asks for a snapshot, then ``--events`` events are published from this process
at ``--rate`` per second through the real path, ``hall_events.publish`` in a
transaction holding the opening's row lock (a ``bid.progress`` event, as the
decryption sends), and stamped at the commit (an ``on_commit`` registered
before the publish, so it runs before the send). Each client stamps every
event when it has it; latency = receive − commit, over every (event, client)
pair, on ``time.monotonic`` (one clock for every process on the machine).

Baseline, same run, same clients: a trivial consumer that joins one group and
sends every ``hall.event`` message's frame as JSON; the same number of frames of
the same size (the real events' frames) sent with ``channel_layer.group_send``
from this process the way ``hall_events`` sends (``async_to_sync``), stamped
just before the send. A third variant tells the consumer's share from the
publisher's: the same trivial consumer listening to the hall's ``all`` group,
fed by the real ``publish`` in its transaction. The three rotate ``--reps``
times, after a short untimed warm-up of each.

Printed: p50, p95, p99 and maximum latency of each, the ratio of the p99s, the
latency of the first and of the last client per event (the fan-out's spread),
the publisher's time per event (transaction and send), the CPU time per event
of Daphne, Redis, the publisher and the clients, the snapshot latency at
connect, and the pairs that never arrived (should be 0).

    .venv/bin/python bench/hall_broadcast.py --clients 60 --events 200 --rate 20 --reps 4
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import shutil
import statistics
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
    start_daphne,
    stop_process,
)
from bench.live import BARE_GROUP, BareSender, bare_path, channel_layer_redis

# The subject, the bare consumer fed by the subject's publisher (which of the two costs), the baseline.
KINDS = ("hall", "published", "bare")
NAMES = {
    "hall": "hall: `HallConsumer`, `publish` in the service's transaction",
    "published": "bare consumer in the hall's group, `publish` in the transaction",
    "bare": "bare consumer, bare `group_send` (baseline)",
}


# --- the clients (child process, no Django) ----------------------------------------------------------------------


async def run_clients(config: dict[str, Any]) -> dict[str, Any]:
    import aiohttp

    expected = config["events"]
    timeout = config["timeout"]
    urls = config.get("urls") or [config["url"]]  # client i uses urls[i % n]: Daphnes behind a round-robin
    headers_base = {"Origin": config["origin"]}
    received: list[dict[int, float]] = [{} for _ in config["cookies"]]
    snapshot_seconds: list[float] = []
    connect_seconds: list[float] = []  # from opening the socket to having the snapshot
    errors: list[str] = []

    async def connect(session: aiohttp.ClientSession, index: int, cookie: str) -> Any:
        headers = dict(headers_base)
        if cookie:
            headers["Cookie"] = cookie
        opened = time.monotonic()
        ws = await session.ws_connect(
            urls[index % len(urls)], headers=headers, max_msg_size=16 * 1024 * 1024, heartbeat=None
        )
        hello = json.loads((await ws.receive(timeout=30)).data)
        if hello.get("type") != "hello":
            raise RuntimeError(f"client {index}: {hello}")
        if config["snapshot"]:
            began = time.monotonic()
            await ws.send_str(json.dumps({"type": "snapshot", "ref": f"s{index}"}))
            while True:
                frame = json.loads((await ws.receive(timeout=30)).data)
                if frame.get("type") == "snapshot":
                    snapshot_seconds.append(time.monotonic() - began)
                    connect_seconds.append(time.monotonic() - opened)
                    if config.get("keep_snapshot") and index == 0:
                        Path(config["keep_snapshot"]).write_text(json.dumps(frame, ensure_ascii=False))
                    break
                if frame.get("type") == "error":
                    raise RuntimeError(f"client {index}: {frame}")
        return ws

    async def listen(index: int, ws: Any) -> None:
        mine = received[index]
        while len(mine) < expected:
            message = await ws.receive()
            now = time.monotonic()
            if message.type != aiohttp.WSMsgType.TEXT:
                errors.append(f"client {index}: {message.type.name} after {len(mine)} events")
                return
            frame = json.loads(message.data)
            if frame.get("type") == "event":
                mine[frame["seq"]] = now

    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        sockets = await asyncio.gather(*(connect(session, i, c) for i, c in enumerate(config["cookies"])))
        print("ready", flush=True)
        cpu_began = time.process_time()
        listeners = [asyncio.ensure_future(listen(i, ws)) for i, ws in enumerate(sockets)]
        _done, pending = await asyncio.wait(listeners, timeout=timeout)
        for task in pending:
            task.cancel()
        if pending:
            errors.append(f"{len(pending)} clients still waiting after {timeout} s")
        cpu_seconds = time.process_time() - cpu_began
        print("done", flush=True)
        await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
    return {
        "cpu_seconds": cpu_seconds,
        "received": [{str(k): v for k, v in mine.items()} for mine in received],
        "snapshot_seconds": snapshot_seconds,
        "connect_seconds": connect_seconds,
        "errors": errors,
    }


def clients_child(config_path: str, out_path: str) -> int:
    config = json.loads(Path(config_path).read_text())
    result = asyncio.run(run_clients(config))
    Path(out_path).write_text(json.dumps(result))
    return 0


# --- the platform ------------------------------------------------------------------------------------------------


def prepare_platform(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """The tender with its bids, the hall opened, every participant signed in with a session; returns the ids."""
    from bench.sealed_opening import SealedOpening

    bench = SealedOpening(argparse.Namespace(size_mib=4 / 1024, bids=args.bids, files=1), work)
    bench.setup_django()
    bench.prepare()

    from django.conf import settings
    from django.test import Client

    from accounts import credit_code
    from accounts.models import Organization, OrganizationKind, Role, RoleGrant, User
    from tendering.services.opening import admission

    participants: list[tuple[str, User]] = [("bidder", e["user"]) for e in bench.entries]
    participants += [("custodian", c) for c in bench.custodians]
    regulators = Organization.objects.create(
        name="瑞金市公共资源交易监督办",
        kind=OrganizationKind.REGULATOR,
        credit_code=credit_code.make("91360781MD0000001"),
    )
    for number in (1, 2):
        person = User.objects.create_user(
            username=f"bench_regulator{number}", display_name=f"监督{number}", organization=regulators
        )
        RoleGrant.objects.create(user=person, role=Role.REGULATOR)
        participants.append(("regulator", person))
    participants.append(("manager", bench.tenderer))
    number = 0
    while len(participants) < max(args.clients, args.connect_clients):
        number += 1
        person = User.objects.create_user(
            username=f"bench_staff{number}", display_name=f"招标人{number}", organization=bench.tenderer.organization
        )
        RoleGrant.objects.create(user=person, role=Role.TENDERER_STAFF)
        participants.append(("manager", person))
    participants = participants[: max(args.clients, args.connect_clients)]
    cookies = []
    for _, person in participants:
        admission.sign_in(person, bench.tender)
        client = Client()
        client.force_login(person)
        cookies.append(f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}")
    roles: dict[str, int] = {}
    for role, _ in participants:
        roles[role] = roles.get(role, 0) + 1
    from django.db import connections

    connections.close_all()
    from tendering import hall

    return {
        "all_group": hall.group_name(bench.tender.pk, hall.ALL),
        "tender": str(bench.tender.public_id),
        "opening": bench.opening.pk,
        "cookies": cookies,
        "roles": roles,
        "bids": [(str(e["bid"].public_id), e["size"]) for e in bench.entries],
    }


# --- one phase: clients connected, events published, latencies -----------------------------------------------------


class Publisher:
    def __init__(self, platform_ids: dict[str, Any]) -> None:
        self.ids = platform_ids
        self.counter = 0
        self.frames: list[dict[str, Any]] = []
        self.bare = BareSender()

    def hall_event(self) -> tuple[int, float, float]:
        """One ``bid.progress`` through ``hall_events.publish``; (seq, commit stamp, seconds from begin to sent)."""
        from django.db import transaction

        from tendering.hall_protocol import BidProgress
        from tendering.models import Opening
        from tendering.services.hall_events import event_frame, publish

        bid, total = self.ids["bids"][self.counter % len(self.ids["bids"])]
        self.counter += 1
        stamps: list[float] = []
        began = time.monotonic()
        with transaction.atomic():
            opening = Opening.objects.select_for_update().get(pk=self.ids["opening"])
            transaction.on_commit(lambda: stamps.append(time.monotonic()))
            position = self.counter % len(self.ids["bids"]) + 1
            event = publish(opening, BidProgress(bid=bid, position=position, bytes=total // 2, total=total))
        sent = time.monotonic()
        self.frames.append(event_frame(event))
        return event.seq, stamps[0], sent - began

    def bare_event(self, index: int) -> tuple[int, float, float]:
        """A frame of the same size (a real event's, renumbered) handed to ``group_send`` from the bench's
        long-lived loop; stamped before the send."""
        frame = dict(self.frames[index % len(self.frames)])
        frame["seq"] = index + 1
        began = time.monotonic()
        self.bare.send(BARE_GROUP, frame)
        return frame["seq"], began, time.monotonic() - began


def run_phase(
    kind: str,
    args: argparse.Namespace,
    work: Path,
    port: int,
    ids: dict[str, Any],
    publisher: Publisher,
    servers: dict[str, int],
) -> dict[str, Any]:
    origin = f"http://127.0.0.1:{port}"
    paths = {
        "hall": f"/ws/tenders/{ids['tender']}/hall/",
        "published": bare_path(group=ids["all_group"]),
        "bare": bare_path(),
    }
    path = paths[kind]
    config = {
        "url": f"ws://127.0.0.1:{port}{path}",
        "origin": origin,
        "cookies": ids["cookies"][: args.clients] if kind == "hall" else [""] * args.clients,
        "snapshot": kind == "hall",
        "events": args.events,
        "timeout": args.events / (args.rate or 1000) + 60,
    }
    config_path = work / f"clients-{kind}.json"
    out_path = work / f"received-{kind}.json"
    config_path.write_text(json.dumps(config))
    child = subprocess.Popen(
        [*script_command("hall_broadcast"), "--clients-child", str(config_path), str(out_path)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        line = child.stdout.readline().strip()
        if line != "ready":
            raise SystemExit(f"the clients did not connect ({kind}): {line!r}")
        stamps: dict[int, float] = {}
        publish_seconds: list[float] = []
        cpu_before = {name: cpu_seconds(pid) for name, pid in servers.items()}
        cpu_before["publisher"] = time.process_time()
        began = time.monotonic()
        for index in range(args.events):
            if args.rate:
                delay = began + index / args.rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            seq, stamp, seconds = publisher.bare_event(index) if kind == "bare" else publisher.hall_event()
            stamps[seq] = stamp
            publish_seconds.append(seconds)
        cpu_after_publishing = time.process_time()
        child.stdout.readline()  # "done": every client has every event (or gave up), before they close
        cpu_after = {name: cpu_seconds(pid) for name, pid in servers.items()}
        cpu_after["publisher"] = cpu_after_publishing
        child.wait(timeout=config["timeout"] + 30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    if child.returncode:
        raise SystemExit(f"the clients failed ({kind}, exit {child.returncode})")
    result = json.loads(out_path.read_text())
    latencies: list[float] = []
    timeline: list[tuple[float, float, float]] = []  # per event in order: when it was committed, first, last
    first: list[float] = []  # per event, the client that had it first
    last: list[float] = []  # and the one that had it last: the fan-out's spread
    missing = 0
    for seq, stamp in stamps.items():
        arrivals = [mine[str(seq)] - stamp for mine in result["received"] if str(seq) in mine]
        missing += len(result["received"]) - len(arrivals)
        latencies.extend(arrivals)
        if arrivals:
            first.append(min(arrivals))
            last.append(max(arrivals))
            timeline.append((stamp, min(arrivals), max(arrivals)))
    latencies.sort()
    return {
        "kind": kind,
        "latencies": latencies,
        "timeline": timeline,
        # CPU per event while the events flowed: from the first publish until every client has every event.
        "cpu_ms_per_event": {
            **{name: (cpu_after[name] - cpu_before[name]) * 1e3 / args.events for name in cpu_after},
            "clients": result["cpu_seconds"] * 1e3 / args.events,
        },
        "first": sorted(first),
        "last": sorted(last),
        "missing": missing,
        "errors": result["errors"],
        "snapshot_seconds": sorted(result["snapshot_seconds"]),
        "publish_seconds": sorted(publish_seconds),
    }


def run_connect_phase(
    kind: str, args: argparse.Namespace, work: Path, ports: list[int], ids: dict[str, Any], pids: list[int]
) -> tuple[list[float], float]:
    """``--connect-clients`` clients open their sockets at once and each asks for a snapshot; the seconds from
    opening the socket to having the snapshot, each. ``hall``: the platform's hall (session cookies, the real
    consumer); ``bare``: the bare consumer answering with the text of a real snapshot, no database."""
    canned = work / "snapshot.json"
    path = f"/ws/tenders/{ids['tender']}/hall/"
    if kind == "bare":
        path = bare_path(snapshot=str(canned))
    count = args.connect_clients
    config = {
        "url": "",
        "urls": [f"ws://127.0.0.1:{port}{path}" for port in ports],
        "origin": f"http://127.0.0.1:{ports[0]}",
        "cookies": ids["cookies"][:count] if kind == "hall" else [""] * count,
        "snapshot": True,
        "keep_snapshot": str(canned) if kind == "hall" else "",
        "events": 0,
        "timeout": 120,
    }
    config_path = work / f"connect-{kind}.json"
    out_path = work / f"connected-{kind}.json"
    config_path.write_text(json.dumps(config))
    cpu_before = sum(cpu_seconds(pid) for pid in pids)
    subprocess.run(
        [*script_command("hall_broadcast"), "--clients-child", str(config_path), str(out_path)],
        stdout=subprocess.DEVNULL,
        check=True,
        timeout=300,
    )
    cpu = sum(cpu_seconds(pid) for pid in pids) - cpu_before
    result = json.loads(out_path.read_text())
    if result["errors"] or len(result["connect_seconds"]) != count:
        raise SystemExit(f"connect phase {kind}: {result['errors']}, {len(result['connect_seconds'])} of {count}")
    return sorted(result["connect_seconds"]), cpu * 1e3 / count


def touch_hall(ids: dict[str, Any]) -> None:
    """One event, so that the hall's number moves and the next connect builds its view again (as after a change)."""
    from django.db import transaction

    from tendering.hall_protocol import BidProgress
    from tendering.models import Opening
    from tendering.services.hall_events import publish

    bid, total = ids["bids"][0]
    with transaction.atomic():
        opening = Opening.objects.select_for_update().get(pk=ids["opening"])
        publish(opening, BidProgress(bid=bid, position=1, bytes=total // 2, total=total))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=60, help="participants connected (default 60)")
    parser.add_argument("--bids", type=int, default=50, help="bids in the opening, one bidder client each (default 50)")
    parser.add_argument("--events", type=int, default=200, help="events per phase (default 200)")
    parser.add_argument("--rate", type=float, default=20, help="events per second (default 20; 0: back to back)")
    parser.add_argument("--reps", type=int, default=4, help="phases of each kind, alternating (default 4)")
    parser.add_argument(
        "--connect-clients", type=int, default=240, help="clients that connect at once for a snapshot (default 240)"
    )
    parser.add_argument("--connect-reps", type=int, default=3, help="connect phases of each kind (default 3)")
    parser.add_argument(
        "--connect-daphnes",
        type=int,
        default=2,
        help="Daphnes the connecting clients are spread over, round-robin (deploy/ runs two behind nginx; default 2)",
    )
    parser.add_argument(
        "--database",
        choices=["postgresql", "sqlite"],
        default="sqlite",
        help="the platform's database: the embedded SQLite file (default) or PostgreSQL as deployed "
        "(a fresh database at --postgres-url, dropped at the end)",
    )
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/etender_bench_hall"),
    )
    parser.add_argument("--redis-url", default="", help="a loopback Redis to use instead of starting one")
    parser.add_argument("--tmp-dir", type=Path, default=None, help="where the temporary folder goes")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures as JSON here")
    parser.add_argument("--clients-child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.clients_child:
        return clients_child(*args.clients_child)
    if args.bids < 1 or args.clients < args.bids + 3 or args.events < 1 or args.reps < 1 or args.rate < 0:
        parser.error("--clients must leave room for the bidders and the custodians; --events, --reps at least 1")

    work = Path(tempfile.mkdtemp(prefix="etender-bench-hall-", dir=args.tmp_dir))
    redis_process: subprocess.Popen[bytes] | None = None
    daphne: subprocess.Popen[bytes] | None = None
    more_daphnes: list[subprocess.Popen[bytes]] = []
    databases = contextlib.ExitStack()
    failed = True
    began = time.perf_counter()
    phases: list[dict[str, Any]] = []
    try:
        redis_process, redis_url, layer = channel_layer_redis(work, args.redis_url)
        for name in ("S3_ENDPOINT", "DATABASE_URL"):
            os.environ.pop(name, None)
        if args.database == "postgresql":
            os.environ["DATABASE_URL"] = databases.enter_context(postgres_database(args.postgres_url))
        os.environ["REDIS_URL"] = redis_url
        os.environ["CHANNEL_LAYER_PREFIX"] = f"etender-bench-{secrets.token_hex(4)}"
        print(f"channel layer: channels_redis on {layer}; preparing {args.bids} bids ...", flush=True)
        ids = prepare_platform(args, work)
        daphne, port = start_daphne("bench.live:application", dict(os.environ), work / "daphne.log")
        print(
            f"Daphne (pid {daphne.pid}) on 127.0.0.1:{port}; {len(ids['cookies'])} participants {ids['roles']}",
            flush=True,
        )
        publisher = Publisher(ids)
        # A few untimed events first: connections to Redis and the database, Daphne's first frames.
        warm = argparse.Namespace(**{**vars(args), "events": 10, "rate": 0})
        servers = {"Daphne": daphne.pid}
        if redis_process is not None:
            servers["Redis"] = redis_process.pid
        for kind in KINDS:
            run_phase(kind, warm, work, port, ids, publisher, servers)
        for rep in range(args.reps):
            for kind in KINDS[rep % len(KINDS) :] + KINDS[: rep % len(KINDS)]:
                phase = run_phase(kind, args, work, port, ids, publisher, servers)
                phases.append(phase)
                lat = phase["latencies"]
                print(
                    f"  {kind} rep {rep + 1}: p50 {percentile(lat, 0.5) * 1e3:.1f} ms, "
                    f"p99 {percentile(lat, 0.99) * 1e3:.1f} ms, missing {phase['missing']}",
                    flush=True,
                )
        connects: dict[str, list[float]] = {"hall": [], "bare": []}
        connect_cpu: dict[str, list[float]] = {"hall": [], "bare": []}
        ports = [port]
        for number in range(2, args.connect_daphnes + 1):
            extra, extra_port = start_daphne("bench.live:application", dict(os.environ), work / f"daphne-{number}.log")
            more_daphnes.append(extra)
            ports.append(extra_port)
        if args.connect_clients:
            pids = [daphne.pid, *(extra.pid for extra in more_daphnes)]
            run_connect_phase("hall", args, work, ports, ids, pids)  # untimed: keeps one snapshot for the bare variant
            for rep in range(args.connect_reps):
                for kind in ("hall", "bare") if rep % 2 == 0 else ("bare", "hall"):
                    if kind == "hall":
                        touch_hall(ids)  # every timed phase of the hall builds its view once, as after a change
                    seconds, cpu_ms = run_connect_phase(kind, args, work, ports, ids, pids)
                    connects[kind].extend(seconds)
                    connect_cpu[kind].append(cpu_ms)
                    print(
                        f"  connect {kind} rep {rep + 1}: {len(seconds)} clients, p50 "
                        f"{percentile(seconds, 0.5) * 1e3:.0f} ms, p99 {percentile(seconds, 0.99) * 1e3:.0f} ms; "
                        f"Daphne CPU {cpu_ms:.1f} ms per client",
                        flush=True,
                    )
        failed = False
    finally:
        for extra in more_daphnes:
            stop_process(extra)
        stop_process(daphne)
        if args.database == "postgresql":
            from django.db import connections

            connections.close_all()
        databases.close()
        stop_process(redis_process)
        if failed:
            print(f"failed: the work folder is kept in {work} (daphne.log)", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)

    import aiohttp
    import channels
    import channels_redis
    import daphne as daphne_module

    versions = {
        "Daphne": daphne_module.__version__,
        "channels": channels.__version__,
        "channels_redis": channels_redis.__version__,
        "aiohttp": aiohttp.__version__,
    }
    print()
    print(
        f"{machine_line(**versions)}; {args.clients} clients, {args.events} events "
        f"per phase at {args.rate:g}/s, {args.reps} phases of each; database {args.database}; "
        f"took {time.perf_counter() - began:.0f} s"
    )
    merged = {}
    for kind in KINDS:
        mine = [p for p in phases if p["kind"] == kind]
        merged[kind] = {
            "latencies": sorted(x for p in mine for x in p["latencies"]),
            "missing": sum(p["missing"] for p in mine),
            "first": sorted(x for p in mine for x in p["first"]),
            "last": sorted(x for p in mine for x in p["last"]),
            "publish": sorted(x for p in mine for x in p["publish_seconds"]),
            "errors": [e for p in mine for e in p["errors"]],
        }
    head = [
        "variant",
        "pairs",
        "p50",
        "p95",
        "p99",
        "max",
        "missing",
        "first client per event (p50 / p99)",
        "last client per event (p50 / p99)",
        "publisher per event (p50 / p99)",
    ]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for kind in KINDS:
        m = merged[kind]
        lat = m["latencies"]
        cells = [
            NAMES[kind],
            str(len(lat)),
            *(f"{percentile(lat, q) * 1e3:.1f} ms" for q in (0.5, 0.95, 0.99)),
            f"{lat[-1] * 1e3:.1f} ms" if lat else "-",
            str(m["missing"]),
            f"{percentile(m['first'], 0.5) * 1e3:.1f} / {percentile(m['first'], 0.99) * 1e3:.1f} ms",
            f"{percentile(m['last'], 0.5) * 1e3:.1f} / {percentile(m['last'], 0.99) * 1e3:.1f} ms",
            f"{percentile(m['publish'], 0.5) * 1e3:.1f} / {percentile(m['publish'], 0.99) * 1e3:.1f} ms",
        ]
        print("| " + " | ".join(cells) + " |")
    hall_p99 = percentile(merged["hall"]["latencies"], 0.99)
    bare_p99 = percentile(merged["bare"]["latencies"], 0.99)
    published_p99 = percentile(merged["published"]["latencies"], 0.99)
    print(
        f"RATIO p99 hall / bare: {hall_p99 / bare_p99:.2f} "
        f"(bare consumer fed by publish / bare: {published_p99 / bare_p99:.2f})"
    )
    for kind in KINDS:
        mine = [p for p in phases if p["kind"] == kind]
        per_rep = ", ".join(f"{percentile(p['latencies'], 0.99) * 1e3:.0f}" for p in mine)
        cpu = {
            name: statistics.median(p["cpu_ms_per_event"][name] for p in mine) for name in mine[0]["cpu_ms_per_event"]
        }
        print(
            f"{kind}: p99 of each phase {per_rep} ms; CPU per event (median of the phases): "
            + ", ".join(f"{name} {ms:.1f} ms" for name, ms in cpu.items())
        )
    snapshots = sorted(x for p in phases if p["kind"] == "hall" for x in p["snapshot_seconds"])
    print(
        f"snapshot at connect ({len(snapshots)} asked at once, {args.reps} times): "
        f"p50 {percentile(snapshots, 0.5) * 1e3:.0f} ms, max {snapshots[-1] * 1e3:.0f} ms"
    )
    if args.connect_clients:
        for kind, label in (
            ("hall", "hall: HallConsumer, session, membership, snapshot"),
            ("bare", "bare consumer, canned snapshot"),
        ):
            seconds = sorted(connects[kind])
            print(
                f"connect to snapshot, {args.connect_clients} at once over {args.connect_daphnes} Daphne(s) ({label}): "
                + ", ".join(f"p{round(q * 100)} {percentile(seconds, q) * 1e3:.0f} ms" for q in (0.5, 0.95, 0.99))
                + f", max {seconds[-1] * 1e3:.0f} ms; Daphne CPU per client (median of the phases) "
                + f"{statistics.median(connect_cpu[kind]):.1f} ms"
            )
    for kind in KINDS:
        for error in merged[kind]["errors"]:
            print(f"{kind}: {error}")
    if args.json:
        args.json.write_text(json.dumps({"phases": phases}, indent=2))
    emit(
        [
            Row(
                "hall_broadcast",
                f"event latency p99, {args.clients} participants",
                "hall: publish in the transaction → HallConsumer",
                "bare group_send → bare consumer",
                hall_p99 / bare_p99,
                "<= 1.5" if args.clients == 60 else "",
                note=f"p99 hall {hall_p99 * 1e3:.1f} ms, bare {bare_p99 * 1e3:.1f} ms, "
                f"bare consumer fed by publish {published_p99 * 1e3:.1f} ms",
            ),
            *(
                [
                    Row(
                        "hall_broadcast",
                        f"connect to snapshot p99, {args.connect_clients} clients at once, "
                        f"{args.connect_daphnes} Daphnes",
                        "HallConsumer: session, membership, snapshot",
                        "bare consumer, canned snapshot",
                        percentile(sorted(connects["hall"]), 0.99),
                        "<= 1" if args.connect_clients >= 240 else "",
                        unit="s",
                        note=(
                            f"bare p99 {percentile(sorted(connects['bare']), 0.99) * 1e3:.0f} ms; Daphne CPU per "
                            f"client {statistics.median(connect_cpu['hall']):.1f} ms "
                            f"(bare {statistics.median(connect_cpu['bare']):.1f}): about 1.8 ms the session, user, "
                            "membership and hall number through the ORM, the rest the Redis round trips, the "
                            "hops to the database threads and the frames (docs/benchmarks.md)"
                        ),
                    )
                ]
                if args.connect_clients
                else []
            ),
        ]
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
