"""Creating, editing and publishing tenders, and the explicit phase transitions."""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import json
import logging
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _

from accounts.errors import Conflict, InvalidInput, PermissionDenied, WrongPhase
from accounts.models import KeyPurpose, OrganizationKind, PublicKey, Role, User
from archive.canonical import canonical_json
from archive.ledger import entry_problem, record
from archive.models import LedgerEntry
from config import clock
from tendering import permissions
from tendering.method import MESSAGES, PUBLICATION_ONLY, Method, MethodInvalid, method_problems, validate_method
from tendering.models import EvaluationMethod, Lot, Phase, ProcedureType, Tender, TenderCustodian
from tendering.services.after_commit import Work, enqueue_after_commit
from tendering.services.documents import file_document
from tendering.services.locks import lock_tender

NUMBER_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9\-_/.]{2,49}$")
PUBLISHED = "tendering.tender.published"
logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class LotInput:
    number: int
    name: str
    budget: Decimal


@dataclasses.dataclass(frozen=True)
class TenderInput:
    """What a tenderer fills in for a draft. Values are typed; rules are checked by the service."""

    number: str
    title: str
    procedure_type: str
    budget: Decimal
    bid_deadline: dt.datetime
    opening_time: dt.datetime
    enquiry_deadline: dt.datetime
    evaluation_method: str
    custodian_ids: list[int]
    custodian_threshold: int
    description: str = ""
    lots: list[LotInput] = dataclasses.field(default_factory=list)
    agency_id: int | None = None
    tenderer_id: int | None = None
    # The evaluation method's JSON object (etender-method-v1, tendering/method.py); None: not set yet.
    method: dict[str, Any] | None = None


def parse_money(value: Any) -> Decimal:
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise InvalidInput({"budget": [_("金额必须是数字，例如 1200000.00。")]}) from None
    if not amount.is_finite():
        raise InvalidInput({"budget": [_("金额必须是数字，例如 1200000.00。")]})
    return amount


def method_errors(data: Any, kind: str, *, publication: bool) -> tuple[Method | None, dict[str, list[str]]]:
    """The method read from ``data`` for a tender of ``kind`` and its problems, translated, keyed ``method.<path>``.

    A draft may keep a method whose only problems are ``PUBLICATION_ONLY`` (weights not yet summing to 100);
    publication refuses every problem, and a method not set at all.
    """
    if publication and not data:
        return None, {"method": [_("发布前需要设置评标办法（资格审查项、评分因素和价格规则）。")]}
    threshold = Decimal(settings.EVALUATION_DEVIATION_THRESHOLD_PERCENT).quantize(Decimal("0.01"))
    method, problems = method_problems(data, kind, default_threshold=threshold)
    errors: dict[str, list[str]] = {}
    for problem in problems:
        if publication or problem.code not in PUBLICATION_ONLY:
            key = f"method.{problem.path}" if problem.path else "method"
            errors.setdefault(key, []).append(_(MESSAGES[problem.code]) % dict(problem.params))
    return method, errors


def tender_method(tender: Tender) -> Method | None:
    """The tender's evaluation method read back from its canonical object (None while a draft has none)."""
    if not tender.evaluation_criteria:
        return None
    return method_problems(tender.evaluation_criteria, tender.evaluation_method)[0]


