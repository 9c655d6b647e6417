"""The method as published (docs/evaluation.md §1.4): nothing in the product changes a published tender's method,
and the evaluation applies the publication's ledger record of it, refusing a tender row changed after publication
(or a publication record changed in the ledger) with a clear error that changes nothing."""

from __future__ import annotations

import copy
import hashlib
import json
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from accounts.errors import DomainError, WrongPhase
from accounts.services import issue_api_token
from archive import merkle
from archive.canonical import canonical_json
from archive.ledger import entry_bytes, verify_ledger
from archive.models import LedgerEntry
from evaluation.models import Mark, Report, SessionEvent, Sheet, Stage
from evaluation.services import closing
from evaluation.services.session import marks, stages, views
from evaluation.services.session.admission import EXPERT
from tendering.method import validate_method
from tendering.models import Tender
from tendering.services import amendments, tenders
from tests.evaluation.session.helpers import even, qualify_all, score_all, to_qualification
from tests.fixtures.personas import tender_input
from tests.frontend.conftest import signed_in, tender_form_data
from tests.ledger.attacker import attacker_sql

pytestmark = pytest.mark.django_db


def publication(tender: Tender) -> LedgerEntry:
    return LedgerEntry.objects.get(case=tender.case, action="tendering.tender.published")


def published_terms(tender: Tender) -> tuple[Any, ...]:
    """What a change to the method would touch: the row's method and kind, and the publication record."""
    row = Tender.objects.get(pk=tender.pk)
    entry = publication(tender)
    return (row.evaluation_criteria, row.evaluation_method, entry.data, entry.entry_hash)


def changed_method(tender: Tender) -> dict[str, Any]:
    """The tender's method with its first criterion's range widened tenfold (a score of 50 would then pass)."""
    method = copy.deepcopy(tender.evaluation_criteria)
    method["criteria"][0]["max_score"] = "100.00"
    return method


# --- No product path changes a published method --------------------------------------------------------------


def test_no_service_api_form_amendment_or_admin_changes_a_published_method(
    personas: Any, published_tender: Tender, frozen_clock: Any, settings: Any
) -> None:
    tender = published_tender
    before = published_terms(tender)
    method = changed_method(tender)

    with pytest.raises(WrongPhase):
        tenders.update_draft(
            personas.tenderer, tender, tender_input(frozen_clock(), personas.custodians, method=method)
        )

    from tests.tendering.test_api import draft_body

    token: dict[str, Any] = {"HTTP_AUTHORIZATION": "Bearer " + issue_api_token(personas.tenderer, "test")[0]}
    body = draft_body(frozen_clock(), personas, number=tender.number, method=method, evaluation_method="comprehensive")
    put = Client().put(f"/api/tenders/{tender.public_id}", json.dumps(body), content_type="application/json", **token)
    assert put.status_code == 409, put.content
    assert put.json()["code"] == "wrong_phase"

    form = signed_in(personas.tenderer).post(
        reverse("frontend:tender-edit", args=[tender.public_id]),
        tender_form_data(frozen_clock(), personas.custodians, method=json.dumps(method, ensure_ascii=False)),
    )
    assert form.status_code == 302  # back to the tender's page, with the refusal's message

    # An amendment (澄清或修改) carries a summary, files and dates, never the method: a method sent along is not read.
    frozen_clock.advance(minutes=1)
    amended = Client().post(
        f"/api/tenders/{tender.public_id}/amendments",
        {"summary": "补充说明：评分因素不变。", "method": json.dumps(method)},
        **token,
    )
    assert amended.status_code == 201, amended.content
    assert amendments.Amendment.objects.filter(tender=tender).count() == 1

    from accounts.models import User

    admin = Client()
    admin.force_login(User.objects.create_superuser("root", "root@example.org", "Root-Password-2026"))
    change = admin.post(
        f"/admin/tendering/tender/{tender.pk}/change/", {"evaluation_criteria": json.dumps(method)}, follow=False
    )
    assert change.status_code == 403

    assert published_terms(tender) == before
    assert tenders.published_method(Tender.objects.get(pk=tender.pk)).to_json() == before[0]


# --- The accessor: the publication's record, checked ----------------------------------------------------------


def test_the_published_method_is_the_publication_records(published_tender: Tender) -> None:
    record = json.loads(publication(published_tender).data)
    method = tenders.published_method(Tender.objects.get(pk=published_tender.pk))
    assert method == validate_method(record["method"], record["evaluation_method"])
    assert method.to_json() == record["method"]


def test_a_draft_has_no_published_method(personas: Any, draft_tender: Tender) -> None:
    with pytest.raises(WrongPhase) as refused:
        tenders.published_method(draft_tender)
    assert refused.value.code == "not_published"


def test_a_method_changed_in_the_database_after_publication_is_refused(published_tender: Tender) -> None:
    tender = Tender.objects.get(pk=published_tender.pk)
    original = tenders.published_method(tender)  # read once: kept by this process
    Tender.objects.filter(pk=tender.pk).update(evaluation_criteria=changed_method(tender))
    with pytest.raises(tenders.MethodNotAsPublished) as refused:
        tenders.published_method(Tender.objects.get(pk=tender.pk))
    assert refused.value.code == "method_not_as_published"
    assert refused.value.status == 409
    assert "发布后被改动" in str(refused.value.message)
    # The kind of method (综合评估法 → 经评审的最低投标价法) is part of what was published too.
    Tender.objects.filter(pk=tender.pk).update(evaluation_criteria=tender.evaluation_criteria)
    Tender.objects.filter(pk=tender.pk).update(evaluation_method="lowest_price")
    with pytest.raises(tenders.MethodNotAsPublished):
        tenders.published_method(Tender.objects.get(pk=tender.pk))
    # Put back as published, it reads again (key order in the database does not matter: canonical JSON).
    Tender.objects.filter(pk=tender.pk).update(
        evaluation_method=tender.evaluation_method,
        evaluation_criteria=dict(reversed(tender.evaluation_criteria.items())),
    )
    assert tenders.published_method(Tender.objects.get(pk=tender.pk)) == original


