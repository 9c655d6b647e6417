"""HTTP helpers shared by the API and the pages."""

from __future__ import annotations

from django.http import StreamingHttpResponse

from archive.storage import content_disposition, get_object_store
from tendering.models import TenderDocument


def document_download_response(document: TenderDocument) -> StreamingHttpResponse:
    """Stream a tender document from the object store, never holding it whole."""
    chunks = get_object_store().iter_chunks(document.object_key, document.version_id or None)
    response = StreamingHttpResponse(chunks, content_type=document.content_type)
    response["Content-Disposition"] = content_disposition(document.name)
    response["Content-Length"] = str(document.size)
    response["X-Content-SHA256"] = document.sha256
    response["X-Content-Type-Options"] = "nosniff"
    return response
