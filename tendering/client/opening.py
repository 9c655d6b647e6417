"""Keys opened on this machine at the opening (不见面开标): the bidder's file key, the custodian's parts.

The platform hands out the signed manifests of the bids (``GET
/api/tenders/{id}/opening/manifests``); their envelopes are opened here, with
the local encryption key, and only what they hold is sent back: a bid's
32-byte file key (a bidder, after checking it against the manifest's key
commitment ``kc``) or a custodian's 32-byte part of every k-subset it belongs
to. The private key never leaves this machine. docs/opening.md §2.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from tendering.client.keys import LocalKey
from tendering.client.transport import ClientError
from tendering.sealing import (
    EnvelopeError,
    KeyCommitmentError,
    Manifest,
    ManifestError,
    open_bidder_envelope,
    open_custodian_parts,
    parse_manifest,
    verify_commitment,
)

# The states in which a bid's key has reached the platform (by whoever released it).
KEY_IN_HAND = ("key_ready", "decrypting", "opened", "failed")


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


def custodian_parts(
    bids: Sequence[HallBid],
    private_key: ec.EllipticCurvePrivateKey,
    progress: Callable[[int], None] | None = None,
) -> list[dict[str, Any]]:
    """This custodian's part of every subset it belongs to, for every bid, as the API takes them.

    A part that does not open stops everything: the platform accepts a
    custodian's parts only complete and only once, so a partial set is never sent.
    """
    parts: list[dict[str, Any]] = []
    for done, bid in enumerate(bids, start=1):
        manifest = bid.manifest
        try:
            opened = open_custodian_parts(manifest.envelopes.custodians, manifest.identity, private_key)
        except EnvelopeError as exc:
            raise ClientError(
                f"{bid.label}: {exc}. Nothing was sent: the platform takes your parts only complete, "
                "for every bid at once"
            ) from None
        for part in opened:
            parts.append(
                {"bid": bid.bid, "members": list(part.members), "part": base64.b64encode(part.part).decode("ascii")}
            )
        if progress is not None:
            progress(done)
    return parts
