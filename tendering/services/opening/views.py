"""What a participant reads of the hall: the snapshot, the manifests it needs on its device, the filed record."""

from __future__ import annotations

import base64
from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _

from accounts.errors import PermissionDenied
from tendering import hall
from tendering.hall import HallRole
from tendering.models import (
    Opening,
    Tender,
)
from tendering.services.opening.admission import ensure_opening, require_hall
from tendering.services.opening.payloads import (
    attendance_view,
    bid_view,
    display_name,
    moments,
    objection_view,
    revealed,
)


def snapshot(user: Any, tender: Tender) -> dict[str, Any]:
    """Everything the hall shows this user now, with the sequence number it is current to."""
    roles = require_hall(user, tender)
    opening = ensure_opening(tender)
    opening.refresh_from_db()
    custodians = []
    submitted = {s.custodian_id: s for s in opening.custodian_submissions.all()}
    for slot in tender.custodian_slots.select_related("user"):
        submission = submitted.get(slot.pk)
        custodians.append(
            {
                "position": slot.position,
                "name": display_name(slot.user),
                "submitted_at": submission.submitted_at if submission else None,
                "refusals": len(submission.refusals) if submission else 0,
            }
        )
    own_org = user.organization_id if HallRole.BIDDER in roles else None
    bids = []
    shown = revealed(opening)
    for bid_opening in opening.bids.select_related("bid", "bid__bidder"):
        view = bid_view(bid_opening, revealed=shown)
        view["own"] = bid_opening.bid.bidder_id == own_org
        bids.append(view)
    return {
        "type": "snapshot",
        "seq": opening.last_seq,
        "tender": {
            "id": str(tender.public_id),
            "number": tender.number,
            "title": tender.title,
            "opening_time": tender.opening_time,
            # The zone the tender's times are given in (clients print them there, not in their machine's).
            "time_zone": settings.TIME_ZONE,
            "threshold": tender.custodian_threshold,
            "unreleased_bids": tender.unreleased_bids,
        },
        "roles": sorted(roles),
        "you": user.pk,
        "moments": moments(opening),
        "bids": bids,
        "custodians": custodians,
        "attendance": [attendance_view(a) for a in opening.attendance.select_related("user", "organization")],
        "objections": [objection_view(o) for o in opening.objections.select_related("bid_opening__bid__bidder")],
        # Subsets whose parts failed, with the custodians named, as announced (a page loaded later shows them too).
        "custodian_failures": [
            e.payload for e in opening.events.filter(kind="custodian.parts_failed", audience=hall.ALL).order_by("seq")
        ],
        "record": {"sha256": opening.record_sha256, "ledger_seq": opening.record_ledger_seq}
        if opening.record_sha256
        else None,
    }


def manifests_for(user: Any, tender: Tender) -> list[dict[str, Any]]:
    """The signed manifests a participant needs to open keys on its own device.

    A bidder gets its own bid's; a custodian every bid's (the envelopes of all
    custodians are in each manifest, but only its own private key opens its parts).
    """
    roles = require_hall(user, tender)
    opening = ensure_opening(tender)
    qs = opening.bids.select_related("bid", "bid__bidder")
    if HallRole.CUSTODIAN not in roles:
        if HallRole.BIDDER not in roles:
            raise PermissionDenied(_("只有投标人和密钥保管人需要签名清单。"), code="not_allowed_in_hall")
        qs = qs.filter(bid__bidder_id=user.organization_id)
    return [
        {
            "bid": str(b.bid.public_id),
            "position": b.position,
            "state": b.state,
            "manifest": base64.b64encode(bytes(b.bid.manifest)).decode(),
        }
        for b in qs
    ]


def filed_record(user: Any, tender: Tender) -> Opening | None:
    """The closed opening whose signed record is filed, for a participant or supervisor; None before."""
    require_hall(user, tender)
    found = Opening.objects.filter(tender=tender).exclude(record_sha256="").first()
    return found
