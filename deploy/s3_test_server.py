#!/usr/bin/env python3
"""A throw-away one-node Ceph RADOS Gateway (RGW): a real S3 server with object lock.

The test session starts one (``tests/fixtures/s3.py``); a developer can start one
by hand for ``make run`` or for poking at it with ``mc``/``aws``::

    python deploy/s3_test_server.py start /tmp/rgw     # prints S3_* lines to eval/export
    python deploy/s3_test_server.py status /tmp/rgw
    python deploy/s3_test_server.py stop /tmp/rgw

Everything lives in DIR: ceph.conf, the monitor's and OSD's data, logs
(``DIR/*.log`` from the daemons, ``DIR/*.out`` for their stdout/stderr) and
``DIR/state.json`` (endpoint, keys and the daemons' PIDs). The OSD uses memstore:
data lives in RAM and is lost when the OSD stops. All daemons listen on 127.0.0.1
only, on free ports; several clusters can run side by side in different folders.

The recipe and the settings that make it start in about a second are explained
in S3-TEST-SERVER.md (a monitor and an OSD are needed: Ceph 16 "Pacific" has no
standalone RGW backend). Needs the Debian packages radosgw, ceph-mon, ceph-osd
(``deploy/install-system-deps.sh``). Only the standard library is used so this
file runs with any Python 3.11.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field, fields
from pathlib import Path

REQUIRED_BINARIES = ("ceph-authtool", "monmaptool", "ceph-mon", "ceph-osd", "ceph", "radosgw", "radosgw-admin")
STATE_FILE = "state.json"
DEFAULT_TIMEOUT = 60.0
_COMMAND_TIMEOUT = 30.0


class S3TestServerError(RuntimeError):
    """The cluster could not be started; the message says where its logs are."""


@dataclass
class S3TestServer:
    """A running cluster: what a client needs, and what ``stop`` needs."""

    directory: str
    endpoint: str  # host:port, plain HTTP
    access_key: str
    secret_key: str
    pids: list[int] = field(default_factory=list)  # in start order; stopped in reverse
    start_seconds: float = 0.0
    secure: bool = False
    # Handles of the daemons when they were started by this process (to reap them).
    _processes: list[subprocess.Popen[bytes]] = field(default_factory=list, repr=False, compare=False)

    @property
    def url(self) -> str:
        return f"http://{self.endpoint}"

    def env_lines(self) -> list[str]:
        return [
            f"S3_ENDPOINT={self.endpoint}",
            f"S3_ACCESS_KEY={self.access_key}",
            f"S3_SECRET_KEY={self.secret_key}",
            "S3_SECURE=false",
        ]

    def stop(self, timeout: float = 15.0) -> None:
        """Stops the daemons in reverse start order and removes the state file."""
        by_pid = {p.pid: p for p in self._processes}
        for pid in reversed(self.pids):
            _stop_pid(pid, by_pid.get(pid), timeout)
        self._processes.clear()
        with contextlib.suppress(FileNotFoundError):
            (Path(self.directory) / STATE_FILE).unlink()


def is_available() -> bool:
    """True when every Ceph program the recipe needs is on PATH."""
    return all(shutil.which(name) for name in REQUIRED_BINARIES)


def radosgw_version() -> str:
    """``radosgw --version``'s first line, e.g. 'ceph version 16.2.15 (...) pacific (stable)'."""
    out = subprocess.run(
        ["radosgw", "--version"],  # noqa: S607
        capture_output=True,
        text=True,
        timeout=_COMMAND_TIMEOUT,
        check=False,
    )
    return (out.stdout or out.stderr).strip().splitlines()[0] if (out.stdout or out.stderr) else "unknown"


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (the daemon binds it a moment later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _ceph_conf(d: Path, fsid: str, mon_port: int, rgw_port: int) -> str:
    return f"""[global]
fsid = {fsid}
mon_host = v2:127.0.0.1:{mon_port}
public_addr = 127.0.0.1
ms_bind_msgr1 = false
auth_cluster_required = none
auth_service_required = none
auth_client_required = none
run_dir = {d}/run
admin_socket = {d}/run/$name.asok
log_file = {d}/$name.log
pid_file = {d}/run/$name.pid
keyring = {d}/keyring
osd_pool_default_size = 1
osd_pool_default_min_size = 1
osd_pool_default_pg_num = 8
osd_pool_default_pgp_num = 8
osd_pool_default_pg_autoscale_mode = off
osd_crush_chooseleaf_type = 0
mon_allow_pool_size_one = true
mon_max_pg_per_osd = 1000
objecter_tick_interval = 0.5
[mon]
mon_data = {d}/mon.$id
paxos_propose_interval = 0.05
paxos_min_wait = 0.01
[osd]
osd_data = {d}/osd.$id
osd_objectstore = memstore
memstore_device_bytes = 4294967296
[client.rgw.a]
rgw_frontends = beast endpoint=127.0.0.1:{rgw_port}
ms_mon_client_mode = crc
rgw_dns_name = 127.0.0.1
"""


def _run(args: list[str], env: dict[str, str], d: Path) -> str:
    try:
        done = subprocess.run(  # noqa: S603 (fixed Ceph programs, arguments built here)
            args, env=env, cwd=d, capture_output=True, text=True, timeout=_COMMAND_TIMEOUT, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise S3TestServerError(f"{' '.join(args)} did not finish in {_COMMAND_TIMEOUT:.0f} s; logs in {d}") from exc
    if done.returncode != 0:
        raise S3TestServerError(
            f"{' '.join(args)} failed ({done.returncode}): {done.stderr.strip() or done.stdout.strip()}; logs in {d}"
        )
    return done.stdout


def _die_with_parent() -> None:
    """In the child before exec: be killed when the process that started us dies (Linux)."""
    with contextlib.suppress(OSError, AttributeError):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)


def _spawn(name: str, args: list[str], env: dict[str, str], d: Path, detach: bool) -> subprocess.Popen[bytes]:
    with open(d / f"{name}.out", "wb") as out:
        # detach: a new session, so the daemons outlive the `start` command and its shell.
        # Otherwise they die with the process that started them, even if it is killed.
        return subprocess.Popen(  # noqa: S603 (fixed Ceph programs, arguments built here)
            args,
            env=env,
            cwd=d,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=detach,
            preexec_fn=None if detach else _die_with_parent,
        )


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie still answers kill(0): reap it if it is ours, else read its state.
    try:
        reaped, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return True
        return stat.rsplit(")", 1)[-1].split()[0] != "Z"
    return reaped == 0


def _stop_pid(pid: int, process: subprocess.Popen[bytes] | None, timeout: float) -> None:
    if process is not None:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout)
        return
    if not _alive(pid):
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid):
            return
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def _wait_http_200(url: str, processes: list[subprocess.Popen[bytes]], deadline: float, d: Path) -> None:
    last = "no answer"
    while time.monotonic() < deadline:
        for p in processes:
            if p.poll() is not None:
                command = " ".join(map(str, p.args)) if isinstance(p.args, list) else str(p.args)
                raise S3TestServerError(f"`{command}` exited with {p.returncode} during start; logs in {d}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (http://127.0.0.1 only)
                if response.status == 200:
                    return
                last = f"HTTP {response.status}"
        except urllib.error.HTTPError as exc:
            last = f"HTTP {exc.code}"
        except (urllib.error.URLError, OSError) as exc:
            last = str(exc)
        time.sleep(0.05)
    raise S3TestServerError(f"RGW at {url} did not answer 200 in time (last: {last}); logs in {d}")


def start(directory: str | os.PathLike[str], *, timeout: float = DEFAULT_TIMEOUT, detach: bool = True) -> S3TestServer:
    """Creates a cluster in ``directory`` (made if missing, must hold no running cluster) and starts it.

    Returns once RGW answers HTTP 200 and the S3 user exists. On any failure the
    daemons already started are killed and ``S3TestServerError`` names the log folder.
    ``detach=False`` (tests) ties the daemons' lives to the calling process: they
    are killed if it dies without calling ``stop``.
    """
    if not is_available():
        missing = [n for n in REQUIRED_BINARIES if not shutil.which(n)]
        raise S3TestServerError(f"Ceph programs missing: {', '.join(missing)} (deploy/install-system-deps.sh)")
    began = time.monotonic()
    deadline = began + timeout
    d = Path(directory).resolve()
    if (d / STATE_FILE).exists():
        raise S3TestServerError(f"{d} already holds a cluster ({STATE_FILE}); stop it first")
    d.mkdir(parents=True, exist_ok=True)
    (d / "run").mkdir(exist_ok=True)
    fsid = str(uuid.uuid4())
    mon_port, rgw_port = free_port(), free_port()
    while rgw_port == mon_port:
        rgw_port = free_port()
    conf = d / "ceph.conf"
    conf.write_text(_ceph_conf(d, fsid, mon_port, rgw_port))
    env = {**os.environ, "CEPH_CONF": str(conf)}
    processes: list[subprocess.Popen[bytes]] = []
    access_key = "ETENDER" + secrets.token_hex(6).upper()
    secret_key = secrets.token_urlsafe(30)
    try:
        _run(
            [
                "ceph-authtool",
                "--create-keyring",
                str(d / "keyring"),
                "--gen-key",
                "-n",
                "mon.",
                "--cap",
                "mon",
                "allow *",
            ],
            env,
            d,
        )
        _run(
            ["monmaptool", "--create", "--fsid", fsid, "--addv", "a", f"[v2:127.0.0.1:{mon_port}]", str(d / "monmap")],
            env,
            d,
        )
        _run(["ceph-mon", "--mkfs", "-i", "a", "--monmap", str(d / "monmap"), "--keyring", str(d / "keyring")], env, d)
        processes.append(_spawn("mon.a", ["ceph-mon", "-f", "-i", "a"], env, d, detach))
        osd_uuid = str(uuid.uuid4())
        osd_id = _run(["ceph", "--connect-timeout", "20", "osd", "new", osd_uuid], env, d).strip()
        if not osd_id.isdigit():
            raise S3TestServerError(f"`ceph osd new` answered {osd_id!r}; logs in {d}")
        (d / f"osd.{osd_id}").mkdir(exist_ok=True)
        _run(["ceph-osd", "-i", osd_id, "--mkfs", "--osd-uuid", osd_uuid], env, d)
        processes.append(_spawn(f"osd.{osd_id}", ["ceph-osd", "-f", "-i", osd_id], env, d, detach))
        processes.append(_spawn("client.rgw.a", ["radosgw", "-f", "-n", "client.rgw.a"], env, d, detach))
        # As client.admin (the default), not client.rgw.a: both would want one admin socket.
        _run(
            [
                "radosgw-admin",
                "user",
                "create",
                "--uid=etender-tests",
                "--display-name=etender tests",
                f"--access-key={access_key}",
                f"--secret-key={secret_key}",
            ],
            env,
            d,
        )
        _wait_http_200(f"http://127.0.0.1:{rgw_port}/", processes, deadline, d)
    except BaseException:
        for p in reversed(processes):
            if p.poll() is None:
                p.kill()
                p.wait()
        raise
    server = S3TestServer(
        directory=str(d),
        endpoint=f"127.0.0.1:{rgw_port}",
        access_key=access_key,
        secret_key=secret_key,
        pids=[p.pid for p in processes],
        start_seconds=round(time.monotonic() - began, 3),
    )
    server._processes = processes
    state = {f.name: getattr(server, f.name) for f in fields(server) if not f.name.startswith("_")}
    (d / STATE_FILE).write_text(json.dumps(state, indent=2))
    return server


def load(directory: str | os.PathLike[str]) -> S3TestServer:
    """The cluster recorded in ``directory`` (started by another process)."""
    state = json.loads((Path(directory) / STATE_FILE).read_text())
    return S3TestServer(**state)


def stop(directory: str | os.PathLike[str]) -> bool:
    """Stops the cluster recorded in ``directory``; False if there was none."""
    try:
        server = load(directory)
    except FileNotFoundError:
        return False
    server.stop()
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="One-node Ceph RGW (S3 with object lock) on 127.0.0.1")
    parser.add_argument("action", choices=["start", "stop", "status"])
    parser.add_argument("directory", help="folder of the cluster (config, data, logs, state.json)")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, help="seconds to wait for RGW (start)")
    args = parser.parse_args(argv)
    if args.action == "start":
        try:
            server = start(args.directory, timeout=args.timeout)
        except S3TestServerError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        print("\n".join(server.env_lines()))
        print(f"# started in {server.start_seconds:.2f} s; stop with: python {sys.argv[0]} stop {server.directory}")
        return 0
    if args.action == "stop":
        if not stop(args.directory):
            print(f"no cluster recorded in {args.directory}", file=sys.stderr)
            return 1
        return 0
    try:
        server = load(args.directory)
    except FileNotFoundError:
        print(f"no cluster recorded in {args.directory}", file=sys.stderr)
        return 1
    alive = [pid for pid in server.pids if _alive(pid)]
    print("\n".join(server.env_lines()))
    print(f"# pids {server.pids}, alive {alive}")
    return 0 if len(alive) == len(server.pids) else 1


if __name__ == "__main__":
    sys.exit(main())
