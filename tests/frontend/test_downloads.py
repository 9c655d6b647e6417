"""Document downloads: streamed from the object store, recorded for signed-in users."""

from __future__ import annotations

import hashlib
import urllib.parse

from django.urls import reverse

from tendering.models import DocumentDownload
from tests.fixtures.personas import PDF_BYTES
from tests.frontend.conftest import signed_in


def download_url(tender, document):
    return reverse("frontend:document-download", args=[tender.public_id, document.public_id])


def body(response) -> bytes:
    # The test client closes the response (and so the stored file) once the stream is read.
    return b"".join(response.streaming_content)


def test_a_draft_document_is_not_downloadable_by_the_public(client, personas, draft_tender):
    document = draft_tender.documents.get()
    assert client.get(download_url(draft_tender, document)).status_code == 404
    assert signed_in(personas.bidder_a).get(download_url(draft_tender, document)).status_code == 404
    assert not DocumentDownload.objects.exists()


def test_a_withdrawn_or_unknown_document_is_not_found(personas, published_tender, draft_tender):
    other = draft_tender.documents.get()
    assert (
        signed_in(personas.bidder_a)
        .get(
            download_url(published_tender, other).replace(str(other.public_id), "00000000-0000-0000-0000-000000000000")
        )
        .status_code
        == 404
    )


def test_a_bidder_downloads_the_exact_bytes_under_the_chinese_name_and_it_is_recorded(personas, published_tender):
    document = published_tender.documents.get()
    response = signed_in(personas.bidder_a).get(download_url(published_tender, document))
    assert response.status_code == 200
    content = body(response)
    assert content == PDF_BYTES
    assert hashlib.sha256(content).hexdigest() == document.sha256 == response["X-Content-SHA256"]
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Length"] == str(len(PDF_BYTES))
    disposition = response["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert "filename*=utf-8''" + urllib.parse.quote("招标文件.pdf") in disposition
    download = DocumentDownload.objects.get()
    assert (download.user, download.organization, download.document) == (
        personas.bidder_a,
        personas.bidder_org_a,
        document,
    )


def test_an_anonymous_download_is_served_but_not_recorded(client, published_tender):
    document = published_tender.documents.get()
    response = client.get(download_url(published_tender, document))
    assert body(response) == PDF_BYTES
    assert not DocumentDownload.objects.exists()


def test_the_dashboard_lists_the_documents_i_downloaded(personas, published_tender):
    bidder = signed_in(personas.bidder_a)
    body(bidder.get(download_url(published_tender, published_tender.documents.get())))
    page = bidder.get(reverse("frontend:dashboard")).text
    assert "我下载的招标文件" in page
    assert published_tender.documents.get().sha256 in page
    assert "还没有下载过招标文件" in signed_in(personas.bidder_b).get(reverse("frontend:dashboard")).text
