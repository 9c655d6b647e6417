"""What a participant reads of the hall: the snapshot, the manifests it needs on its device, the filed record."""

from __future__ import annotations

import base64
import dataclasses
import json
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
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


@dataclasses.dataclass(frozen=True)
class HallView:
    """What the hall shows everyone at one sequence number: a snapshot without its reader.

    ``frame`` has no ``roles`` or ``you``, and its bids no ``own``; ``bidders`` maps each bid to its
    bidder's organization and its count of refused keys, for the reader's own bids only."""

    seq: int
    frame: dict[str, Any]
    bidders: dict[str, tuple[int, int]]


def _lock_for_reading(opening: Opening) -> int:
    """The opening's last number, read so that no change commits until this transaction ends.

    Changes take the opening's row lock (FOR UPDATE); FOR SHARE waits for one in flight and holds the
    next back, so the rows read after it are exactly those of that number. (SQLite's transactions take
    the database's write lock at their start, which is as much.)"""
    with connection.cursor() as cursor:
        suffix = " FOR SHARE" if connection.vendor == "postgresql" else ""
        cursor.execute(f"SELECT last_seq FROM {Opening._meta.db_table} WHERE id = %s{suffix}", [opening.pk])  # noqa: S608
        (last_seq,) = cursor.fetchone()
    return int(last_seq)


def hall_view(tender: Tender) -> HallView:
    """Everything the hall shows now, the same for every reader, current to one sequence number."""
    opening = ensure_opening(tender)
    with transaction.atomic():
        seq = _lock_for_reading(opening)
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
        bids = []
        bidders = {}
        shown = revealed(opening)
        for bid_opening in opening.bids.select_related("bid", "bid__bidder"):
            view = bid_view(bid_opening, revealed=shown)
            bidders[view["bid"]] = (bid_opening.bid.bidder_id, bid_opening.key_refusals)
            bids.append(view)
        frame = {
            "type": "snapshot",
            "seq": seq,
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
            "moments": moments(opening),
            "bids": bids,
            "custodians": custodians,
            "attendance": [attendance_view(a) for a in opening.attendance.select_related("user", "organization")],
            "objections": [objection_view(o) for o in opening.objections.select_related("bid_opening__bid__bidder")],
            # Subsets whose parts failed, with the custodians named, as announced (a page loaded later shows them too).
            "custodian_failures": [
                e.payload
                for e in opening.events.filter(kind="custodian.parts_failed", audience=hall.ALL).order_by("seq")
            ],
            "record": {"sha256": opening.record_sha256, "ledger_seq": opening.record_ledger_seq}
            if opening.record_sha256
            else None,
            # The tender failed at the close (fewer than three valid bids), as announced; None otherwise.
            "failure": next(
                (e.payload for e in opening.events.filter(kind="tender.failed", audience=hall.ALL).order_by("seq")),
                None,
            ),
        }
    # Plain JSON values (dates as the HTTP API writes them), so that each reader's copy is encoded fast.
    plain: dict[str, Any] = json.loads(json.dumps(frame, cls=DjangoJSONEncoder))
    return HallView(seq, plain, bidders)


def snapshot_for(view: HallView, user: Any, roles: set[HallRole]) -> dict[str, Any]:
    """The hall's view as ``user`` (in ``roles``) sees it: its roles, and which bids are its own."""
    own_org = user.organization_id if HallRole.BIDDER in roles else None
    bids = []
    for bid in view.frame["bids"]:
        bidder_id, key_refusals = view.bidders[bid["bid"]]
        if bidder_id == own_org:
            # Its refused keys are the bidder's to know (``bid.key_refused`` goes to its audience only).
            bids.append({**bid, "own": True, "key_refusals": key_refusals})
        else:
            bids.append({**bid, "own": False})
    frame = dict(view.frame)
    frame.update(roles=sorted(roles), you=user.pk, bids=bids)
    return {key: frame[key] for key in SNAPSHOT_KEYS}


# The snapshot's fields, in the order it has always been written.
SNAPSHOT_KEYS = (
    "type",
    "seq",
    "tender",
    "roles",
    "you",
    "moments",
    "bids",
    "custodians",
    "attendance",
    "objections",
    "custodian_failures",
    "record",
    "failure",
)


def snapshot(user: Any, tender: Tender) -> dict[str, Any]:
    """Everything the hall shows this user now, with the sequence number it is current to."""
    roles = require_hall(user, tender)
    return snapshot_for(hall_view(tender), user, roles)


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