def _validate(data: TenderInput, now: dt.datetime, *, existing: Tender | None) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}

    def err(field: str, message: str) -> None:
        errors.setdefault(field, []).append(message)

    if not NUMBER_PATTERN.match(data.number or ""):
        err("number", _("招标编号为 3 到 50 个字母、数字或 - _ / . 字符。"))
    elif Tender.objects.filter(number=data.number).exclude(pk=existing.pk if existing else 0).exists():
        err("number", _("招标编号已被使用。"))
    if not data.title.strip() or len(data.title) > 200:
        err("title", _("项目名称为 1 到 200 个字符。"))
    if len(data.description) > 20000:
        err("description", _("项目概况不能超过 20000 个字符。"))
    if data.procedure_type not in ProcedureType.values:
        err("procedure_type", _("未知的招标方式。"))
    if data.evaluation_method not in EvaluationMethod.values:
        err("evaluation_method", _("未知的评标办法。"))
    elif data.method:
        errors.update(method_errors(data.method, data.evaluation_method, publication=False)[1])
    if (
        not data.budget.is_finite()
        or data.budget <= 0
        or data.budget.as_tuple().exponent < -2  # type: ignore[operator]
        or data.budget >= Decimal("1e14")
    ):
        err("budget", _("预算金额必须大于 0，最多两位小数。"))
    for field in ("bid_deadline", "opening_time", "enquiry_deadline"):
        if getattr(data, field).tzinfo is None:
            err(field, _("时间必须带时区。"))
    if not errors.keys() & {"bid_deadline", "opening_time", "enquiry_deadline"}:
        if data.bid_deadline <= now:
            err("bid_deadline", _("投标截止时间已过，请选择将来的时间。"))
        if data.opening_time < data.bid_deadline:
            err("opening_time", _("开标时间不能早于投标截止时间。"))
        if data.enquiry_deadline > data.bid_deadline:
            err("enquiry_deadline", _("提问截止时间不能晚于投标截止时间。"))
        if data.enquiry_deadline <= now:
            err("enquiry_deadline", _("提问截止时间已过，请选择将来的时间。"))
    numbers = [lot.number for lot in data.lots]
    if len(set(numbers)) != len(numbers):
        err("lots", _("标段号不能重复。"))
    for lot in data.lots:
        if lot.number < 1 or not lot.name.strip() or len(lot.name) > 200:
            err("lots", _("每个标段需要正整数编号和 1 到 200 个字符的名称。"))
        if not lot.budget.is_finite() or lot.budget <= 0 or lot.budget.as_tuple().exponent < -2:  # type: ignore[operator]
            err("lots", _("标段预算必须大于 0，最多两位小数。"))
    if data.lots and sum(lot.budget for lot in data.lots) > data.budget:
        err("lots", _("各标段预算之和不能超过项目预算。"))
    n = len(data.custodian_ids)
    if len(set(data.custodian_ids)) != n:
        err("custodian_ids", _("密钥保管人不能重复。"))
    if n == 0 or n > settings.CUSTODIANS_MAX:
        err("custodian_ids", _("需要 1 到 %(max)d 名密钥保管人。") % {"max": settings.CUSTODIANS_MAX})
    elif not settings.CUSTODIAN_THRESHOLD_MIN <= data.custodian_threshold <= n:
        err(
            "custodian_threshold",
            _("开启门限 k 必须在 %(min)d 和保管人人数 n 之间。") % {"min": settings.CUSTODIAN_THRESHOLD_MIN},
        )
    found = User.objects.filter(pk__in=data.custodian_ids, is_active=True, role_grants__role=Role.CUSTODIAN).count()
    if n and found != len(set(data.custodian_ids)):
        err("custodian_ids", _("所选的人中有人不是有效的密钥保管人。"))
    return errors


def draft_problems(data: TenderInput, *, existing: Tender | None = None) -> dict[str, list[str]]:
    """What the draft rules say of ``data``, writing nothing: a form shows them with its own, all at once."""
    return _validate(data, clock.now(), existing=existing)


def _resolve_parties(actor: User, data: TenderInput, errors: dict[str, list[str]]) -> tuple[Any, Any]:
    """The tenderer and agency of a new tender, from who the actor is.

    Tenderer staff create for their own organization (optionally naming an agency,
    which acts only once the tenderer entrusts it); agency staff create for a
    tenderer they name, with their agency attached, only within that tenderer's
    entrustment covering this tender's number (``no_entrustment`` otherwise).
    """
    from accounts.models import Organization

    org = actor.organization
    if org is None or org.kind not in (OrganizationKind.TENDERER, OrganizationKind.AGENCY):
        raise PermissionDenied(_("您的账户未关联招标人或代理机构。"))
    if org.kind == OrganizationKind.AGENCY:
        tenderer = Organization.objects.filter(pk=data.tenderer_id or 0, kind=OrganizationKind.TENDERER).first()
        if tenderer is None:
            errors.setdefault("tenderer_id", []).append(_("代理机构创建项目时必须选择委托的招标人。"))
        elif not permissions.entrusted(tenderer.pk, org.pk, data.number, clock.now()):
            raise permissions.no_entrustment(data.number)
        return tenderer, org
    agency = None
    if data.agency_id is not None:
        agency = Organization.objects.filter(pk=data.agency_id, kind=OrganizationKind.AGENCY).first()
        if agency is None:
            errors.setdefault("agency_id", []).append(_("找不到该招标代理机构。"))
    return org, agency


