"""Views of the archive app."""

from __future__ import annotations

from collections.abc import AsyncIterator, Generator

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIRequest
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseForbidden, StreamingHttpResponse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe

from archive.storage import (
    DownloadLinkExpired,
    DownloadLinkInvalid,
    FilesystemObjectStore,
    ObjectNotFound,
    content_disposition,
    get_object_store,
)

DOWNLOAD_CHUNK = 1024 * 1024


def _next_chunk(chunks: Generator[bytes, None, None]) -> bytes | None:
    return next(chunks, None)


async def _async_chunks(chunks: Generator[bytes, None, None]) -> AsyncIterator[bytes]:
    """The chunks read in a worker thread, so that an ASGI server streams them (never buffers the file)."""
    read = sync_to_async(_next_chunk, thread_sensitive=False)
    try:
        while (chunk := await read(chunks)) is not None:
            yield chunk
    finally:
        await sync_to_async(chunks.close, thread_sensitive=False)()


@require_safe
def object_download(request: HttpRequest, token: str) -> HttpResponse | StreamingHttpResponse:
    """Streams an object of the filesystem store to whoever holds a valid, unexpired signed link.

    The link comes from ``FilesystemObjectStore.presigned_get_url``; with S3 the
    links point at the S3 server and this view answers 404.
    """
    store = get_object_store()
    if not isinstance(store, FilesystemObjectStore):
        raise Http404("downloads are served by the S3 server")
    try:
        link = store.verify_download_token(token)
    except DownloadLinkExpired:
        return HttpResponseForbidden(
            _("This download link has expired. Request a new link."), content_type="text/plain; charset=utf-8"
        )
    except DownloadLinkInvalid:
        return HttpResponseForbidden(
            _("This download link is invalid: it was altered or was not issued by this platform."),
            content_type="text/plain; charset=utf-8",
        )
    try:
        info = store.stat(link.key, link.version_id)
    except ObjectNotFound as exc:
        raise Http404("the object of this link no longer exists") from exc
    chunks = store.iter_chunks(link.key, info.version_id, DOWNLOAD_CHUNK)
    content = _async_chunks(chunks) if isinstance(request, ASGIRequest) else chunks
    response = StreamingHttpResponse(content, content_type=info.content_type or "application/octet-stream")
    response["Content-Length"] = str(info.size)
    response["Content-Disposition"] = content_disposition(link.filename)
    response["Cache-Control"] = "private, no-store"
    if info.etag:
        response["ETag"] = f'"{info.etag}"'
    return response
