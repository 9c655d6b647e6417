#!/usr/bin/env python3
"""In-browser sealing throughput in headless Chromium against raw WebCrypto AES-GCM and SHA-256.

Serves the bundles of frontend/static/frontend/build/ (``make js``) on
127.0.0.1 with a one-line page, drives Debian's Chromium with Playwright (no
browser download) and, for each ``--sizes`` (MiB):

* generates a Blob of that size in the page (a pattern; no disk);
* seals it in the bench worker with the production code path
  (``frontend/js/worker/seal-job.js``: the bid container, 1 MiB segments with
  WebCrypto AES-256-GCM, hash-wasm SHA-256 of the ciphertext, envelopes to the
  bidder and to 3 custodians (k = 2), the manifest), writing the ciphertext to
  the Origin Private File System (``opfs``, as the bid page does) and to
  nothing (``null``: the sealing's own cost);
* measures, in the same worker over the same Blob's 1 MiB segments: raw
  AES-GCM (one call at a time, and 3 in flight as the sealing does), raw
  SHA-256 with hash-wasm (1 MiB updates), WebCrypto's one-shot SHA-256 (for
  scale: it cannot hash a stream) and reading the Blob.

Chromium runs with a fresh profile in a temporary folder (as a bidder's
browser has a profile: an incognito context's storage quota is too small for
the 1 GiB ciphertext). Prints MiB/s of plaintext for each (best of ``--repeat``) and the ratios of
sealing to the baselines, chiefly to "AES-GCM + SHA-256" (the two raw passes
one after the other: the least a sealing in one thread must do), and the
peak RSS (VmHWM) of Chromium's processes.

    .venv/bin/python bench/browser_seal_throughput.py --sizes 256,1024 --repeat 2
"""

from __future__ import annotations

import argparse
import functools
import http.server
import json
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: the repository root, for bench.common and the platform
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import ROOT, Row, emit

BUILD = ROOT / "frontend" / "static" / "frontend" / "build"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-quic",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
]
PAGE = b"""<!doctype html><meta charset="utf-8"><title>bench</title><script type="module" src="bench.js"></script>"""


class Handler(http.server.SimpleHTTPRequestHandler):
    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map, ".js": "text/javascript"}

    def do_GET(self) -> None:
        if self.path in ("/", "/bench.html"):
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(PAGE)))
            self.end_headers()
            self.wfile.write(PAGE)
            return
        super().do_GET()

    def log_message(self, format: str, *args: Any) -> None:
        pass


def build() -> None:
    node = shutil.which("node")
    if node is None:
        sys.exit("Node.js is needed to build the bundles (make js)")
    subprocess.run([node, str(ROOT / "frontend" / "js" / "build.mjs")], cwd=ROOT, check=True)


def chromium_peak_rss() -> dict[str, int]:
    """VmHWM (peak RSS, KiB) of Chromium's processes, by their --type (browser when none)."""
    peaks: dict[str, int] = {}
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            # Chromium rewrites its children's argv into one space-separated string.
            cmdline = (status.parent / "cmdline").read_bytes().replace(b"\0", b" ").split()
            text = status.read_text()
        except OSError:
            continue
        if not cmdline or not cmdline[0].endswith(b"/chromium"):
            continue
        kind = next((a.split(b"=", 1)[1].decode() for a in cmdline if a.startswith(b"--type=")), "browser")
        for line in text.splitlines():
            if line.startswith("VmHWM:"):
                peaks[kind] = max(peaks.get(kind, 0), int(line.split()[1]))
    return peaks


