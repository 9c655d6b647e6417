"""API for tenders: public listing and detail, drafting, publication, documents, Q&A, amendments.

Endpoints validate input and call services; they never change models themselves.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Annotated, Any

from django.db.models import Q
from django.http import FileResponse, HttpRequest
from django.utils.translation import gettext as _
from ninja import File, Form, Query, Router, Schema, Status
from ninja.files import UploadedFile
from pydantic import BeforeValidator, Field

from accounts.errors import NotFound
from config import clock
from config.api_auth import AUTHENTICATED, OPTIONAL, actor
from tendering import permissions
from tendering.http import document_download_response
from tendering.method import default_method
from tendering.models import EvaluationMethod, Phase, ProcedureType, Question, Tender, TenderDocument
from tendering.permissions import visible_tender
from tendering.services import amendments, documents, notifications, questions, tenders

router = Router(tags=["tenders"])
notifications_router = Router(tags=["notifications"])


class LotIn(Schema):
    number: int = Field(ge=1, le=999)
    name: str = Field(min_length=1, max_length=200)
    budget: Decimal = Field(gt=0, max_digits=16, decimal_places=2)


METHOD_DESCRIPTION = (
    "The evaluation method (评标办法), format etender-method-v1 (docs/evaluation.md §1): qualification items "
    "with their required documents, scored criteria, the price rule. Decimals are strings with up to 2 places. "
    "Omitted or {}: not set yet (publication refuses it). Every problem is reported at once in fields, keyed "
    "method.<path> (method.criteria[1].weight)."
)


class TenderIn(Schema):
    number: str = Field(min_length=3, max_length=50)
    title: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=20000)
    procedure_type: str
    budget: Decimal = Field(gt=0, max_digits=16, decimal_places=2)
    bid_deadline: dt.datetime
    opening_time: dt.datetime
    enquiry_deadline: dt.datetime
    evaluation_method: str
    custodian_ids: list[int] = Field(max_length=9)
    custodian_threshold: int = Field(ge=1, le=9)
    lots: list[LotIn] = Field(default_factory=list, max_length=100)
    agency_id: int | None = None
    tenderer_id: int | None = None
    method: dict[str, Any] | None = Field(
        default=None, description=METHOD_DESCRIPTION, json_schema_extra={"example": default_method("comprehensive")}
    )


class LotOut(Schema):
    number: int
    name: str
    budget: Decimal


class DocumentOut(Schema):
    id: uuid.UUID
    name: str
    size: int
    sha256: str
    content_type: str
    uploaded_at: dt.datetime
    amendment: int | None


class CustodianOut(Schema):
    position: int
    name: str
    key_fingerprint: str | None
    public_key: str | None = Field(description="The encryption key fixed at publication (SPKI, PEM): bids seal to it")


class AmendmentOut(Schema):
    number: int
    summary: str
    issued_at: dt.datetime
    previous_deadline: dt.datetime
    new_deadline: dt.datetime | None
    new_opening_time: dt.datetime | None


class QuestionOut(Schema):
    id: uuid.UUID
    text: str
    asked_at: dt.datetime
    answer: str
    answered_at: dt.datetime | None


class TenderSummary(Schema):
    id: uuid.UUID
    number: str
    title: str
    procedure_type: ProcedureType
    tenderer: str
    budget: Decimal
    bid_deadline: dt.datetime
    opening_time: dt.datetime
    phase: Phase
    published_at: dt.datetime | None


class TenderDetail(TenderSummary):
    description: str
    agency: str | None
    enquiry_deadline: dt.datetime
    evaluation_method: EvaluationMethod
    custodian_threshold: int
    method: dict[str, Any] | None = Field(
        description="The evaluation method as published, canonical etender-method-v1 (docs/evaluation.md §1); "
        "null while a draft has none",
        json_schema_extra={"example": default_method("comprehensive")},
    )
    lots: list[LotOut]
    custodians: list[CustodianOut]
    documents: list[DocumentOut]
    amendments: list[AmendmentOut]
    questions: list[QuestionOut]
    can_manage: bool


class NotificationOut(Schema):
    id: int
    kind: str
    message: str
    tender_id: uuid.UUID
    tender_number: str
    created_at: dt.datetime
    read: bool


class NotificationsRead(Schema):
    ids: list[int] | None = Field(default=None, max_length=1000, description="Omit to mark all read")


class QuestionIn(Schema):
    text: str = Field(min_length=1, max_length=5000)


class AnswerIn(Schema):
    answer: str = Field(min_length=1, max_length=5000)


def _summary(tender: Tender, now: dt.datetime) -> dict[str, Any]:
    return {
        "id": tender.public_id,
        "number": tender.number,
        "title": tender.title,
        "procedure_type": tender.procedure_type,
        "tenderer": tender.tenderer.name,
        "budget": tender.budget,
        "bid_deadline": tender.bid_deadline,
        "opening_time": tender.opening_time,
        "phase": tender.phase(now),
        "published_at": tender.published_at,
    }


def _document_out(doc: TenderDocument) -> dict[str, Any]:
    return {
        "id": doc.public_id,
        "name": doc.name,
        "size": doc.size,
        "sha256": doc.sha256,
        "content_type": doc.content_type,
        "uploaded_at": doc.uploaded_at,
        "amendment": doc.amendment.number if doc.amendment else None,
    }


def _question_out(q: Question) -> dict[str, Any]:
    return {"id": q.public_id, "text": q.text, "asked_at": q.asked_at, "answer": q.answer, "answered_at": q.answered_at}


def _detail(user: Any, tender: Tender) -> dict[str, Any]:
    now = clock.now()
    manager = permissions.can_manage(user, tender)
    visible_questions = list(questions.public_questions(tender))
    if manager or user.is_authenticated:
        seen = {q.pk for q in visible_questions}
        visible_questions += [q for q in questions.questions_for(user, tender) if q.pk not in seen]
    return {
        **_summary(tender, now),
        "description": tender.description,
        "agency": tender.agency.name if tender.agency else None,
        "enquiry_deadline": tender.enquiry_deadline,
        "evaluation_method": tender.evaluation_method,
        "custodian_threshold": tender.custodian_threshold,
        "method": tender.evaluation_criteria or None,
        "lots": list(tender.lots.all()),
        "custodians": [
            {
                "position": s.position,
                "name": str(s.user),
                "key_fingerprint": s.public_key.fingerprint if s.public_key else None,
                "public_key": s.public_key.pem if s.public_key else None,
            }
            for s in tender.custodian_slots.select_related("user", "public_key")
        ],
        "documents": [_document_out(d) for d in documents.visible_documents(user, tender)],
        "amendments": list(tender.amendments.all()),
        "questions": [_question_out(q) for q in visible_questions],
        "can_manage": manager,
    }


def _managed(user: Any, public_id: uuid.UUID) -> Tender:
    tender = visible_tender(user, public_id)
    permissions.require_manage(user, tender, _("您无权管理此招标项目。"))
    return tender


def _input(payload: TenderIn) -> tenders.TenderInput:
    return tenders.TenderInput(
        number=payload.number.strip(),
        title=payload.title.strip(),
        description=payload.description,
        procedure_type=payload.procedure_type,
        budget=payload.budget,
        bid_deadline=payload.bid_deadline,
        opening_time=payload.opening_time,
        enquiry_deadline=payload.enquiry_deadline,
        evaluation_method=payload.evaluation_method,
        custodian_ids=payload.custodian_ids,
        custodian_threshold=payload.custodian_threshold,
        lots=[tenders.LotInput(number=lot.number, name=lot.name, budget=lot.budget) for lot in payload.lots],
        agency_id=payload.agency_id,
        tenderer_id=payload.tenderer_id,
        method=payload.method,
    )


class TenderFilter(Schema):
    q: str = Field(default="", max_length=100, description="Search in number, title and tenderer")
    # An empty ?phase= (a form's "any") means no filter.
    phase: Annotated[Phase | None, BeforeValidator(lambda value: value or None)] = Field(
        default=None, description="Only tenders in this phase"
    )
    mine: bool = False
    offset: int = Field(default=0, ge=0)
    limit: int = Field(default=20, ge=1, le=100)


def search(user: Any, q: str = "", phase: str = "", mine: bool = False) -> list[Tender]:
    """Published tenders (with ``mine``: the caller's managed tenders, drafts included), filtered."""
    if mine and user.is_authenticated and user.organization_id:
        qs = Tender.objects.filter(Q(tenderer_id=user.organization_id) | Q(agency_id=user.organization_id))
    else:
        qs = Tender.objects.filter(published_at__isnull=False)
    terms = q.strip()
    if terms:
        qs = qs.filter(Q(title__icontains=terms) | Q(number__icontains=terms) | Q(tenderer__name__icontains=terms))
    found = [t for t in qs.select_related("tenderer") if not mine or permissions.can_manage(user, t)]
    if phase:
        now = clock.now()
        found = [t for t in found if t.phase(now) == phase]
    return found


@router.get("", auth=OPTIONAL, response=list[TenderSummary], summary="List published tenders")
def list_tenders(request: HttpRequest, filters: Query[TenderFilter]) -> list[dict[str, Any]]:
    now = clock.now()
    found = search(actor(request), filters.q, filters.phase or "", filters.mine)
    return [_summary(t, now) for t in found[filters.offset : filters.offset + filters.limit]]


@notifications_router.get("", auth=AUTHENTICATED, response=list[NotificationOut], summary="My notices, newest first")
def list_notifications(request: HttpRequest, unread: bool = False) -> list[dict[str, Any]]:
    found = notifications.notifications_for(actor(request))
    if unread:
        found = found.filter(read_at__isnull=True)
    return [
        {
            "id": n.pk,
            "kind": n.kind,
            "message": n.message,
            "tender_id": n.tender.public_id,
            "tender_number": n.tender.number,
            "created_at": n.created_at,
            "read": n.read_at is not None,
        }
        for n in found[:200]
    ]


@notifications_router.post("/read", auth=AUTHENTICATED, response=dict[str, int], summary="Mark my notices read")
def read_notifications(request: HttpRequest, payload: NotificationsRead) -> dict[str, int]:
    return {"marked": notifications.mark_read(actor(request), payload.ids)}


@router.post("", auth=AUTHENTICATED, response={201: TenderDetail}, summary="Create a draft tender")
def create_tender(request: HttpRequest, payload: TenderIn) -> Status[Any]:
    user = actor(request)
    tender = tenders.create_draft(user, _input(payload))
    return Status(201, _detail(user, tender))


@router.get("/{public_id}", auth=OPTIONAL, response=TenderDetail)
def tender_detail(request: HttpRequest, public_id: uuid.UUID) -> dict[str, Any]:
    user = actor(request)
    return _detail(user, visible_tender(user, public_id))


@router.put("/{public_id}", auth=AUTHENTICATED, response=TenderDetail, summary="Edit a draft")
def update_tender(request: HttpRequest, public_id: uuid.UUID, payload: TenderIn) -> dict[str, Any]:
    user = actor(request)
    tender = tenders.update_draft(user, _managed(user, public_id), _input(payload))
    return _detail(user, tender)


@router.post("/{public_id}/publish", auth=AUTHENTICATED, response=TenderDetail)
def publish_tender(request: HttpRequest, public_id: uuid.UUID) -> dict[str, Any]:
    user = actor(request)
    tender = tenders.publish(user, _managed(user, public_id))
    return _detail(user, tender)


@router.post(
    "/{public_id}/documents", auth=AUTHENTICATED, response={201: DocumentOut}, summary="Attach a document to a draft"
)
def upload_document(request: HttpRequest, public_id: uuid.UUID, file: File[UploadedFile]) -> Status[Any]:
    user = actor(request)
    tender = _managed(user, public_id)
    document = documents.add_document(user, tender, file.name or "", file, file.size)
    return Status(201, _document_out(document))


@router.delete("/{public_id}/documents/{document_id}", auth=AUTHENTICATED, response={204: None})
def delete_document(request: HttpRequest, public_id: uuid.UUID, document_id: uuid.UUID) -> Status[Any]:
    user = actor(request)
    tender = _managed(user, public_id)
    documents.withdraw_draft_document(user, documents.document_for_download(user, tender, str(document_id)))
    return Status(204, None)


@router.get("/{public_id}/documents/{document_id}/download", auth=OPTIONAL, summary="Download a document (recorded)")
def download_document(request: HttpRequest, public_id: uuid.UUID, document_id: uuid.UUID) -> FileResponse:
    user = actor(request)
    document = documents.document_for_download(user, visible_tender(user, public_id), str(document_id))
    return document_download_response(request, document, user)


@router.post("/{public_id}/questions", auth=AUTHENTICATED, response={201: QuestionOut})
def ask(request: HttpRequest, public_id: uuid.UUID, payload: QuestionIn) -> Status[Any]:
    user = actor(request)
    question = questions.ask_question(user, visible_tender(user, public_id), payload.text)
    return Status(201, _question_out(question))


@router.post("/{public_id}/questions/{question_id}/answer", auth=AUTHENTICATED, response=QuestionOut)
def answer(request: HttpRequest, public_id: uuid.UUID, question_id: uuid.UUID, payload: AnswerIn) -> dict[str, Any]:
    user = actor(request)
    tender = visible_tender(user, public_id)
    question = Question.objects.filter(tender=tender, public_id=question_id).first()
    if question is None:
        raise NotFound(_("找不到该问题。"))
    return _question_out(questions.answer_question(user, question, payload.answer))


@router.post("/{public_id}/amendments", auth=AUTHENTICATED, response={201: AmendmentOut})
def amend(
    request: HttpRequest,
    public_id: uuid.UUID,
    summary: Form[str],
    new_deadline: Form[dt.datetime | None] = None,
    new_opening_time: Form[dt.datetime | None] = None,
    files: File[list[UploadedFile]] | None = None,
) -> Status[Any]:
    user = actor(request)
    tender = _managed(user, public_id)
    uploads = [(f.name or "", f, f.size) for f in (files or [])]
    amendment = amendments.issue_amendment(user, tender, summary, uploads, new_deadline, new_opening_time)
    return Status(201, amendment)
