"""What every session service needs: the evaluation of a tender, its locked row, the member a user is, the stage,
the method and the opened bids. Refusals are ``accounts.errors`` with translated Chinese messages."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext as _

from accounts.errors import InvalidInput, NotFound, PermissionDenied, WrongPhase
from archive.ledger import record
from evaluation.models import CommitteeMember, Evaluation, MemberState, Stage
from tendering.method import Method
from tendering.models import Bid, BidOpening, BidOpeningState, Tender
from tendering.services.locks import lock_one, lock_tender
from tendering.services.tenders import published_method

# Where the session starts: before it the committee is being drawn and confirmed.
SESSION_STAGES = (Stage.SIGN_IN, Stage.QUALIFICATION, Stage.SCORING, Stage.PRICE, Stage.SUMMARY, Stage.REPORT)


def evaluation_of(tender: Tender) -> Evaluation:
    try:
        # ``get``, not ``first``: one row at most (one evaluation per tender), and no ORDER BY to build.
        return Evaluation.objects.select_related("tender").get(tender=tender)
    except Evaluation.DoesNotExist:
        raise NotFound(_("该招标项目尚无评标。"), code="no_evaluation") from None


def lock_evaluation(tender: Tender, *, with_tender: bool = False) -> Evaluation:
    """The evaluation's row locked (the tender's first when ``with_tender``: LOCK_ORDER puts it before)."""
    if with_tender:
        lock_tender(tender.pk)
    evaluation = lock_one(Evaluation.objects.filter(tender=tender))
    evaluation.tender = tender
    return evaluation


def member_of(user: Any, evaluation: Evaluation) -> CommitteeMember | None:
    """The user's confirmed membership of the committee (a recused or declined one is not, nor that of a user
    deactivated since ``user`` was read: the session's commands rely on this, ``SessionConsumer.command_user``)."""
    if not getattr(user, "is_authenticated", False):
        return None
    try:
        # One row at most (an expert per user, a member per expert and evaluation): ``get``, no ORDER BY to build.
        member = CommitteeMember.objects.select_related("expert").get(
            evaluation=evaluation, expert__user=user, expert__user__is_active=True, state=MemberState.CONFIRMED
        )
    except CommitteeMember.DoesNotExist:
        return None
    member.expert.user = user  # the row the filter matched: not read a second time
    return member


def is_supervisor(user: Any, evaluation: Evaluation) -> bool:
    return bool(getattr(user, "is_authenticated", False)) and evaluation.supervisor_id == user.pk


def require_member(user: Any, evaluation: Evaluation) -> CommitteeMember:
    member = member_of(user, evaluation)
    if member is None:
        if is_supervisor(user, evaluation):
            raise PermissionDenied(_("监督人员只能观看评标，不能操作。"), code="read_only")
        raise PermissionDenied(_("您不是本项目评标委员会的成员。"), code="not_a_member")
    return member


def require_stage(evaluation: Evaluation, *stages: Stage) -> None:
    if evaluation.stage not in stages:
        current = Stage(evaluation.stage).label
        raise WrongPhase(_("评标当前处于“%(stage)s”阶段，不能进行此操作。") % {"stage": current}, code="wrong_stage")


def require_chair(member: CommitteeMember, evaluation: Evaluation) -> None:
    if evaluation.chair_id != member.pk:
        raise PermissionDenied(_("只有评标委员会主任可以进行此操作。"), code="not_chair")


def method_of(tender: Tender) -> Method:
    """The method the evaluation applies: the one the tender published, refused (``method_not_as_published``,
    nothing changes) if the tender's row no longer holds it (``tendering.services.tenders.published_method``)."""
    return published_method(tender)


@dataclasses.dataclass(frozen=True)
class OpenedBid:
    """A bid opened at the opening: what the session evaluates."""

    bid: Bid
    opening: BidOpening

    @property
    def position(self) -> int:
        return self.opening.position

    @property
    def price(self) -> Decimal:
        lots = (self.opening.price_summary or {}).get("lots", [])
        return sum((Decimal(str(lot["price_yuan"])) for lot in lots), Decimal("0.00"))


# What the session never reads of a bid and its opening (the manifest, signatures, receipts, keys): not fetched.
_UNREAD = (
    "sealed_file_key",
    "ciphertext_header",
    "bid__manifest",
    "bid__signature",
    "bid__receipt",
    "bid__withdrawal_receipt",
)


def opened_bids(tender: Tender) -> list[OpenedBid]:
    rows = (
        BidOpening.objects.select_related("bid", "bid__bidder")
        .defer(*_UNREAD)
        .filter(opening__tender=tender, state=BidOpeningState.OPENED)
        .order_by("position")
    )
    return [OpenedBid(row.bid, row) for row in rows]


def bid_named(tender: Tender, public_id: Any, field: str = "bid", bids: list[OpenedBid] | None = None) -> OpenedBid:
    for opened in opened_bids(tender) if bids is None else bids:
        if opened.bid.public_id == public_id:
            return opened
    raise InvalidInput({field: [_("本项目没有这份已开标的投标文件。")]})


def ledger(evaluation: Evaluation, action: str, data: dict[str, Any], actor: Any) -> int:
    """An ``evaluation.session.<action>`` entry in the tender's case; its sequence number."""
    entry = record(
        evaluation.tender.case, f"evaluation.session.{action}", {"evaluation_id": evaluation.pk, **data}, actor
    )
    return int(entry.seq)
