"""HTTP helpers shared by the API and the pages."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import IO, Any

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIRequest
from django.http import FileResponse, HttpRequest

from tendering.models import TenderDocument
from tendering.services import documents

DOWNLOAD_CHUNK = 1024 * 1024


class StoredFile:
    """An object-store stream whose ``close`` leaves the store's context manager."""

    def __init__(self, context: contextlib.AbstractContextManager[IO[bytes]]) -> None:
        self._exit = contextlib.ExitStack()
        self._stream = self._exit.enter_context(context)

    def read(self, size: int = -1) -> bytes:
        return self._stream.read(size)

    def close(self) -> None:
        self._exit.close()


async def _chunks(stored: StoredFile) -> AsyncIterator[bytes]:
    read = sync_to_async(stored.read)
    while chunk := await read(DOWNLOAD_CHUNK):
        yield chunk


def document_download_response(request: HttpRequest, document: TenderDocument, user: Any) -> FileResponse:
    """Record the download and stream the document from the object store, never whole in memory."""
    stored = StoredFile(documents.open_document(document))
    try:
        documents.record_download(user, document)
        response = FileResponse(stored, as_attachment=True, filename=document.name, content_type=document.content_type)
    except BaseException:
        stored.close()
        raise
    response["Content-Length"] = str(document.size)
    response["X-Content-SHA256"] = document.sha256
    if isinstance(request, ASGIRequest):
        # Under Daphne a synchronous iterator would be read whole into memory
        # (with a warning); an asynchronous one streams. FileResponse still
        # closes ``stored`` when the response is closed.
        response.streaming_content = _chunks(stored)
    return response
