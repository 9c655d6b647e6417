#!/usr/bin/env python3
"""Every benchmark with short defaults, then one table of their headline figures (``make bench``).

Each bench runs as its own process with ``ETENDER_BENCH_ROWS`` naming a file
it appends its rows to (``bench.common.emit``); one Ceph RGW is started here
for every bench that needs S3 (or the loopback server of ``S3_ENDPOINT`` is
used). At the end: one table, bench / measure / subject / baseline / ratio /
goal / met or not met, then the notes that say where the time goes. A bench
that fails is listed as failed and the others still run; the exit status is
then 1.

    .venv/bin/python bench/run_all.py                 # everything, a few minutes
    .venv/bin/python bench/run_all.py --only opening_throughput,hall_broadcast
    .venv/bin/python bench/run_all.py --list
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

if __package__ in (None, ""):  # run as a script: the repository root, for bench.common and the platform
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import ROOT, ROWS_ENV, Server, machine_line, read_rows, rows_table, s3_server, script_command

#: (name, script, arguments, needs S3): the short runs ``make bench`` makes; the full commands are in bench/README.md.
RUNS: list[tuple[str, str, list[str], bool]] = [
    ("seal_throughput", "seal_throughput", ["--size", "128MiB", "--repeat", "2"], False),
    ("object_store_put", "object_store_put", ["--sizes", "8,32", "--reps", "2"], True),
    (
        "ledger_append",
        "ledger_append",
        [
            *("--appends", "500", "--blocks", "5", "--entries", "10000", "--verify-reps", "1"),
            *("--proof-sizes", "1000,10000", "--proofs", "10"),
        ],
        False,
    ),
    (
        "opening_throughput",
        "opening_throughput",
        # Two sizes, so that the table says whether the peak memory stays flat in the bid's size.
        ["--bids", "10", "--sizes", "4,16", "--reps", "2", "--workers", "0", "--breakdown", "5"],
        False,
    ),
    (
        "opening_throughput_s3",
        "opening_throughput",
        ["--store", "s3", "--bids", "10", "--sizes", "8", "--reps", "1", "--workers", "0", "--breakdown", "5"],
        True,
    ),
    ("submit_throughput", "submit_throughput", ["--sizes", "32", "--reps", "2"], True),
    # Events at 60 participants, then 240 clients connecting at once (its connect phases).
    (
        "hall_broadcast",
        "hall_broadcast",
        ["--clients", "60", "--events", "100", "--reps", "2", "--connect-reps", "2"],
        False,
    ),
    # The evaluation session: 20 sessions of 9 experts and a supervisor over two Daphnes, an action per expert
    # every 10 s; then one Daphne killed.
    (
        "session_load",
        "session_load",
        ["--sessions", "20", "--experts", "9", "--duration", "12", "--interval", "10"],
        False,
    ),
    ("browser_seal_throughput", "browser_seal_throughput", ["--sizes", "64", "--repeat", "1"], False),
    # A 50-bid case's dossier, 1 MiB a bid: built, stored, verified; the verifier's hashing vs sha256sum.
    ("dossier", "dossier", ["--bids", "50", "--bid-mib", "1", "--reps", "3"], False),
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default="", help="comma-separated run names (see --list)")
    parser.add_argument("--skip", default="", help="comma-separated run names to leave out")
    parser.add_argument("--list", action="store_true", help="print the runs and their commands, run nothing")
    parser.add_argument("--tmp-dir", type=Path, default=None, help="where the temporary folders go")
    parser.add_argument("--json", type=Path, default=None, help="also write every row as JSON here")
    args = parser.parse_args(argv)
    only = {n.strip() for n in args.only.split(",") if n.strip()}
    skip = {n.strip() for n in args.skip.split(",") if n.strip()}
    unknown = (only | skip) - {name for name, *_ in RUNS}
    if unknown:
        parser.error(f"unknown runs: {', '.join(sorted(unknown))} (see --list)")
    runs = [r for r in RUNS if (not only or r[0] in only) and r[0] not in skip]
    if args.list:
        for name, script, arguments, _ in RUNS:
            print(f"{name}: .venv/bin/python bench/{script}.py {' '.join(arguments)}")
        return 0
    if not (ROOT / "frontend" / "static" / "frontend" / "build").is_dir():
        runs = [r for r in runs if r[1] != "browser_seal_throughput"]
        print("browser_seal_throughput left out: no bundle (make js)", flush=True)

    work = Path(tempfile.mkdtemp(prefix="etender-bench-all-", dir=args.tmp_dir))
    rows_file = work / "rows.jsonl"
    server: Server | None = None
    failed: list[str] = []
    took: dict[str, float] = {}
    try:
        env = {**os.environ, ROWS_ENV: str(rows_file)}
        if any(needs_s3 for *_, needs_s3 in runs):
            server = s3_server(work / "rgw", "memstore", 2 * 1024**3)
        for name, script, arguments, needs_s3 in runs:
            command = [*script_command(script), *arguments]
            if script == "browser_seal_throughput":
                command.append("--no-build")
            print(f"\n=== {name}: {' '.join(command[1:])}", flush=True)
            child_env = dict(env)
            if needs_s3 and server is not None:
                child_env.update(server.environment())
            began = time.perf_counter()
            status = subprocess.run(command, cwd=ROOT, env=child_env).returncode
            took[name] = time.perf_counter() - began
            if status:
                failed.append(name)
                print(f"=== {name} failed ({status})", flush=True)
    finally:
        if server is not None and server.stop is not None:
            server.stop()
        rows = read_rows(rows_file)
        shutil.rmtree(work, ignore_errors=True)

    print("\n# make bench: every bench's headline figures (ratios against baselines measured in the same run)\n")
    print(f"{machine_line()}; {len(rows)} rows from {len(took) - len(failed)} of {len(runs)} runs\n")
    print(rows_table(rows))
    if args.json:
        args.json.write_text(
            json.dumps([{**asdict(row), "met": row.met} for row in rows], ensure_ascii=False, indent=1)
        )
    print("\n" + ", ".join(f"{name} {seconds:.0f} s" for name, seconds in took.items()))
    if failed:
        print(f"failed: {', '.join(failed)} (their output is above)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
