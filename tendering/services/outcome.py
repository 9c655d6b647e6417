"""How a tender leaves the evaluation: failed (招标失败), or with a signed report and candidates.

``evaluation`` calls these inside its own transaction (it may import ``tendering``; never the other way),
and the opening's close calls ``fail`` when fewer than three bids were opened.
"""

from __future__ import annotations

from typing import Any

from django.db import models, transaction
from django.utils.translation import gettext_lazy as _

from accounts.errors import WrongPhase
from accounts.models import User
from archive.ledger import record
from config import clock
from tendering.models import Phase, Tender
from tendering.services.locks import lock_tender

# 招标投标法 Art 28; 实施条例 Art 55: fewer than three valid bids, re-tender.
MINIMUM_VALID_BIDS = 3


class FailureReason(models.TextChoices):
    TOO_FEW_OPENED = "too_few_opened", _("开标后有效投标不足三家，招标失败，请依法重新招标。")
    TOO_FEW_QUALIFIED = "too_few_qualified", _("评审后合格投标不足三家，招标失败，请依法重新招标。")


def fail(
    tender: Tender, reason: FailureReason, actor: User | None, details: dict[str, Any], *, locked: bool = False
) -> Tender:
    """Mark the tender failed, in the caller's transaction, with a ledger entry naming why.

    ``locked``: the caller already holds ``tender``'s row lock (the opening's close, which has locked rows that
    come after the tender in LOCK_ORDER since) and passes that row."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("a tender fails inside the transaction that finds it must")
    if not locked:
        tender = lock_tender(tender.pk)
    phase = tender.phase(clock.now())
    if phase not in (Phase.OPENING, Phase.EVALUATION):
        raise WrongPhase(_("只有开标或评标阶段的招标项目才会因有效投标不足而失败。"), code="not_failable")
    tender.failed_at = clock.now()
    tender.failure_reason = reason.value
    tender.save(update_fields=["failed_at", "failure_reason", "updated_at"])
    record(
        tender.case,
        "tendering.tender.failed",
        {"tender_id": tender.pk, "reason": reason.value, "failed_at": tender.failed_at.isoformat(), **details},
        actor,
    )
    return tender


def evaluation_reported(tender: Tender, actor: User | None, details: dict[str, Any]) -> Tender:
    """The committee's report is signed and filed: the tender's candidates wait for publicity."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("the report is recorded inside the transaction that files it")
    tender = lock_tender(tender.pk)
    if tender.phase(clock.now()) != Phase.EVALUATION:
        raise WrongPhase(_("只有评标阶段的招标项目才能提交评标报告。"), code="not_in_evaluation")
    tender.evaluation_reported_at = clock.now()
    tender.save(update_fields=["evaluation_reported_at", "updated_at"])
    record(
        tender.case,
        "tendering.evaluation.reported",
        {"tender_id": tender.pk, "reported_at": tender.evaluation_reported_at.isoformat(), **details},
        actor,
    )
    return tender
