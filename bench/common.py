"""What every benchmark needs, written once: set-up, servers, measuring, the report's rows.

The scripts in bench/ import this module as ``bench.common``; run as scripts
(``.venv/bin/python bench/x.py``) they first put the repository root on
``sys.path`` (see any of them). Nothing here sets Django up on import.

Reporting: each bench ends by handing its headline figures to :func:`emit`
as :class:`Row` objects (bench, measure, subject, baseline, ratio, goal).
They are printed as a table, and, when ``ETENDER_BENCH_ROWS`` names a file
(``make bench``, see ``bench/run_all.py``), appended to it as JSON lines so that
one table of every bench can be printed at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import importlib.util
import json
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
VENV_BIN = Path(sys.executable).parent
MiB = 1024 * 1024
GiB = 1024 * MiB
SEGMENT = 1 << 20
PART_SIZE = 8 * MiB
LOOPBACK = ("127.0.0.1", "localhost", "::1")
#: memstore keeps everything in RAM and RGW frees deleted data only after its GC delay (hours):
#: above this estimate of bytes written, the OSD uses bluestore on a sparse file instead.
MEMSTORE_LIMIT = 3 * GiB
#: ``make bench`` sets it: the file each bench appends its rows to (JSON lines).
ROWS_ENV = "ETENDER_BENCH_ROWS"

T = TypeVar("T")


# --- set-up -------------------------------------------------------------------------------------------------------


def setup_django(var_dir: Path, **env: str | None) -> None:
    """The platform in test mode with a throw-away ``ETENDER_VAR_DIR``; ``env`` sets (or, with None, removes) more.

    Configured once per process: benches that need a fresh platform per size run a child per size.
    """
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    os.environ.update(
        {"DJANGO_SETTINGS_MODULE": "config.settings", "ETENDER_ENV": "test", "ETENDER_VAR_DIR": str(var_dir)}
    )
    for name, value in env.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    import django

    django.setup()


def bench_tender_input(number: str, title: str, deadline: Any, custodian_ids: list[int]) -> Any:
    """The benches' open tender of one lot, its opening at its deadline, k = 2 of the custodians given.

    Django must be set up first (``setup_django``)."""
    import datetime as dt
    from decimal import Decimal

    from tendering.method import default_method
    from tendering.models import EvaluationMethod, ProcedureType
    from tendering.services import tenders

    return tenders.TenderInput(
        number=number,
        title=title,
        description="",
        procedure_type=ProcedureType.OPEN,
        budget=Decimal("8650000.00"),
        bid_deadline=deadline,
        opening_time=deadline,
        enquiry_deadline=deadline - dt.timedelta(days=10),
        evaluation_method=EvaluationMethod.COMPREHENSIVE,
        custodian_ids=custodian_ids,
        custodian_threshold=2,
        lots=[tenders.LotInput(1, "路面工程", Decimal("6000000.00"))],
        method=default_method(EvaluationMethod.COMPREHENSIVE),
    )


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def check_loopback(url: str) -> None:
    """Benchmarks send traffic to this machine only: a URL naming another host stops the bench."""
    host = urllib.parse.urlsplit(url if "//" in url else "//" + url).hostname or ""
    if host not in LOOPBACK:
        raise SystemExit(f"{url} is not on this machine: benchmarks send traffic to 127.0.0.1 only")


def write_random(path: Path, size: int) -> None:
    """``size`` random bytes (incompressible, as scanned PDFs are) into ``path``."""
    with open(path, "wb") as f:
        left = size
        while left:
            chunk = os.urandom(min(left, 8 * MiB))
            f.write(chunk)
            left -= len(chunk)


def file_sha256(path: Path, size: int | None = None) -> str:
    """SHA-256 of the first ``size`` bytes of ``path`` (all of it by default)."""
    digest = hashlib.sha256()
    left = path.stat().st_size if size is None else size
    with open(path, "rb") as f:
        while left and (chunk := f.read(min(left, MiB))):
            digest.update(chunk)
            left -= len(chunk)
    return digest.hexdigest()


def run_child(command: Sequence[str], out: Path, *, timeout: float, env: Mapping[str, str] | None = None) -> Any:
    """Runs ``command`` (a bench re-invoking itself with ``--child``), which writes its JSON result to ``out``."""
    subprocess.run(list(command), check=True, timeout=timeout, env=None if env is None else dict(env), cwd=ROOT)
    return json.loads(out.read_text())


def script_command(script: str, *args: str) -> list[str]:
    """``python bench/<script>.py args…``: how a bench starts a child of itself."""
    return [sys.executable, str(BENCH / f"{script}.py"), *args]


def stop_process(process: subprocess.Popen[Any] | None, timeout: float = 15) -> None:
    """Terminates, waits, kills if need be."""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def wait_until(ready: Callable[[], bool], process: subprocess.Popen[Any], what: str, timeout: float = 60) -> None:
    """Polls ``ready`` until it is true; stops the bench if ``process`` dies first or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if ready():
                return
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            stop_process(process, 1)
            raise SystemExit(f"{what} did not start")
        time.sleep(0.1)


