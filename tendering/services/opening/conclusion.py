"""The tenderer's steps that end the opening: concluding the decryption, and closing the opening."""

from __future__ import annotations

import hashlib
import json

from django.db import transaction
from django.utils.translation import gettext as _

from accounts.errors import Conflict, WrongPhase
from accounts.models import Role, User
from archive.ledger import record
from config import clock
from tendering import hall_protocol as hp
from tendering.hall import HallRole
from tendering.models import (
    BidOpeningState,
    CustodianCheck,
    Notification,
    NotificationKind,
    Opening,
    Tender,
    UnreleasedBidRule,
)
from tendering.services.after_commit import Work, enqueue_after_commit
from tendering.services.hall_events import publish
from tendering.services.locks import lock, lock_tender
from tendering.services.opening.admission import lock_opening, require_hall, require_not_closed, require_role
from tendering.services.opening.bid_ended import resolve
from tendering.services.opening.custodian_parts import drop_parts_when_done
from tendering.services.opening.payloads import moments, record_row
from tendering.services.opening.record_published import maybe_publish_record
from tendering.services.outcome import MINIMUM_VALID_BIDS, FailureReason, fail

MANAGING_ROLES = (Role.TENDERER_STAFF, Role.AGENCY_STAFF)


def conclude_decryption(user: User, tender: Tender) -> Opening:
    """The tenderer ends the decryption: bids still without a key count as revoked (the bidder did not release)."""
    roles = require_hall(user, tender)
    require_role(roles, HallRole.MANAGER, _("只有招标人或代理机构可以结束解密。"))
    with transaction.atomic():
        opening = lock_opening(tender)
        require_not_closed(opening)
        if opening.decryption_concluded_at is not None:
            raise Conflict(_("解密已经结束。"), code="decryption_concluded")
        now = clock.now()
        waiting = lock(opening.bids.select_related("bid", "bid__bidder").filter(state=BidOpeningState.AWAITING_KEY))
        if waiting and now < opening.decryption_ends_at:
            raise WrongPhase(
                _("还有 %(n)d 份投标文件未解密，解密时间到 %(when)s 才结束。")
                % {"n": len(waiting), "when": clock.local_text(opening.decryption_ends_at)},
                code="decryption_window_open",
            )
        if tender.unreleased_bids == UnreleasedBidRule.CUSTODIANS and now < opening.decryption_ends_at:
            # Every bid's custodian parts are checked against kc (no free option): wait for them in the window.
            pending = opening.bids.filter(custodian_check=CustodianCheck.PENDING).count()
            if pending:
                raise WrongPhase(
                    _("还有 %(n)d 份投标文件的密钥分量尚未核验（密钥保管人未全部提交），解密时间到 %(when)s 才结束。")
                    % {"n": pending, "when": clock.local_text(opening.decryption_ends_at)},
                    code="custodian_check_pending",
                )
        for bid_opening in waiting:
            if tender.unreleased_bids == UnreleasedBidRule.CUSTODIANS:
                detail = _("投标人未在解密时限内解密，密钥保管人也未能凑齐门限数量的有效密钥分量。")
            else:
                detail = _("投标人未在解密时限内解密（本项目规定视为撤销投标）。")
            resolve(opening, bid_opening, BidOpeningState.REVOKED, "key_not_released", detail)
        # No more parts can come: a check still waiting for a custodian's submission proves nothing against the bidder.
        inconclusive = 0
        if tender.unreleased_bids == UnreleasedBidRule.CUSTODIANS:
            inconclusive = opening.bids.filter(custodian_check=CustodianCheck.PENDING).update(
                custodian_check=CustodianCheck.INCONCLUSIVE
            )
        opening.decryption_concluded_at = now
        opening.save(update_fields=["decryption_concluded_at"])
        record(
            tender.case,
            "tendering.opening.decryption_concluded",
            {"revoked_without_key": len(waiting), "custodian_checks_inconclusive": inconclusive},
            user,
        )
        drop_parts_when_done(opening)
        publish(opening, hp.OpeningMoments(**moments(opening)))
        maybe_publish_record(opening)
    return opening