def test_a_publication_record_edited_in_the_ledger_is_refused(published_tender: Tender) -> None:
    tender = Tender.objects.get(pk=published_tender.pk)
    method = changed_method(tender)
    entry = publication(tender)
    data = json.loads(entry.data)
    data["method"] = method
    # The row and the record changed together, the record's hashes left: its own hashes no longer hold.
    Tender.objects.filter(pk=tender.pk).update(evaluation_criteria=method)
    with attacker_sql() as cursor:
        cursor.execute("UPDATE archive_ledgerentry SET data = %s WHERE seq = %s", [json.dumps(data), entry.seq])
    with pytest.raises(tenders.MethodNotAsPublished) as refused:
        tenders.published_method(Tender.objects.get(pk=tender.pk))
    assert refused.value.code == "publication_record_invalid"


def test_a_publication_record_rewritten_with_its_hashes_is_refused_by_the_next_entrys_link(
    published_tender: Tender,
) -> None:
    tender = Tender.objects.get(pk=published_tender.pk)
    method = changed_method(tender)
    entry = publication(tender)
    assert LedgerEntry.objects.filter(seq=entry.seq + 1).exists()  # custody confirmations came after it
    data = json.loads(entry.data)
    data["method"] = method
    entry.data = canonical_json(data).decode()
    content = entry_bytes(entry)
    with attacker_sql() as cursor:
        cursor.execute(
            "UPDATE archive_ledgerentry SET data = %s, entry_hash = %s, leaf_hash = %s WHERE seq = %s",
            [entry.data, hashlib.sha256(content).hexdigest(), merkle.leaf_hash(content).hex(), entry.seq],
        )
    Tender.objects.filter(pk=tender.pk).update(evaluation_criteria=method)
    with pytest.raises(tenders.MethodNotAsPublished) as refused:
        tenders.published_method(Tender.objects.get(pk=tender.pk))
    assert refused.value.code == "publication_record_invalid"
    assert not verify_ledger().ok


# --- The session applies the published method ---------------------------------------------------------------


def session_state(case: Any) -> tuple[Any, ...]:
    case.evaluation.refresh_from_db()
    return (
        list(Mark.objects.order_by("pk").values_list("pk", "score", "passed")),
        list(Sheet.objects.order_by("pk").values_list("pk", "submitted_at")),
        SessionEvent.objects.count(),
        LedgerEntry.objects.count(),
        case.evaluation.stage,
    )


def refused_unchanged(case: Any, call: Any, *args: Any, **kwargs: Any) -> DomainError:
    before = session_state(case)
    with pytest.raises(DomainError) as caught:
        call(*args, **kwargs)
    assert caught.value.code == "method_not_as_published", (caught.value.code, caught.value.message)
    assert session_state(case) == before
    return caught.value


def test_a_method_changed_during_the_session_stops_every_step_that_reads_it(session_case: Any) -> None:
    case = session_case(n_bids=3, n_experts=3)
    to_qualification(case)
    qualify_all(case)
    stages.close_stage(case.experts[0], case.tender, Stage.QUALIFICATION)
    published = case.tender.evaluation_criteria

    # The operator widens T1's range in the database; a process reading the tender afresh sees it.
    Tender.objects.filter(pk=case.tender.pk).update(evaluation_criteria=changed_method(case.tender))
    tender = Tender.objects.get(pk=case.tender.pk)
    bid = case.bids[0].public_id
    expert = case.experts[1]
    refused_unchanged(case, marks.save_mark, expert, tender, "scoring", bid, "T1", score="50")
    refused_unchanged(case, marks.save_mark, expert, tender, "scoring", bid, "T1", score="7")
    refused_unchanged(case, views.snapshot, expert, tender, case.evaluation, case.members[1], EXPERT)
    refused_unchanged(case, stages.close_stage, case.experts[0], tender, Stage.SCORING)

    # Put back as published: the session goes on, and a score above the published range is still refused.
    Tender.objects.filter(pk=case.tender.pk).update(evaluation_criteria=published)
    tender = Tender.objects.get(pk=case.tender.pk)
    with pytest.raises(DomainError) as out_of_range:
        marks.save_mark(expert, tender, "scoring", bid, "T1", score="50")
    assert out_of_range.value.code == "invalid_input"
    case.tender = tender
    score_all(case, even)
    stages.close_stage(case.experts[0], tender, Stage.SCORING)
    stages.close_stage(case.experts[0], tender, Stage.PRICE)

    # At the summary's close the report is built from the method: changed again, the close is refused, no report.
    Tender.objects.filter(pk=case.tender.pk).update(evaluation_criteria=changed_method(case.tender))
    tender = Tender.objects.get(pk=case.tender.pk)
    refused_unchanged(case, closing.close_stage, case.experts[0], tender, Stage.SUMMARY)
    assert not Report.objects.filter(evaluation=case.evaluation).exists()
    Tender.objects.filter(pk=case.tender.pk).update(evaluation_criteria=published)
    tender = Tender.objects.get(pk=case.tender.pk)
    closing.close_stage(case.experts[0], tender, Stage.SUMMARY)
    built = json.loads(bytes(Report.objects.get(evaluation=case.evaluation).content))
    assert built["tender"]["method"] == json.loads(publication(tender).data)["method"]