def _write(tender: Tender, data: TenderInput) -> None:
    for field in (
        "number",
        "title",
        "description",
        "procedure_type",
        "budget",
        "bid_deadline",
        "opening_time",
        "enquiry_deadline",
        "evaluation_method",
        "custodian_threshold",
    ):
        setattr(tender, field, getattr(data, field))
    method = None
    if data.method:
        method = method_errors(data.method, data.evaluation_method, publication=False)[0]
    tender.evaluation_criteria = method.to_json() if method is not None else {}
    tender.save()
    tender.lots.all().delete()
    Lot.objects.bulk_create(
        [Lot(tender=tender, number=lot.number, name=lot.name.strip(), budget=lot.budget) for lot in data.lots]
    )
    tender.custodian_slots.all().delete()
    TenderCustodian.objects.bulk_create(
        [TenderCustodian(tender=tender, user_id=uid, position=i + 1) for i, uid in enumerate(data.custodian_ids)]
    )


@transaction.atomic
def create_draft(actor: User, data: TenderInput) -> Tender:
    """Create a draft tender for the actor's organization (tenderer) or agency."""
    if not permissions.can_create_tenders(actor):
        raise PermissionDenied(_("只有招标人或招标代理机构的经办人可以创建招标项目。"))
    errors = _validate(data, clock.now(), existing=None)
    tenderer, agency = _resolve_parties(actor, data, errors)
    if errors:
        raise InvalidInput(errors)
    tender = Tender(tenderer=tenderer, agency=agency, created_by=actor)
    _write(tender, data)
    record(tender.case, "tendering.tender.drafted", {"tender_id": tender.pk, "number": tender.number}, actor)
    return tender


@transaction.atomic
def update_draft(actor: User, tender: Tender, data: TenderInput) -> Tender:
    tender = lock_tender(tender.pk)
    permissions.require_manage(actor, tender, _("您无权修改此招标项目。"))
    if tender.published_at is not None:
        raise WrongPhase(_("招标项目已发布，只能通过澄清或修改变更。"))
    errors = _validate(data, clock.now(), existing=tender)
    if errors:
        raise InvalidInput(errors)
    # A tender-scoped entrustment names the number: the agency cannot rename its way out of it.
    if data.number != tender.number:
        renamed = copy.copy(tender)
        renamed.number = data.number
        if not permissions.can_manage(actor, renamed):
            raise permissions.no_entrustment(data.number)
    _write(tender, data)
    record(tender.case, "tendering.tender.draft_updated", {"tender_id": tender.pk, "number": tender.number}, actor)
    return tender


def publication_record(tender: Tender) -> dict[str, Any]:
    """What the ledger keeps of a publication: the terms bidders rely on."""
    return {
        "tender_id": tender.pk,
        "public_id": str(tender.public_id),
        "number": tender.number,
        "title": tender.title,
        "procedure_type": tender.procedure_type,
        "tenderer": tender.tenderer.name,
        "tenderer_credit_code": tender.tenderer.credit_code or "",
        "agency": tender.agency.name if tender.agency else "",
        "budget": str(tender.budget),
        "bid_deadline": tender.bid_deadline.isoformat(),
        "opening_time": tender.opening_time.isoformat(),
        "enquiry_deadline": tender.enquiry_deadline.isoformat(),
        "evaluation_method": tender.evaluation_method,
        "method": tender.evaluation_criteria,
        "lots": [{"number": lot.number, "name": lot.name, "budget": str(lot.budget)} for lot in tender.lots.all()],
        "custodian_threshold": tender.custodian_threshold,
        "custodians": [
            {
                "position": slot.position,
                "user_id": slot.user_id,
                "key_fingerprint": slot.public_key.fingerprint if slot.public_key else "",
            }
            for slot in tender.custodian_slots.select_related("public_key")
        ],
        "documents": [
            {"id": str(doc.public_id), "name": doc.name, "sha256": doc.sha256, "size": doc.size}
            for doc in tender.documents.filter(withdrawn_at__isnull=True)
        ],
    }


class MethodNotAsPublished(Conflict):
    """The method the evaluation would use is not the one the tender published (docs/evaluation.md §1.4)."""

    code = "method_not_as_published"


def _method_terms(evaluation_method: Any, method: Any) -> bytes:
    """The two fields that fix a tender's method, in canonical JSON: what the row and the publication compare on."""
    return canonical_json({"evaluation_method": evaluation_method, "method": method or None})