def _rate(mib: int, seconds: float) -> float:
    return mib / seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="256,1024", help="sizes in MiB, comma-separated (default 256,1024)")
    parser.add_argument("--repeat", type=int, default=2, help="runs of each measurement; the best counts (default 2)")
    parser.add_argument("--no-build", action="store_true", help="use the bundles as they are")
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    arguments = parser.parse_args()
    sizes = [int(s) for s in arguments.sizes.split(",")]
    if not CHROMIUM.exists():
        sys.exit("Debian's Chromium is needed: apt-get install chromium")
    if not arguments.no_build:
        build()

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(BUILD)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/bench.html"

    from playwright.sync_api import sync_playwright

    results: list[dict[str, Any]] = []
    profile = tempfile.TemporaryDirectory(prefix="etender-bench-profile-")
    with sync_playwright() as playwright:
        # A profile on disk, as a bidder's browser has: an incognito context's storage quota is too small for 1 GiB.
        context = playwright.chromium.launch_persistent_context(
            profile.name, executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        version = context.browser.version if context.browser else "?"
        page = context.new_page()
        page.set_default_timeout(30 * 60 * 1000)
        page.goto(url)
        page.wait_for_function("window.benchReady === true")
        for size in sizes:
            started = time.monotonic()
            run = page.evaluate("(options) => window.runBench(options)", {"sizeMiB": size, "repeats": arguments.repeat})
            run["wall_seconds"] = time.monotonic() - started
            run["peak_rss_kib"] = chromium_peak_rss()
            results.append(run)
            print(f"… {size} MiB done in {run['wall_seconds']:.0f} s", file=sys.stderr)
        context.close()
    server.shutdown()
    profile.cleanup()

    print(f"Chromium {version} (headless, {CHROMIUM}), {platform.machine()}, Python {platform.python_version()}")
    print()
    header = (
        "| size | seal → OPFS | seal → null | raw AES-GCM, 1 at a time | raw AES-GCM, 3 in flight "
        "| raw SHA-256 (hash-wasm) | AES-GCM + SHA-256 | **seal→null / AES+SHA** | **seal→OPFS / AES+SHA** "
        "| seal→null / AES (3 in flight) | WebCrypto SHA-256 one-shot | Blob read | OPFS write |"
    )
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    for run in results:
        mib = run["sizeMiB"]
        # Seconds: the best run is the shortest.
        seal_opfs = min(r["seconds"] for r in run["seal"]["opfs"])
        seal_null = min(r["seconds"] for r in run["seal"]["null"])
        base = {key: min(b[key] for b in run["baselines"]) for key in run["baselines"][0]}
        combined = base["aesPipelined"] + base["sha256"]
        rate = functools.partial(_rate, mib)
        print(
            f"| {mib} MiB | {rate(seal_opfs):.0f} | {rate(seal_null):.0f} | {rate(base['aesSequential']):.0f} | "
            f"{rate(base['aesPipelined']):.0f} | {rate(base['sha256']):.0f} | {rate(combined):.0f} | "
            f"**{combined / seal_null:.2f}** | **{combined / seal_opfs:.2f}** | "
            f"{base['aesPipelined'] / seal_null:.2f} | "
            f"{rate(base['webcryptoSha256OneShot']):.0f} | {rate(base['blobRead']):.0f} | "
            f"{rate(base['opfsWrite']):.0f} |"
        )
    print()
    print("MiB/s of plaintext, best of", arguments.repeat, "runs; ratios are seconds(baseline) / seconds(seal).")
    for run in results:
        rss = ", ".join(f"{kind} {kib / 1024:.0f} MiB" for kind, kib in sorted(run["peak_rss_kib"].items()))
        print(f"{run['sizeMiB']} MiB: peak RSS of Chromium's processes after the run: {rss}")
    if arguments.json:
        arguments.json.write_text(json.dumps(results, indent=1))
    rows = []
    for run in results:
        base = {key: min(b[key] for b in run["baselines"]) for key in run["baselines"][0]}
        combined = base["aesPipelined"] + base["sha256"]
        for sink in ("opfs", "null"):
            seal = min(r["seconds"] for r in run["seal"][sink])
            rows.append(
                Row(
                    "browser_seal_throughput",
                    f"sealing {run['sizeMiB']} MiB in Chromium to {sink}",
                    "seal-job.js",
                    "WebCrypto AES-GCM + hash-wasm SHA-256",
                    combined / seal,
                )
            )
    emit(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