def start_daphne(
    application: str, env: Mapping[str, str], log: Path, probe: str | None = None, *, serve: bool = False
) -> tuple[subprocess.Popen[bytes], int]:
    """Daphne serving ``application`` on a free loopback port; ready once it accepts (or answers ``probe``).

    ``serve``: as the platform is deployed, ``python -m config.serve`` (Daphne with the platform's limits and
    its in-memory bid part bodies, config/streaming.py), instead of a bare ``daphne``.
    """
    port = free_port()
    daphne = [sys.executable, "-m", "config.serve"] if serve else [str(VENV_BIN / "daphne")]
    with open(log, "ab") as out:
        process = subprocess.Popen(
            [*daphne, "-b", "127.0.0.1", "-p", str(port), application],
            cwd=ROOT,
            env={**env, "PYTHONPATH": str(ROOT)},
            stdout=out,
            stderr=subprocess.STDOUT,
        )

    def ready() -> bool:
        if probe is None:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return True
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{probe}", timeout=5) as answer:
            answer.read()
        return True

    wait_until(ready, process, f"Daphne (see {log})")
    return process, port


@contextlib.contextmanager
def postgres_database(url: str) -> Iterator[str]:
    """A fresh PostgreSQL database of the bench's own at ``url`` (loopback, name ``etender_bench*``), dropped after."""
    import psycopg
    from psycopg import sql

    parts = urllib.parse.urlsplit(url)
    name = parts.path.lstrip("/")
    if parts.scheme not in ("postgres", "postgresql") or (parts.hostname or "") not in LOOPBACK:
        raise SystemExit(f"a benchmark database is a postgres:// URL on 127.0.0.1, not {url!r}")
    if not name.startswith("etender_bench"):
        raise SystemExit("the benchmark database's name must start with etender_bench (it is dropped at the end)")
    admin = urllib.parse.urlunsplit(parts._replace(path="/postgres"))

    def run(statement: str) -> None:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(sql.SQL(statement).format(sql.Identifier(name)))

    run("DROP DATABASE IF EXISTS {} WITH (FORCE)")
    run("CREATE DATABASE {}")
    try:
        yield url
    finally:
        run("DROP DATABASE IF EXISTS {} WITH (FORCE)")


