"""The evaluation's pages: the session (评标室), the bid documents it shows, the bidder's clarifications.

Thin, like every page: they check who asks through ``evaluation.services`` and hand the script what it needs.
Everything the session shows comes over its WebSocket; the bid documents come from here, by byte ranges.
"""

from __future__ import annotations

import mimetypes
import re
import uuid
from collections.abc import AsyncIterator, Iterator
from urllib.parse import quote

from asgiref.sync import sync_to_async
from django.contrib.auth.decorators import login_required
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.views.decorators.http import require_GET

from accounts.errors import DomainError
from evaluation.services import documents
from frontend.views.common import refuse, signed_in, visible_tender

# One range ``bytes=a-b``, ``bytes=a-`` or ``bytes=-n`` (what pdf.js asks for); anything else is ignored
# (RFC 9110 §14.2: a server may ignore a Range header it does not support, and answer the whole file).
_ONE_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


class Unsatisfiable(Exception):
    """The range starts at or after the file's end (416)."""


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The ``[start, end)`` a Range header asks of a file of ``size`` bytes; None to send it whole."""
    match = _ONE_RANGE.match((header or "").strip())
    if match is None:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:  # the last n bytes
        suffix = int(last)
        if suffix == 0 or size == 0:
            raise Unsatisfiable
        return max(0, size - suffix), size
    start = int(first)
    if last and int(last) < start:
        return None  # not a valid range: ignored
    if start >= size:
        raise Unsatisfiable
    end = size if not last else min(int(last) + 1, size)
    return start, end


async def _async_chunks(chunks: Iterator[bytes]) -> AsyncIterator[bytes]:
    # Daphne would read a synchronous iterator whole into memory: each segment is taken in the sync thread.
    end = object()
    take = sync_to_async(lambda: next(chunks, end))
    while (chunk := await take()) is not end:
        assert isinstance(chunk, bytes)
        yield chunk


def _content_headers(response: HttpResponseBase, bid_file: documents.BidFile) -> None:
    response["Accept-Ranges"] = "bytes"
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    response["ETag"] = f'"{bid_file.sha256}"'
    name = quote(bid_file.path.rsplit("/", 1)[-1])
    # Only a PDF is shown in the page (by the viewer); any other file of a bid is a download, never a page
    # of this site (a bidder's HTML must not run with an expert's session).
    disposition = "inline" if response["Content-Type"] == "application/pdf" else "attachment"
    response["Content-Disposition"] = f"{disposition}; filename*=UTF-8''{name}"


def _content_type(path: str) -> str:
    return "application/pdf" if mimetypes.guess_type(path)[0] == "application/pdf" else "application/octet-stream"


@require_GET
@login_required
def bid_file(request: HttpRequest, public_id: uuid.UUID, bid_id: uuid.UUID, path: str) -> HttpResponseBase:
    """``GET`` a file of an opened bid, whole (200) or one byte range (206, or 416 past its end)."""
    user = signed_in(request)
    tender = visible_tender(user, public_id)
    try:
        readable = documents.readable_file(user, tender, bid_id, path)
    except DomainError as exc:
        refuse(exc)
    if_range = request.headers.get("If-Range")
    wanted = request.headers.get("Range") if if_range in (None, f'"{readable.sha256}"') else None
    try:
        chosen = byte_range(wanted, readable.size)
    except Unsatisfiable:
        refused = HttpResponse(status=416, content_type=_content_type(path))
        refused["Content-Range"] = f"bytes */{readable.size}"
        _content_headers(refused, readable)
        return refused
    start, end = chosen if chosen is not None else (0, readable.size)
    documents.record_view(user, readable)
    chunks = documents.read(readable, start, end)
    response = StreamingHttpResponse(
        _async_chunks(chunks) if isinstance(request, ASGIRequest) else chunks,
        status=206 if chosen is not None else 200,
        content_type=_content_type(path),
    )
    response["Content-Length"] = str(end - start)
    if chosen is not None:
        response["Content-Range"] = f"bytes {start}-{end - 1}/{readable.size}"
    _content_headers(response, readable)
    return response
