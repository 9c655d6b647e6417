"""The opening's worker checks that the price summary inside a bid names this tender, this bid and this bidder.

The bidder's own client refuses to seal such a bid; a forged client (the helper below) seals one anyway. The
platform cannot see inside before the opening, so it accepts it; the worker then revokes it as the bidder's
defect, shows none of its prices or files, and the other bids open."""

from __future__ import annotations

import dataclasses
import io
import uuid
from pathlib import Path

import pytest

from archive.models import LedgerEntry
from tendering.models import BidOpening, BidOpeningState
from tendering.sealing import BidIdentity, LotPrice, PriceSummary, open_bidder_envelope, parse_manifest, seal_bid
from tendering.services import bids, decryption
from tendering.services.opening import keys as keys_service
from tests.bids.conftest import BidderKeys, upload
from tests.opening.conftest import OpeningCase

pytestmark = pytest.mark.django_db


@dataclasses.dataclass(frozen=True)
class ForgedSummary(PriceSummary):
    """A price summary that tells the sealing library it belongs to the bid being sealed, whatever it names."""

    sealed_as: BidIdentity | None = None

    @property
    def identity(self) -> BidIdentity:
        assert self.sealed_as is not None
        return self.sealed_as


def seal_naming(case: OpeningCase, keys: BidderKeys, folder: Path, **names: str) -> tuple[str, bytes, bytes, bytes]:
    """Seal, as a forged client would, a bid whose price summary names ``names`` instead of the bid's own identity.
    Returns (bid id, ciphertext, manifest, signature)."""
    org = keys.user.organization
    assert org is not None and org.credit_code
    identity = BidIdentity(str(case.tender.public_id), str(uuid.uuid4()), org.credit_code)
    fields = {"tender": identity.tender, "bid": identity.bid, "bidder": identity.bidder, **names}
    summary = ForgedSummary(lots=(LotPrice(lot="1", price_yuan="1.00", schedule_days=1),), sealed_as=identity, **fields)
    source = folder / "技术标.pdf"
    source.parent.mkdir(parents=True)
    source.write_bytes(b"forged " * 100)
    custodians = [
        bytes(s.public_key.spki_der)
        for s in case.tender.custodian_slots.select_related("public_key").order_by("position")
    ]
    sink = io.BytesIO()
    sealed = seal_bid(str(source), summary, identity.tender, identity.bid, identity.bidder, keys.signing,
                      keys.encryption.public_key(), custodians, case.tender.custodian_threshold, sink)  # fmt: skip
    return identity.bid, sink.getvalue(), sealed.manifest_bytes, sealed.signature


def names_of(case: OpeningCase, which: str) -> dict[str, str]:
    other_bidder = case.personas.bidder_org_b.credit_code
    assert other_bidder
    return {
        "tender": {"tender": str(uuid.uuid4())},
        "bid": {"bid": str(uuid.uuid4())},
        "bidder": {"bidder": other_bidder},
    }[which]


@pytest.mark.parametrize("which", ["tender", "bid", "bidder"])
def test_a_bid_whose_price_summary_names_another_tender_bid_or_bidder_is_revoked_and_shows_nothing(
    opening_case: OpeningCase, tmp_path: Path, which: str
) -> None:
    case = opening_case
    forger = case.entries[2]
    bid_id, ciphertext, manifest, signature = seal_naming(
        case, forger.keys, tmp_path / "forged", **names_of(case, which)
    )
    started = upload(forger.user, case.tender, ciphertext, bid_id)
    forged = bids.finalize(forger.user, started.public_id, manifest, signature)  # the platform cannot see inside
    case.at_opening()
    for entry in case.entries[:2]:
        keys_service.release_key(entry.user, case.tender, entry.bid.public_id, entry.file_key())
    parsed = parse_manifest(manifest)
    forged_key = open_bidder_envelope(parsed.envelopes.bidder, parsed.identity, forger.keys.encryption)
    keys_service.release_key(forger.user, case.tender, forged.public_id, forged_key)  # the right key: kc matches

    outcomes = {
        str(b.bid.public_id): decryption.decrypt_bid(b.pk)
        for b in BidOpening.objects.filter(opening__tender=case.tender).select_related("bid").order_by("position")
    }

    assert outcomes == {
        str(case.entries[0].bid.public_id): "opened",
        str(case.entries[1].bid.public_id): "opened",
        bid_id: "revoked",
    }
    revoked = BidOpening.objects.get(bid=forged)
    assert revoked.state == BidOpeningState.REVOKED
    assert revoked.outcome_code == "bid_not_decryptable"
    assert "the price summary inside names another tender, bid or bidder than the manifest" in revoked.outcome_detail
    assert revoked.price_summary is None and revoked.files == []
    ended = LedgerEntry.objects.filter(action="tendering.opening.bid_not_opened", data__contains=bid_id).get()
    assert '"state":"revoked"' in ended.data and '"reason":"bid_not_decryptable"' in ended.data
    assert '"1.00"' not in ended.data
