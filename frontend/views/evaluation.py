"""The evaluation's pages: the session (评标室), the bid documents it shows, the bidder's clarifications.

Thin, like every page: they check who asks through ``evaluation.services`` and hand the script what it needs.
Everything the session shows comes over its WebSocket; the bid documents come from here, by byte ranges.
"""

from __future__ import annotations

import mimetypes
import re
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import quote

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.handlers.asgi import ASGIRequest
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from accounts.errors import DomainError
from accounts.models import User
from config import clock
from evaluation.models import Clarification, Evaluation, MemberState, Stage, Venue
from evaluation.services import documents
from evaluation.services.session import admission, clarifications
from frontend.views.bids import _common_messages, _locale
from frontend.views.common import refuse, signed_in, visible_tender
from frontend.views.session_messages import session_page_messages
from tendering.models import Tender

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


# --- the session's page -----------------------------------------------------------------------------------


def sessions_for(user: User) -> list[Tender]:
    """The tenders whose evaluation session the user may enter (a confirmed member, or its supervisor), not yet
    concluded: the dashboard's and the supervision page's links."""
    running = Evaluation.objects.exclude(stage__in=[Stage.DRAW, Stage.CONCLUDED])
    mine = running.filter(
        Q(supervisor=user) | Q(members__expert__user=user, members__state=MemberState.CONFIRMED)
    ).distinct()
    return [e.tender for e in mine.select_related("tender").order_by("-pk")[:50]]


def clarification_tenders(user: User) -> list[Tender]:
    """The tenders where the committee asked the user's organization a clarification (its answer page)."""
    if user.organization_id is None:
        return []
    asked = Clarification.objects.filter(bid__bidder_id=user.organization_id).values("evaluation__tender")
    return list(Tender.objects.filter(pk__in=asked).order_by("-opening_time")[:50])


def session_config(user: User, tender: Tender, role: str) -> dict[str, Any]:
    """What the session's script needs: its addresses, who reads, and the texts in the reader's language."""
    return {
        "tender": str(tender.public_id),
        "me": user.display_name or user.get_username(),
        "user": user.get_username(),
        "role": role,
        "locale": _locale(),
        "maxTextChars": 2000,
        "urls": {
            "socket": f"/ws/tenders/{tender.public_id}/session/",
            "files": f"/evaluation/{tender.public_id}/bids/",
            "pdfWorker": static("frontend/build/pdf-worker.js"),
            "pdfData": static("frontend/build/pdfjs/"),
            "keys": "/keys/browser/",
        },
        "stages": {value: str(label) for value, label in Stage.choices},
        "venues": {value: str(label) for value, label in Venue.choices},
        "deviationThreshold": str(settings.EVALUATION_DEVIATION_THRESHOLD_PERCENT),
        "messages": {**_common_messages(), **session_page_messages()},
    }


@never_cache
@require_GET
@login_required
def evaluation_session(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    """The evaluation session (评标室) of a tender: for its committee's members, and its supervisor read-only."""
    user = signed_in(request)
    tender = visible_tender(user, public_id)
    try:
        _evaluation, _member, role = admission.require_session(user, tender)
    except DomainError as exc:
        refuse(exc)
    context = {
        "tender": tender,
        "read_only": role == admission.SUPERVISOR,
        "config": session_config(user, tender, role),
    }
    return render(request, "frontend/evaluation_session.html", context)


# --- the bidder's clarifications ----------------------------------------------------------------------------


@never_cache
@require_http_methods(["GET", "POST"])
@login_required
def bidder_clarifications(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    """The committee's questions to the user's bid (澄清), with their deadlines, and the answer form."""
    user = signed_in(request)
    tender = visible_tender(user, public_id)
    errors: dict[int, str] = {}
    drafts: dict[int, str] = {}
    if request.method == "POST":
        try:
            wanted = int(request.POST.get("clarification", ""))
        except ValueError:
            raise Http404 from None
        text = request.POST.get("answer", "")
        mine = {c.pk: c for c in clarifications.clarifications_for_bidder(user, tender)}
        if wanted not in mine:
            raise Http404
        try:
            clarifications.answer_clarification(user, mine[wanted], text)
        except DomainError as exc:
            if exc.status in (403, 404):
                refuse(exc)
            errors[wanted] = str(exc.message)
            drafts[wanted] = text
        else:
            messages.success(request, _("答复已提交，评标委员会将看到您的答复。"))
            return redirect("frontend:bidder-clarifications", public_id=tender.public_id)
    rows = clarifications.clarifications_for_bidder(user, tender)
    if not rows and not user.organization_id:
        raise Http404
    now = clock.now()
    items = [
        {
            "row": row,
            "open": row.answered_at is None and now <= row.reply_deadline,
            "late": row.answered_at is None and now > row.reply_deadline,
            "error": errors.get(row.pk, ""),
            "draft": drafts.get(row.pk, ""),
        }
        for row in rows
    ]
    context = {"tender": tender, "items": items, "max_chars": 5000}
    return render(request, "frontend/bidder_clarifications.html", context, status=422 if errors else 200)