def _record_invalid(tender: Tender, problem: str) -> MethodNotAsPublished:
    logger.error("tender %s: its publication record cannot be trusted: %s", tender.public_id, problem)
    return MethodNotAsPublished(
        _("账本中本项目的招标公告发布记录缺失或已被改动，无法确认已发布的评标办法：评标不能继续，请核查账本。"),
        code="publication_record_invalid",
    )


def publication_entry(tender: Tender) -> LedgerEntry:
    """The tender's one ``tendering.tender.published`` ledger entry, intact: its data hashes to its entry and leaf
    hashes, and the entry after it (if any) links to it. A missing, repeated, edited or relinked record raises
    ``MethodNotAsPublished`` (``publication_record_invalid``); rewriting the whole chain after it is for
    ``verify_ledger`` and the signed checkpoints to show (docs/ledger.md)."""
    if tender.published_at is None:
        raise WrongPhase(_("招标项目尚未发布，没有已发布的评标办法。"), code="not_published")
    found = list(LedgerEntry.objects.filter(case=tender.case, action=PUBLISHED).order_by("seq")[:2])
    problem = None if len(found) == 1 else f"{len(found) or 'no'} publication records"
    entry = found[0] if found else None
    if entry is not None and problem is None:
        problem = entry_problem(entry)
    if entry is not None and problem is None:
        following = LedgerEntry.objects.filter(seq=entry.seq + 1).values_list("prev_hash", flat=True).first()
        if following is not None and following != entry.entry_hash:
            problem = f"entry {entry.seq + 1} does not link to it"
    if entry is not None and problem is None:
        data = json.loads(entry.data)
        if data.get("tender_id") != tender.pk or data.get("public_id") != str(tender.public_id):
            problem = "it names another tender"
    if problem is not None or entry is None:
        raise _record_invalid(tender, problem or "no publication record")
    return entry


# The verified method of each tender this process has read: public id -> (the row's terms as read, the method).
_published_methods: dict[Any, tuple[str, Method]] = {}
_PUBLISHED_METHODS_KEPT = 512


def published_method(tender: Tender) -> Method:
    """The evaluation method as published: read from the publication's ledger entry (``publication_entry``, its
    field ``method``), and only while the tender's row still holds exactly that method and evaluation method.

    A row changed after publication (nothing in the product writes it then: ``update_draft`` refuses a published
    tender and amendments do not carry the method) raises ``MethodNotAsPublished`` and the caller's
    transaction changes nothing. Once verified, the method is kept per process for as long as the row's terms read
    the same, so each session command costs one comparison (about 20 µs), not a ledger read.
    """
    # The row as it is now, exactly (sorted keys; true is not 1): cheaper than canonical JSON, and only ever
    # compared with itself. What is compared with the publication is the canonical form, below.
    terms = json.dumps([tender.evaluation_method, tender.evaluation_criteria], sort_keys=True, separators=(",", ":"))
    kept = _published_methods.get(tender.public_id)
    if kept is not None and kept[0] == terms:
        return kept[1]
    data = json.loads(publication_entry(tender).data)
    if _method_terms(data.get("evaluation_method"), data.get("method")) != _method_terms(
        tender.evaluation_method, tender.evaluation_criteria
    ):
        raise MethodNotAsPublished(
            _(
                "本项目数据库中的评标办法与发布时账本记录的不一致：评标办法在发布后被改动过，评标只能使用已发布的"
                "评标办法，此操作未执行。请核查账本（招标公告发布记录）。"
            )
        )
    threshold = Decimal(settings.EVALUATION_DEVIATION_THRESHOLD_PERCENT).quantize(Decimal("0.01"))
    try:
        method = validate_method(data.get("method"), str(data.get("evaluation_method")), default_threshold=threshold)
    except MethodInvalid:
        raise _record_invalid(tender, "its method does not read") from None
    if len(_published_methods) >= _PUBLISHED_METHODS_KEPT:
        _published_methods.clear()
    _published_methods[tender.public_id] = (terms, method)
    return method


