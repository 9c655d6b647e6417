"""A committee member reads an opened bid's files by byte ranges in the session; nobody else reads them."""

from __future__ import annotations

import os
import uuid
from typing import Any

import pytest
from django.test import Client

from archive.models import LedgerEntry
from evaluation.models import ConflictDeclaration, MemberState, Stage
from evaluation.services import documents
from tests.evaluation.documents.bid_pdf import bids_holding, numbered_pdf

pytestmark = pytest.mark.django_db

PATH = "技术标.pdf"


def url(case: Any, bid_index: int = 0, path: str = PATH) -> str:
    return f"/evaluation/{case.tender.public_id}/bids/{case.bids[bid_index].public_id}/files/{path}"


def declare_all(case: Any, conflicted: tuple[int, int] | None = None) -> None:
    """Every member declares no conflict with every bid (except the pair (member, bid) ``conflicted``)."""
    now = case.clock()
    for m, member in enumerate(case.members):
        for b, bid in enumerate(case.bids):
            ConflictDeclaration.objects.create(
                member=member, bid=bid, has_conflict=(m, b) == conflicted, declared_at=now
            )


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def body(response: Any) -> bytes:
    return b"".join(response.streaming_content)


def views() -> int:
    return LedgerEntry.objects.filter(action=documents.VIEWED).count()


@pytest.fixture
def big_case(session_case: Any, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, bytes]:
    """Three bids whose file spans three ciphertext segments (1 MiB each)."""
    content = numbered_pdf(3) + os.urandom(2_500_000)
    bids_holding(monkeypatch, content)
    case = session_case(n_bids=3, n_experts=3)
    declare_all(case, conflicted=(1, 0))
    return case, content


def test_it_refuses_everyone_but_a_confirmed_member_without_a_conflict_and_records_nothing(big_case: Any) -> None:
    case, _content = big_case
    refused = {
        "supervisor": case.supervisor,
        "bidder": case.bidder_users[0],
        "expert outside the committee": case.personas.expert,
        "tenderer": case.personas.tenderer,
        "conflicted member": case.experts[1],
    }
    for who, user in refused.items():
        response = client_for(user).get(url(case), HTTP_RANGE="bytes=0-99")
        assert response.status_code == 403, who
        assert not hasattr(response, "streaming_content"), who
    case.members[2].state = MemberState.RECUSED
    case.members[2].save(update_fields=["state"])
    assert client_for(case.experts[2]).get(url(case)).status_code == 403
    # the conflicted member still reads the other bidders' files
    assert client_for(case.experts[1]).get(url(case, 1), HTTP_RANGE="bytes=0-9").status_code == 206
    assert views() == 1


def test_it_refuses_a_member_that_has_not_declared_for_that_bid(big_case: Any) -> None:
    case, _content = big_case
    ConflictDeclaration.objects.filter(member=case.members[0], bid=case.bids[2]).delete()
    response = client_for(case.experts[0]).get(url(case, 2))
    assert response.status_code == 403
    assert "回避声明" in response.content.decode()
    assert views() == 0


def test_it_refuses_an_unknown_path_or_a_bid_of_another_tender_with_404(big_case: Any) -> None:
    case, _content = big_case
    expert = client_for(case.experts[0])
    assert expert.get(url(case, path="资格/营业执照.pdf")).status_code == 404
    assert expert.get(url(case, path="../技术标.pdf")).status_code == 404
    other = f"/evaluation/{case.tender.public_id}/bids/{uuid.uuid4()}/files/{PATH}"
    assert expert.get(other).status_code == 404
    assert views() == 0


def test_a_member_reads_byte_ranges_that_equal_the_plaintext_across_segments(big_case: Any) -> None:
    case, content = big_case
    expert = client_for(case.experts[0])
    size = len(content)
    for header, (start, end) in {
        "bytes=0-1023": (0, 1024),
        "bytes=1048000-1049999": (1048000, 1050000),  # across the first segment boundary
        "bytes=2097100-": (2097100, size),  # open-ended, two segments to the end
        "bytes=-500": (size - 500, size),  # the last 500 bytes (where pdf.js finds the xref)
        f"bytes=100-{size + 1000}": (100, size),  # an end past the file is the file's end
    }.items():
        response = expert.get(url(case), HTTP_RANGE=header)
        assert response.status_code == 206, header
        assert response["Content-Range"] == f"bytes {start}-{end - 1}/{size}"
        assert response["Content-Length"] == str(end - start)
        assert body(response) == content[start:end], header
    whole = expert.get(url(case))
    assert whole.status_code == 200
    assert whole["Accept-Ranges"] == "bytes"
    assert whole["Content-Type"] == "application/pdf"
    assert whole["Cache-Control"] == "private, no-store"
    assert whole["X-Content-Type-Options"] == "nosniff"
    assert body(whole) == content


def test_an_unsatisfiable_range_is_416_and_a_malformed_one_sends_the_whole_file(big_case: Any) -> None:
    case, content = big_case
    expert = client_for(case.experts[0])
    past = expert.get(url(case), HTTP_RANGE=f"bytes={len(content)}-")
    assert past.status_code == 416
    assert past["Content-Range"] == f"bytes */{len(content)}"
    assert expert.get(url(case), HTTP_RANGE="bytes=-0").status_code == 416
    for ignored in ("bytes=9-3", "items=0-5", "bytes=0-5,10-20"):
        response = expert.get(url(case), HTTP_RANGE=ignored)
        assert response.status_code == 200, ignored
        assert body(response) == content


def test_if_range_with_another_version_sends_the_whole_file(big_case: Any) -> None:
    case, content = big_case
    expert = client_for(case.experts[0])
    stale = expert.get(url(case), HTTP_RANGE="bytes=0-9", HTTP_IF_RANGE='"' + "0" * 64 + '"')
    assert stale.status_code == 200
    etag = stale["ETag"]
    fresh = expert.get(url(case), HTTP_RANGE="bytes=0-9", HTTP_IF_RANGE=etag)
    assert fresh.status_code == 206
    assert body(fresh) == content[:10]


def test_views_are_recorded_once_per_member_and_file_per_window(big_case: Any) -> None:
    case, _content = big_case
    first, third = client_for(case.experts[0]), client_for(case.experts[2])
    for start in range(0, 5000, 1000):
        assert first.get(url(case), HTTP_RANGE=f"bytes={start}-{start + 999}").status_code == 206
    entries = list(LedgerEntry.objects.filter(action=documents.VIEWED))
    assert len(entries) == 1
    assert entries[0].case == case.tender.case and entries[0].actor_id == case.experts[0].pk
    assert '"path":"bid/技术标.pdf"' in entries[0].data
    third.get(url(case), HTTP_RANGE="bytes=0-9")
    first.get(url(case, 1), HTTP_RANGE="bytes=0-9")
    assert views() == 3
    case.clock.advance(minutes=documents.VIEW_RECORD_WINDOW.total_seconds() / 60 + 1)
    first.get(url(case), HTTP_RANGE="bytes=0-9")
    assert views() == 4


def test_nothing_is_read_once_the_evaluation_is_concluded(big_case: Any) -> None:
    case, _content = big_case
    case.evaluation.stage = Stage.CONCLUDED
    case.evaluation.save(update_fields=["stage"])
    assert client_for(case.experts[0]).get(url(case)).status_code == 403
    assert views() == 0
