"""Keys opened on this machine at the opening (不见面开标): the bidder's file key, the custodian's parts.

The platform hands out the signed manifests of the bids (``GET
/api/tenders/{id}/opening/manifests``); their envelopes are opened here, with
the local encryption key, and only what they hold is sent back: a bid's
32-byte file key (a bidder, after checking it against the manifest's key
commitment ``kc``) or a custodian's 32-byte part of every k-subset it belongs
to. The private key never leaves this machine. docs/opening.md §2.

A custodian's part that does not open here is not a reason to send nothing:
the client sends every part that opens and, for each one that does not, a
"does not open" statement (``etender-part-refusal-v1``) signed with the
custodian's own signing key, so every other bid opens.

Neither keys nor parts are sent before the published opening time by this
machine's own clock (less ``CLOCK_SKEW``): a platform whose clock runs ahead
cannot make them leave early.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cryptography.hazmat.primitives.asymmetric import ec

from tendering.client.config import write_json
from tendering.client.keys import LocalKey
from tendering.client.transport import ClientError
from tendering.sealing import (
    EnvelopeError,
    KeyCommitmentError,
    Manifest,
    ManifestError,
    fingerprint,
    open_bidder_envelope,
    open_custodian_part,
    parse_manifest,
    verify_commitment,
)
from tendering.sealing.refusal import PartRefusal, refusal_reason, sign_refusal

# The states in which a bid's key has reached the platform (by whoever released it).
KEY_IN_HAND = ("key_ready", "decrypting", "opened", "failed")
# How far this machine's clock may run behind the platform's: keys and parts leave no
# earlier than the published opening time less this (docs/cli.md, "The opening").
CLOCK_SKEW = dt.timedelta(seconds=120)
# Times are printed in the tender's zone when the platform names one; else Beijing time.
DEFAULT_ZONE = "Asia/Shanghai"


def local_now() -> dt.datetime:
    """This machine's clock (never the platform's word)."""
    return dt.datetime.now(dt.UTC)


def display_zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or DEFAULT_ZONE)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(DEFAULT_ZONE)


def zone_text(moment: dt.datetime, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S %z") + f" ({zone.key})"


OPENING_TIMES_FILE = "opening-times.json"


def _parse_moment(text: Any) -> dt.datetime | None:
    try:
        moment = dt.datetime.fromisoformat(str(text))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def remember_opening_time(home: Path, tender_id: str, opening_time: str | None) -> None:
    """Keep, in this client's folder, the latest opening time it was shown for the tender.

    Recorded when the bidder seals and the custodian confirms custody, before the opening: an operator who
    later moves the opening time earlier in the database does not move this machine's record with it.
    """
    moment = _parse_moment(opening_time)
    if moment is None:
        return
    path = home / OPENING_TIMES_FILE
    try:
        known = json.loads(path.read_text())
    except (OSError, ValueError):
        known = {}
    if not isinstance(known, dict):
        known = {}
    earlier = _parse_moment(known.get(tender_id))
    if earlier is None or moment > earlier:
        known[tender_id] = moment.isoformat()
        write_json(path, known)


def remembered_opening_time(home: Path, tender_id: str) -> dt.datetime | None:
    try:
        known = json.loads((home / OPENING_TIMES_FILE).read_text())
    except (OSError, ValueError):
        return None
    return _parse_moment(known.get(tender_id)) if isinstance(known, dict) else None


def check_local_clock(
    opening_time: str, zone: ZoneInfo, what: str, *, remembered: dt.datetime | None = None
) -> dt.datetime:
    """The published opening time; refuses when this machine's clock is still before it (less CLOCK_SKEW).

    ``remembered`` is the opening time this client was shown before (``remember_opening_time``): a served
    opening time earlier than it is refused, so moving the opening earlier on the server releases nothing early.
    """
    opening = _parse_moment(opening_time)
    if opening is None:
        raise ClientError(
            f"the platform sent an unreadable opening time, or one without its zone ({opening_time!r}): "
            "nothing was sent"
        )
    if remembered is not None and opening < remembered:
        raise ClientError(
            f"the platform now says the opening time is {zone_text(opening, zone)}, earlier than the "
            f"{zone_text(remembered, zone)} this computer was shown before: {what} only from the opening time this "
            "computer knows. Nothing was sent. Tell the trading centre"
        )
    now = local_now()
    if now < opening - CLOCK_SKEW:
        raise ClientError(
            f"this computer's clock says {zone_text(now, zone)}, before the opening time {zone_text(opening, zone)}: "
            f"{what} only from the opening time (less {int(CLOCK_SKEW.total_seconds())} s for clocks that differ). "
            "Nothing was sent. If this computer's clock is wrong, set it right first"
        )
    return opening


@dataclass(frozen=True)
class HallBid:
    """One bid of the opening as the platform listed it, with its parsed manifest."""

    bid: str
    position: int
    state: str
    manifest: Manifest

    @property
    def label(self) -> str:
        return f"bid {self.position} ({self.bid})"


def hall_bids(items: Iterable[dict[str, Any]], tender_id: str) -> list[HallBid]:
    """The manifests the platform sent, parsed; refuses one that names another tender or bid than it is listed as."""
    found = []
    for item in items:
        label = f"bid {item.get('position')} ({item.get('bid')})"
        try:
            manifest = parse_manifest(base64.b64decode(item["manifest"], validate=True))
        except (binascii.Error, ValueError, KeyError, ManifestError) as exc:
            raise ClientError(f"the platform sent an unreadable manifest for {label}: {exc}") from None
        if manifest.tender != tender_id or manifest.bid != str(item["bid"]):
            raise ClientError(
                f"the platform sent, for {label} of tender {tender_id}, the manifest of bid {manifest.bid} "
                f"of tender {manifest.tender}: refusing to open it"
            )
        found.append(HallBid(str(item["bid"]), int(item["position"]), str(item["state"]), manifest))
    return sorted(found, key=lambda b: b.position)


def addressed_elsewhere(bid: HallBid, key: LocalKey, others: Sequence[LocalKey]) -> str | None:
    """Why ``key`` cannot open this bid's bidder envelope, or None when the envelope is addressed to it."""
    recipient = bid.manifest.envelopes.bidder.recipient
    mine = key.fingerprint()
    if recipient == mine:
        return None
    text = (
        f"it was sealed to encryption key {recipient}, not to your local key {key.name!r} ({mine}): "
        "nothing was sent for it"
    )
    holders = [k.name for k in others if k.name != key.name and k.fingerprint() == recipient]
    if holders:
        return text + f". Your local key {holders[0]!r} has that fingerprint: use --key {holders[0]}"
    return text + ". Use the key this bid was sealed with (`etender keys list` shows the local ones)"


