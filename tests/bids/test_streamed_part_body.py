"""A bid part's body reaches the object store without a temporary file: through Django's ASGI handler and Daphne.

The ASGI tests drive the platform's own application (``config.asgi``) with the
messages a server sends, on real PostgreSQL and the session's S3 server; the
Daphne tests feed raw HTTP to Daphne's protocol with the platform's request class.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import tempfile
import uuid
from typing import Any

import pytest
from asgiref.sync import async_to_sync

from accounts.services import issue_api_token
from archive.storage import get_object_store
from config import streaming
from tendering.models import BidUpload, BidUploadPart
from tendering.services import bids
from tests.bids.conftest import seal

pytestmark = pytest.mark.django_db(transaction=True)

MiB = 1024 * 1024


def application() -> Any:
    from config.asgi import application as app

    return app


async def put(app: Any, path: str, token: str, chunks: list[bytes], *, length: int | None = None) -> dict[str, Any]:
    """One PUT through the ASGI application, its body in ``chunks``; the answer's status and JSON."""
    total = sum(len(c) for c in chunks) if length is None else length
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "PUT",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [
            (b"host", b"testserver"),
            (b"authorization", b"Bearer " + token.encode()),
            (b"content-type", b"application/octet-stream"),
            (b"content-length", str(total).encode()),
        ],
        "client": ("127.0.0.1", 40000),
        "server": ("testserver", 80),
    }
    incoming: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    for chunk in chunks:
        incoming.put_nowait({"type": "http.request", "body": chunk, "more_body": True})
    if length is None:
        incoming.put_nowait({"type": "http.request", "body": b"", "more_body": False})
    else:
        incoming.put_nowait({"type": "http.disconnect"})  # the client went away before its body was whole
    answer: dict[str, Any] = {"body": b""}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            answer["status"] = message["status"]
        else:
            answer["body"] += message.get("body", b"")

    await app(scope, incoming.get, send)
    is_json = answer["body"][:1] in (b"{", b"[")
    answer["json"] = json.loads(answer["body"]) if is_json else None
    return answer


@pytest.fixture
def no_spooling(monkeypatch):
    """Django's spooled temporary file is not made for a request that streams."""
    made: list[str] = []
    real = tempfile.SpooledTemporaryFile

    def spooled(*args: Any, **kwargs: Any) -> Any:
        made.append("spooled")
        return real(*args, **kwargs)

    monkeypatch.setattr(tempfile, "SpooledTemporaryFile", spooled)
    return made


def test_a_part_streams_from_the_asgi_messages_to_the_store_without_a_temporary_file(
    personas, published_tender, bidder_a_keys, tmp_path, settings, no_spooling
):
    settings.BID_PART_SIZE = 5 * MiB
    content = bytes(range(256)) * (24 * 1024 * 2)  # 12 MiB: three parts of ciphertext
    sealed = seal(published_tender, bidder_a_keys, tmp_path, content=content)
    started = bids.start_upload(personas.bidder_a, published_tender, uuid.UUID(sealed.bid_id), len(sealed.ciphertext))
    token = issue_api_token(personas.bidder_a, "cli")[0]
    app = application()
    for number, offset in enumerate(range(0, len(sealed.ciphertext), started.part_size), start=1):
        part = sealed.ciphertext[offset : offset + started.part_size]
        # As a server sends it: many small messages (Daphne's are 8 KiB; here 64 KiB and an odd tail).
        chunks = [part[i : i + 65536 + 17] for i in range(0, len(part), 65536 + 17)]
        answer = async_to_sync(put)(app, f"/api/bids/uploads/{started.public_id}/parts/{number}", token, chunks)
        assert answer["status"] == 200, answer["json"]
        assert answer["json"] == {"number": number, "size": len(part), "sha256": hashlib.sha256(part).hexdigest()}
    assert no_spooling == []
    bid = bids.finalize(personas.bidder_a, started.public_id, sealed.sealed.manifest_bytes, sealed.sealed.signature)
    with get_object_store().open(bid.object_key, bid.version_id) as stored:
        assert stored.read() == sealed.ciphertext