def close_opening(user: User, tender: Tender) -> Opening:
    """The tenderer closes the opening; the tender moves on to the evaluation and the record is filed."""
    roles = require_hall(user, tender)
    require_role(roles, HallRole.MANAGER, _("只有招标人或代理机构可以结束开标。"))
    with transaction.atomic():
        # The tender's row is changed below (its opening_closed_at): locked first, as LOCK_ORDER has it.
        locked_tender = lock_tender(tender.pk)
        opening = lock_opening(tender)
        require_not_closed(opening)
        if opening.record_published_at is None:
            raise WrongPhase(
                _("开标记录尚未公布：请先结束解密，并等待全部投标文件解密完毕。"), code="record_not_published"
            )
        unanswered = opening.objections.filter(answered_at__isnull=True).count()
        if unanswered:
            raise WrongPhase(
                _("还有 %(n)d 条异议未答复，答复后才能结束开标。") % {"n": unanswered}, code="objections_unanswered"
            )
        now = clock.now()
        # Locked by primary key, listed in the record's order.
        bid_openings = sorted(lock(opening.bids.select_related("bid", "bid__bidder")), key=lambda b: b.position)
        unconfirmed = [b for b in bid_openings if b.confirmed_at is None]
        assert opening.confirmation_ends_at is not None
        if unconfirmed and now < opening.confirmation_ends_at:
            raise WrongPhase(
                _("还有 %(n)d 家投标人未确认开标记录，确认时间到 %(when)s 结束。")
                % {"n": len(unconfirmed), "when": clock.local_text(opening.confirmation_ends_at)},
                code="confirmation_open",
            )
        for bid_opening in unconfirmed:
            # A bidder who let the window pass without objecting is taken to agree.
            bid_opening.confirmed_at = now
            bid_opening.confirmed_by_default = True
            bid_opening.save(update_fields=["confirmed_at", "confirmed_by_default"])
            publish(
                opening,
                hp.RecordConfirmed(
                    position=bid_opening.position, bidder=bid_opening.bid.bidder.name, at=now, by_default=True
                ),
            )
        opening.closed_at = now
        opening.closed_by = user
        opening.save(update_fields=["closed_at", "closed_by"])
        Tender.objects.filter(pk=tender.pk).update(opening_closed_at=now)
        rows = [record_row(b) for b in bid_openings]
        record(
            tender.case,
            "tendering.opening.closed",
            {
                "rows": rows,
                "record_sha256": hashlib.sha256(
                    json.dumps(rows, sort_keys=True, ensure_ascii=False).encode()
                ).hexdigest(),
            },
            user,
        )
        opened = sum(1 for b in bid_openings if b.state == BidOpeningState.OPENED)
        if opened < MINIMUM_VALID_BIDS:
            # 招标投标法 Art 28: fewer than three valid bids, the tender fails and must be tendered again.
            locked_tender.opening_closed_at = now
            failed = fail(
                locked_tender,
                FailureReason.TOO_FEW_OPENED,
                user,
                {"opened": opened, "bids": len(bid_openings)},
                locked=True,
            )
            _tell_managers_it_failed(failed, opened)
        publish(opening, hp.OpeningMoments(**moments(opening)))
        if opened < MINIMUM_VALID_BIDS:
            # Live in the hall, after the moments that say it closed (the page's notice, hall-reducer.js).
            assert failed.failed_at is not None
            publish(
                opening,
                hp.TenderFailed(
                    reason=failed.failure_reason, opened=opened, bids=len(bid_openings), failed_at=failed.failed_at
                ),
            )
        enqueue_after_commit(Work.FILE_OPENING_RECORD, opening.pk)
    return opening


def _tell_managers_it_failed(tender: Tender, opened: int) -> None:
    """A notice on the dashboard of every staff member of the tenderer and of its agency."""
    orgs = [o for o in (tender.tenderer_id, tender.agency_id) if o is not None]
    staff = User.objects.filter(organization_id__in=orgs, is_active=True, role_grants__role__in=MANAGING_ROLES)
    now = clock.now()
    Notification.objects.bulk_create(
        Notification(
            recipient=recipient,
            tender=tender,
            kind=NotificationKind.TENDER_FAILED,
            params={"reason": tender.failure_reason, "opened": opened},
            created_at=now,
        )
        for recipient in staff.distinct()
    )