def bidder_file_key(bid: HallBid, private_key: ec.EllipticCurvePrivateKey) -> bytes:
    """The bid's file key from its bidder envelope, checked against the manifest's ``kc`` before anything is sent."""
    manifest = bid.manifest
    try:
        file_key = open_bidder_envelope(manifest.envelopes.bidder, manifest.identity, private_key)
        verify_commitment(file_key, bytes.fromhex(manifest.kc))
    except (EnvelopeError, KeyCommitmentError) as exc:
        raise ClientError(f"{exc}; nothing was sent for it") from None
    return file_key


def custodian_position(bids: Sequence[HallBid], key: LocalKey) -> int:
    """The 0-based position of ``key`` among every bid's custodians; refuses a bid not sealed to it."""
    mine = key.fingerprint()
    positions = set()
    for bid in bids:
        recipients = bid.manifest.envelopes.custodians.recipients
        if mine not in recipients:
            raise ClientError(
                f"{bid.label} is not sealed to your local encryption key {key.name!r} ({mine}): its custodians' "
                f"keys are {', '.join(recipients)}. Use the key you registered before the tender was published "
                "(--key NAME; `etender keys list`). Nothing was sent."
            )
        positions.add(recipients.index(mine))
    if len(positions) > 1:
        raise ClientError(f"your key {mine} stands at different positions in different bids: nothing was sent")
    return positions.pop()


@dataclass
class OpenedParts:
    """What a custodian sends: the parts that opened, a signed statement for each that did not, and why."""

    parts: list[dict[str, Any]] = field(default_factory=list)
    refusals: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def custodian_parts(
    bids: Sequence[HallBid],
    private_key: ec.EllipticCurvePrivateKey,
    signing_key: Callable[[], ec.EllipticCurvePrivateKey],
    progress: Callable[[int], None] | None = None,
) -> OpenedParts:
    """This custodian's part of every subset it belongs to, for every bid, as the API takes them.

    A part that does not open (HPKE refuses it, or the envelope is malformed:
    the bidder sealed garbage, or made it for another key) does not stop the
    others: it is replaced by a "does not open" statement signed with the
    custodian's signing key (``signing_key()`` is called only when one is needed).
    """
    found = OpenedParts()
    signer: ec.EllipticCurvePrivateKey | None = None
    for done, bid in enumerate(bids, start=1):
        manifest = bid.manifest
        custodians = manifest.envelopes.custodians
        mine = fingerprint_of(private_key)
        position = custodians.recipients.index(mine)
        for subset in custodians.subsets:
            if position not in subset.members:
                continue
            try:
                part = open_custodian_part(custodians, manifest.identity, subset.members, private_key)
            except EnvelopeError as exc:
                if signer is None:
                    signer = signing_key()
                refusal = PartRefusal(
                    manifest.tender, manifest.bid, subset.members, position, refusal_reason(exc), fingerprint_of(signer)
                )
                statement, signature = sign_refusal(refusal, signer)
                found.refusals.append(
                    {
                        "statement": base64.b64encode(statement).decode("ascii"),
                        "signature": base64.b64encode(signature).decode("ascii"),
                    }
                )
                found.problems.append(
                    f"{bid.label}: your part of subset {list(subset.members)} does not open ({refusal.reason}: {exc}); "
                    "a signed statement is sent instead"
                )
                continue
            found.parts.append(
                {"bid": bid.bid, "members": list(part.members), "part": base64.b64encode(part.part).decode("ascii")}
            )
        if progress is not None:
            progress(done)
    return found


def fingerprint_of(private_key: ec.EllipticCurvePrivateKey) -> str:
    return fingerprint(private_key.public_key())