@transaction.atomic
def publish(actor: User, tender: Tender) -> Tender:
    """Publish a draft (发布招标公告): it becomes public and open for bids."""
    tender = lock_tender(tender.pk)
    permissions.require_manage(actor, tender, _("您无权发布此招标项目。"))
    now = clock.now()
    if tender.published_at is not None:
        raise WrongPhase(
            _("此招标项目已于 %(when)s 发布，不能重复发布。") % {"when": clock.local_text(tender.published_at)},
            code="already_published",
        )
    errors: dict[str, list[str]] = {}
    if tender.bid_deadline <= now:
        errors.setdefault("bid_deadline", []).append(_("投标截止时间已过，请先修改草稿。"))
    min_days = settings.BID_PERIOD_MIN_DAYS.get(tender.procedure_type, 0)
    if tender.bid_deadline - now < dt.timedelta(days=min_days):
        errors.setdefault("bid_deadline", []).append(_("自发布至投标截止不得少于 %(days)d 日。") % {"days": min_days})
    if tender.enquiry_deadline <= now:
        errors.setdefault("enquiry_deadline", []).append(_("提问截止时间已过，请先修改草稿。"))
    if not tender.documents.filter(withdrawn_at__isnull=True).exists():
        errors.setdefault("documents", []).append(_("发布前至少需要上传一份招标文件。"))
    errors.update(method_errors(tender.evaluation_criteria, tender.evaluation_method, publication=True)[1])
    slots = list(tender.custodian_slots.select_related("user"))
    if not slots:
        errors.setdefault("custodian_ids", []).append(_("需要指定密钥保管人。"))
    for slot in slots:
        key = (
            PublicKey.objects.filter(owner=slot.user, purpose=KeyPurpose.ENCRYPTION, revoked_at__isnull=True)
            .order_by("-registered_at")
            .first()
        )
        if key is None:
            errors.setdefault("custodian_ids", []).append(
                _("密钥保管人 %(name)s 尚未登记加密公钥。") % {"name": str(slot.user)}
            )
        else:
            slot.public_key = key
            slot.save(update_fields=["public_key"])
    if errors:
        raise InvalidInput(errors)
    tender.published_at = now
    tender.save(update_fields=["published_at", "updated_at"])
    record(tender.case, PUBLISHED, publication_record(tender), actor)
    for document in tender.documents.filter(withdrawn_at__isnull=True).select_related("tender").order_by("pk"):
        file_document(document, actor)
    enqueue_after_commit(Work.EXPIRE_BID_UPLOADS, tender.pk, run_after=tender.bid_deadline)
    return tender


def _transition(actor: User, tender: Tender, expected: Phase, field: str, action: str) -> Tender:
    tender = lock_tender(tender.pk)
    permissions.require_manage(actor, tender, _("您无权操作此招标项目。"))
    phase = tender.phase(clock.now())
    if phase != expected:
        raise WrongPhase(
            _("当前阶段为「%(phase)s」，此操作只能在「%(expected)s」阶段进行。")
            % {"phase": Phase(phase).label, "expected": expected.label}
        )
    setattr(tender, field, clock.now())
    tender.save(update_fields=[field, "updated_at"])
    record(tender.case, action, {"tender_id": tender.pk, field: getattr(tender, field).isoformat()}, actor)
    return tender


@transaction.atomic
def close_opening(actor: User, tender: Tender) -> Tender:
    """End the opening (开标结束); evaluation begins."""
    return _transition(actor, tender, Phase.OPENING, "opening_closed_at", "tendering.opening.closed")


@transaction.atomic
def publish_candidates(actor: User, tender: Tender) -> Tender:
    """Post the winning candidates (中标候选人公示)."""
    return _transition(actor, tender, Phase.CANDIDATES, "candidates_published_at", "tendering.candidates.published")


@transaction.atomic
def award(actor: User, tender: Tender) -> Tender:
    """Issue the award (定标) after publicity."""
    return _transition(actor, tender, Phase.PUBLICITY, "awarded_at", "tendering.tender.awarded")


@transaction.atomic
def file_case(actor: User, tender: Tender) -> Tender:
    """Close the case (归档): the worker then builds and stores its dossier (tendering.services.case_file)."""
    tender = _transition(actor, tender, Phase.AWARDED, "filed_at", "tendering.tender.filed")
    enqueue_after_commit(Work.FILE_DOSSIER, tender.pk)
    return tender


def ensure_not_managed_by(actor: User, tender: Tender) -> None:
    if permissions.can_manage(actor, tender):
        raise Conflict(_("招标人不能在自己的项目中提问。"), code="own_tender")
