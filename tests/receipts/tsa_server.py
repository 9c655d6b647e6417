"""A time-stamping authority over HTTP on 127.0.0.1, as a production TSA answers (RFC 3161 §3.4)."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from asn1crypto import tsp

from archive.timestamps import DevelopmentTimeStamper


@dataclass
class TsaServer:
    url: str
    requests: list[dict[str, str]] = field(default_factory=list)
    ca: Any = None  # the CA that issued the TSA's certificate, for the test to trust


@contextlib.contextmanager
def tsa_server(stamper: DevelopmentTimeStamper) -> Iterator[TsaServer]:
    """Serves POST application/timestamp-query with ``stamper``; records each request's headers."""
    served = TsaServer(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            served.requests.append({key.lower(): value for key, value in self.headers.items()})
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if self.headers.get("Content-Type") != "application/timestamp-query":
                self.send_error(415)
                return
            reply = stamper.request_tsa_response(tsp.TimeStampReq.load(body)).dump()
            self.send_response(200)
            self.send_header("Content-Type", "application/timestamp-reply")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, format: str, *args: object) -> None:  # quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    served.url = f"http://127.0.0.1:{server.server_address[1]}/tsa"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield served
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