def test_a_streamed_body_cut_off_by_a_disconnect_stores_nothing_and_frees_the_part(
    personas, published_tender, settings
):
    settings.BID_PART_SIZE = 5 * MiB
    started = bids.start_upload(personas.bidder_a, published_tender, uuid.uuid4(), 2 * settings.BID_PART_SIZE)
    token = issue_api_token(personas.bidder_a, "cli")[0]
    path = f"/api/bids/uploads/{started.public_id}/parts/1"
    async_to_sync(put)(application(), path, token, [b"\x28" * MiB], length=settings.BID_PART_SIZE)
    started.refresh_from_db()
    assert (started.received_parts, started.received_bytes) == (0, 0)
    assert not BidUploadPart.objects.filter(upload=started).exists()
    assert get_object_store().list_parts(started.object_key, started.store_upload_id) == []
    # The same part, sent whole again, is taken.
    whole = async_to_sync(put)(application(), path, token, [b"\x28" * settings.BID_PART_SIZE])
    assert whole["status"] == 200
    assert BidUpload.objects.get(pk=started.pk).received_parts == 1


def test_a_refused_part_answers_without_reading_its_body(personas, published_tender, settings, no_spooling):
    settings.BID_PART_SIZE = 5 * MiB
    started = bids.start_upload(personas.bidder_a, published_tender, uuid.uuid4(), 2 * settings.BID_PART_SIZE)
    token = issue_api_token(personas.bidder_a, "cli")[0]
    path = f"/api/bids/uploads/{started.public_id}/parts/3"
    answer = async_to_sync(put)(application(), path, token, [b"\x28" * MiB] * 5)
    assert answer["status"] == 409 and answer["json"]["code"] == "part_out_of_order"
    assert no_spooling == []
    assert not BidUploadPart.objects.filter(upload=started).exists()


def test_other_requests_keep_djangos_own_body_handling(personas, no_spooling):
    token = issue_api_token(personas.bidder_a, "cli")[0]
    answer = async_to_sync(put)(application(), "/api/bids/uploads/not-a-part", token, [b"{}"])
    assert answer["status"] in (404, 405)
    assert no_spooling == ["spooled"]


# --- Daphne -------------------------------------------------------------------------------------------------------


class FakeServer:
    """What Daphne's request asks of its server; the application's messages are collected."""

    proxy_forwarded_address_header = None
    root_path = ""
    request_buffer_size = 8192
    server_name = "daphne"

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.requests: list[Any] = []

    def protocol_connected(self, protocol: Any) -> None:
        self.requests.append(protocol)

    def protocol_disconnected(self, protocol: Any) -> None:
        pass

    def create_application(self, protocol: Any, scope: dict[str, Any]) -> Any:
        messages = self.messages

        class Queue:
            def put_nowait(self, message: dict[str, Any]) -> None:
                messages.append(message)

        return Queue()

    def log_action(self, *args: Any) -> None:
        pass


def feed_daphne(path: str, body: bytes) -> FakeServer:
    import daphne.server
    from twisted.internet.testing import StringTransport

    streaming.install_into_daphne()
    server = FakeServer()
    factory = daphne.server.HTTPFactory(server)
    protocol = factory.buildProtocol(("127.0.0.1", 40000))
    protocol.makeConnection(StringTransport())
    head = f"PUT {path} HTTP/1.1\r\nHost: testserver\r\nContent-Length: {len(body)}\r\n\r\n".encode()
    protocol.dataReceived(head)
    for offset in range(0, len(body), 65536):
        protocol.dataReceived(body[offset : offset + 65536])
    return server


@pytest.mark.django_db(transaction=False)
def test_daphne_keeps_a_part_body_in_memory_and_hands_it_on_in_large_messages() -> None:
    body = hashlib.shake_256(b"part").digest(3 * MiB + 5)
    server = feed_daphne(f"/api/bids/uploads/{uuid.uuid4()}/parts/1", body)
    assert isinstance(server.requests[0].content, io.BytesIO)
    assert b"".join(m["body"] for m in server.messages) == body
    assert [len(m["body"]) for m in server.messages[:3]] == [MiB, MiB, MiB]
    assert [m["more_body"] for m in server.messages][-1] is False


@pytest.mark.django_db(transaction=False)
def test_daphne_keeps_its_temporary_file_for_other_large_bodies() -> None:
    body = b"x" * 200_000
    server = feed_daphne("/api/tenders/x/documents", body)
    content = server.requests[0].content
    try:
        assert not isinstance(content, io.BytesIO)  # Twisted's temporary file
        assert b"".join(m["body"] for m in server.messages) == body
        assert len(server.messages[0]["body"]) == 8192
    finally:
        content.close()