def start_redis(work: Path) -> tuple[subprocess.Popen[bytes], str]:
    """A ``redis-server`` of the bench's own on a free loopback port, no persistence; (process, URL)."""
    server = shutil.which("redis-server")
    if server is None:
        raise SystemExit("redis-server is not installed: give a loopback Redis URL instead")
    port = free_port()
    process = subprocess.Popen(
        [
            *(server, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no"),
            *("--dir", str(work), "--daemonize", "no", "--loglevel", "warning"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    import redis

    client = redis.Redis.from_url(url)

    def ready() -> bool:
        try:
            return bool(client.ping())
        except redis.exceptions.ConnectionError:
            return False

    try:
        wait_until(ready, process, "redis-server", timeout=20)
    finally:
        client.close()
    return process, url


# --- the S3 server ------------------------------------------------------------------------------------------------


@dataclass
class Server:
    endpoint: str
    access_key: str
    secret_key: str
    secure: bool
    description: str
    start_seconds: float | None = None
    stop: Callable[[], None] | None = None

    def environment(self) -> dict[str, str]:
        """The platform's settings that point at this server."""
        return {
            "S3_ENDPOINT": self.endpoint,
            "S3_ACCESS_KEY": self.access_key,
            "S3_SECRET_KEY": self.secret_key,
            "S3_SECURE": "true" if self.secure else "false",
        }

    def minio(self) -> Any:
        from minio import Minio

        return Minio(self.endpoint, access_key=self.access_key, secret_key=self.secret_key, secure=self.secure)


def load_server_module() -> ModuleType:
    """``deploy/s3_test_server.py`` (a script, not a package), imported by path as the tests do."""
    name = "etender_s3_test_server"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, ROOT / "deploy" / "s3_test_server.py")
    if spec is None or spec.loader is None:
        raise ImportError("cannot load deploy/s3_test_server.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def use_bluestore(rgw: ModuleType, block_bytes: int) -> None:
    """Makes ``rgw.start`` write a bluestore OSD (sparse block file in the cluster folder) instead of memstore."""
    original = rgw._ceph_conf

    def conf(*args: Any) -> str:
        text, count = re.subn(
            r"osd_objectstore = memstore\nmemstore_device_bytes = \d+\n",
            f"osd_objectstore = bluestore\nbluestore_block_create = true\nbluestore_block_size = {block_bytes}\n",
            original(*args),
        )
        if count != 1:
            raise RuntimeError("deploy/s3_test_server.py's ceph.conf changed: cannot switch the OSD to bluestore")
        return str(text)

    rgw._ceph_conf = conf


def external_server() -> Server | None:
    """The S3 server of ``S3_ENDPOINT`` (loopback only), or None when it is not set."""
    endpoint = os.environ.get("S3_ENDPOINT", "")
    if not endpoint:
        return None
    secure = os.environ.get("S3_SECURE", "true").strip().lower() in ("1", "true", "yes", "on")
    if endpoint.startswith(("http://", "https://")):
        secure = endpoint.startswith("https://")
        endpoint = endpoint.split("://", 1)[1].rstrip("/")
    check_loopback(endpoint)
    return Server(
        endpoint,
        os.environ.get("S3_ACCESS_KEY", ""),
        os.environ.get("S3_SECRET_KEY", ""),
        secure,
        f"external S3 server at {endpoint} (S3_ENDPOINT)",
    )


def start_ceph(directory: Path, osd: str, block_bytes: int) -> Server:
    """A one-node Ceph RGW in ``directory`` (``deploy/s3_test_server.py``); its daemons die with this process."""
    rgw = load_server_module()
    if not rgw.is_available():
        raise SystemExit("Ceph programs missing (deploy/install-system-deps.sh), and S3_ENDPOINT is not set")
    if osd == "bluestore":
        use_bluestore(rgw, block_bytes)
    cluster = rgw.start(directory, timeout=90.0, detach=False)
    return Server(
        cluster.endpoint,
        cluster.access_key,
        cluster.secret_key,
        False,
        f"Ceph RGW, one {osd} OSD, at {cluster.endpoint} ({rgw.radosgw_version()})",
        cluster.start_seconds,
        cluster.stop,
    )


def s3_server(directory: Path, osd: str, written: int) -> Server:
    """``S3_ENDPOINT``'s server, else a Ceph started here: memstore if ``written`` bytes fit, else bluestore."""
    server = external_server()
    if server is not None:
        return server
    chosen = osd if osd != "auto" else ("memstore" if written < MEMSTORE_LIMIT else "bluestore")
    print(f"starting Ceph RGW ({chosen} OSD; about {written / GiB:.1f} GiB will be written) ...", flush=True)
    server = start_ceph(directory, chosen, max(10 * GiB, 2 * written))
    print(f"{server.description}, started in {server.start_seconds:.1f} s", flush=True)
    return server


# --- measuring ----------------------------------------------------------------------------------------------------


def timed(run: Callable[..., T], *args: Any) -> tuple[float, T]:
    """(seconds taken, result) of ``run(*args)``."""
    began = time.perf_counter()
    result = run(*args)
    return time.perf_counter() - began, result


def median(values: Iterable[float]) -> float:
    return float(statistics.median(values))


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile of a sorted list (NaN when empty)."""
    if not sorted_values:
        return float("nan")
    rank = max(1, int(-(-fraction * len(sorted_values) // 1)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def proc_status(field: str, pid: int | str = "self") -> int:
    """A ``/proc/PID/status`` memory field in bytes (VmHWM, VmRSS)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise KeyError(field)


def reset_peak_rss(pid: int | str = "self") -> bool:
    """Resets a process's peak RSS (Linux ≥ 4.0: ``echo 5 > /proc/PID/clear_refs``); False if not allowed."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (``/proc/PID/stat``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def in_memory_rates(rounds: int = 256) -> dict[str, float]:
    """For scale: MiB/s of AES-256-GCM, SHA-256 and MD5 over a 1 MiB buffer in memory, one thread."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    data = memoryview(bytearray(os.urandom(SEGMENT - 16)))
    out = memoryview(bytearray(SEGMENT))
    aead = AESGCM(os.urandom(32))

    def rate(step: Callable[[int], object]) -> float:
        began = time.perf_counter()
        for index in range(rounds):
            step(index)
        return rounds * SEGMENT / MiB / (time.perf_counter() - began)

    sha, md5 = hashlib.sha256(), hashlib.md5(usedforsecurity=False)
    return {
        "AES-256-GCM": rate(lambda i: aead.encrypt_into(i.to_bytes(12, "big"), data, None, out)),
        "SHA-256": rate(lambda i: sha.update(out)),
        "MD5": rate(lambda i: md5.update(out)),
    }


# --- arguments ----------------------------------------------------------------------------------------------------


def parse_sizes(text: str) -> list[int]:
    """``"8,64,256"`` (MiB) → sorted distinct sizes in bytes."""
    sizes = sorted({int(float(part) * MiB) for part in text.split(",") if part.strip()})
    if not sizes or sizes[0] <= 0:
        raise argparse.ArgumentTypeError("sizes are positive numbers of MiB, e.g. 8,64,256")
    return sizes


def parse_mib(text: str) -> list[float]:
    """``"10,40"`` → MiB as given (fractions allowed), in order."""
    sizes = [float(part) for part in text.split(",") if part.strip()]
    if not sizes or min(sizes) <= 0:
        raise argparse.ArgumentTypeError("sizes are positive numbers of MiB, e.g. 10,40")
    return sizes


_UNITS = {"": 1, "B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "KB": 10**3, "MB": 10**6, "GB": 10**9}


def parse_size(text: str) -> int:
    """One size with a unit: ``1GiB``, ``512MiB``, ``1000000``."""
    match = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([KMG]i?B|B)?\s*", text)
    if not match:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (e.g. 1GiB, 512MiB, 1000000)")
    return int(float(match.group(1)) * _UNITS[match.group(2) or ""])


def int_list(text: str) -> list[int]:
    return sorted({int(part) for part in text.split(",") if part.strip()})


# --- report -------------------------------------------------------------------------------------------------------


def markdown_table(head: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A Markdown table (what docs/benchmarks.md holds)."""
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def machine_line(**versions: str) -> str:
    """Python, the named packages' versions, CPUs and load: the figures' context."""
    load = os.getloadavg()
    parts = [f"python {platform.python_version()}", *(f"{name} {version}" for name, version in versions.items())]
    return ", ".join(parts) + f"; {os.cpu_count()} CPUs, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"


_GOAL = re.compile(r"\s*(<=|>=|≤|≥)\s*([0-9.]+)\s*(\S*)\s*")


@dataclass(frozen=True)
class Row:
    """One headline figure of a bench: ``ratio`` of ``subject`` to ``baseline`` (or a value, with ``unit``).

    ``goal`` is ``"<= 1.5"`` / ``">= 0.6"`` (the issue's goal for this figure), or empty when there is none;
    ``note`` says where the time goes when it helps to read the figure.
    """

    bench: str
    measure: str
    subject: str
    baseline: str
    ratio: float
    goal: str = ""
    unit: str = "×"
    note: str = ""

    @property
    def met(self) -> bool | None:
        match = _GOAL.fullmatch(self.goal) if self.goal else None
        if match is None or self.ratio != self.ratio:  # no goal, or NaN
            return None
        limit = float(match.group(2))
        return self.ratio <= limit if match.group(1) in ("<=", "≤") else self.ratio >= limit

    def cells(self) -> list[str]:
        met = {True: "met", False: "not met", None: "—"}[self.met]
        value = f"{self.ratio:.2f}" + ("" if self.unit == "×" else f" {self.unit}")
        goal = self.goal.replace("<=", "≤").replace(">=", "≥") if self.goal else "—"
        return [self.bench, self.measure, self.subject, self.baseline or "—", value, goal, met]


ROW_HEAD = ["bench", "measure", "subject", "baseline", "ratio", "goal", "met"]


def rows_table(rows: Sequence[Row]) -> str:
    table = markdown_table(ROW_HEAD, [row.cells() for row in rows])
    notes = [f"- {row.bench}, {row.measure}: {row.note}" for row in rows if row.note]
    return table + ("\n" + "\n".join(notes) if notes else "")


def emit(rows: Sequence[Row]) -> None:
    """Prints a bench's headline rows, and appends them to ``$ETENDER_BENCH_ROWS`` (JSON lines) when set."""
    if not rows:
        return
    print("\n" + rows_table(rows), flush=True)
    target = os.environ.get(ROWS_ENV)
    if target:
        with open(target, "a", encoding="utf-8") as f:
            for row in rows:
                f.write(json.dumps(asdict(row), ensure_ascii=False) + "\n")


def read_rows(path: Path) -> list[Row]:
    """The rows ``emit`` appended to ``path``."""
    if not path.exists():
        return []
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            with contextlib.suppress(TypeError, ValueError):
                rows.append(Row(**json.loads(line)))
    return rows
