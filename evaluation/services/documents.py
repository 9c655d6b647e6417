"""The bid documents a committee member reads in the session, by byte ranges out of the opened bid.

Who may read a bid's files (members only): a member of the tender's committee who is confirmed (not invited,
declined or recused), who has declared, for that bid, that it has no conflict of interest, while the evaluation
runs. The supervisor watches the session but does not read bids; bidders never reach the committee. The bytes
come from ``tendering.services.opened_files`` (which refuses a bid not opened or a record not yet published).

Each view is recorded in the ledger (``evaluation.document.viewed``), once per member and file per
``VIEW_RECORD_WINDOW``: a PDF viewer reads a file as many small ranges, and one entry per range would only
repeat itself.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from accounts.errors import NotFound, PermissionDenied, WrongPhase
from archive import ledger
from archive.canonical import canonical_json
from archive.models import LedgerEntry
from config import clock
from evaluation.models import CommitteeMember, ConflictDeclaration, Evaluation, MemberState, Stage
from tendering.models import BidOpening, Tender
from tendering.services import locks, opened_files

VIEWED = "evaluation.document.viewed"
# The container keeps the bid folder's files under this prefix; members see (and the response index names)
# their paths relative to the folder.
FOLDER = "bid/"
# A member reading the same file again within this time is not recorded again.
VIEW_RECORD_WINDOW = dt.timedelta(minutes=10)


@dataclasses.dataclass(frozen=True)
class BidFile:
    """One file of an opened bid that a member may read: where it is and what it is."""

    member: CommitteeMember
    bid_opening: BidOpening
    path: str
    size: int
    sha256: str


def readable_file(user: Any, tender: Tender, bid_public_id: Any, path: str) -> BidFile:
    """The file ``path`` of the bid ``bid_public_id`` of ``tender``, if ``user`` may read it; else refused.

    ``NotFound`` for a bid that is not the tender's or a path not in it (nothing tells whether it exists
    elsewhere); ``PermissionDenied`` for anyone but a confirmed member without a conflict with that bid;
    ``WrongPhase`` before the bid's files are revealed or once the evaluation is concluded.
    """
    evaluation = Evaluation.objects.filter(tender=tender).first()
    user_id: int | None = user.pk if getattr(user, "is_authenticated", False) else None
    member = (
        CommitteeMember.objects.select_related("expert").filter(evaluation=evaluation, expert__user_id=user_id).first()
        if evaluation is not None and user_id is not None
        else None
    )
    if evaluation is None or member is None or member.state != MemberState.CONFIRMED:
        raise PermissionDenied(_("只有本项目评标委员会的成员可以查阅投标文件。"), code="not_a_member")
    bid_opening = (
        BidOpening.objects.select_related("bid", "opening")
        .filter(opening__tender=tender, bid__public_id=bid_public_id)
        .first()
    )
    if bid_opening is None:
        raise NotFound(_("本项目没有这份投标文件。"), code="no_such_bid")
    declaration = ConflictDeclaration.objects.filter(member=member, bid=bid_opening.bid).first()
    if declaration is None:
        raise PermissionDenied(_("请先就该投标人作出回避声明，再查阅其投标文件。"), code="not_declared")
    if declaration.has_conflict:
        raise PermissionDenied(_("您已声明与该投标人存在利害关系，不能查阅其投标文件。"), code="conflicted")
    if evaluation.stage == Stage.CONCLUDED:
        raise WrongPhase(_("评标已结束，不能再查阅投标文件。"), code="evaluation_concluded")
    indexed = {f.path: f for f in opened_files.bid_file_index(bid_opening)}.get(FOLDER + path)
    if indexed is None:
        raise NotFound(_("该投标文件中没有此文件。"), code="no_such_file")
    return BidFile(member, bid_opening, indexed.path, indexed.size, indexed.sha256)


def folder_files(bid_opening: BidOpening) -> list[dict[str, Any]]:
    """The opened bid's folder as members see it: ``[{path, size}]``, paths relative to the folder (the snapshot's
    ``bids[].files``; the document URL takes the same path)."""
    return [
        {"path": f.path.removeprefix(FOLDER), "size": f.size}
        for f in opened_files.bid_file_index(bid_opening)
        if f.path.startswith(FOLDER)
    ]


def read(bid_file: BidFile, start: int, end: int) -> Iterator[bytes]:
    """Bytes ``[start, end)`` of the file, decrypted out of the accepted ciphertext."""
    return opened_files.stream_bid_file(bid_file.bid_opening, bid_file.path, start=start, end=end)


def _view_data(bid_file: BidFile) -> dict[str, Any]:
    bid = bid_file.bid_opening.bid
    return {"member": bid_file.member.pk, "bid": str(bid.public_id), "path": bid_file.path, "sha256": bid_file.sha256}


def _recently_recorded(case: str, data: dict[str, Any], actor: Any) -> bool:
    since = clock.now() - VIEW_RECORD_WINDOW
    return LedgerEntry.objects.filter(
        case=case, action=VIEWED, actor=actor, data=canonical_json(data).decode(), recorded_at__gte=since
    ).exists()


def record_view(user: Any, bid_file: BidFile) -> bool:
    """Record that ``user`` read the file (at most once per ``VIEW_RECORD_WINDOW``); whether it was recorded now."""
    case = bid_file.bid_opening.opening.tender.case
    data = _view_data(bid_file)
    if _recently_recorded(case, data, user):
        return False
    with transaction.atomic():
        # The member's row serializes its concurrent reads of the check and the entry (no second entry).
        locks.lock(CommitteeMember.objects.filter(pk=bid_file.member.pk))
        if _recently_recorded(case, data, user):
            return False
        ledger.record(case, VIEWED, data, user)
    return True
