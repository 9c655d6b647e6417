"""An opening to test: three bidders' real sealed bids, submitted before the deadline, then the clock at the opening."""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from accounts import credit_code
from accounts.models import Organization, OrganizationKind, Role, User
from tendering.client.opening import custodian_parts, hall_bids
from tendering.models import Bid, Tender
from tendering.sealing import (
    BidIdentity,
    CustodianPart,
    open_bidder_envelope,
    open_custodian_parts,
    parse_manifest,
    sign_manifest,
)
from tendering.services.opening import admission, views
from tendering.services.opening import custodian_parts as custodian_parts_service
from tests.bids.conftest import BidderKeys, Sealed, keys_for, seal, submit
from tests.fixtures.personas import Personas, make_user


@dataclasses.dataclass
class Entry:
    keys: BidderKeys
    sealed: Sealed
    bid: Bid

    @property
    def user(self) -> User:
        return self.keys.user

    def file_key(self) -> bytes:
        """What the bidder's client opens from its own envelope, on its own device."""
        manifest = parse_manifest(self.sealed.sealed.manifest_bytes)
        return open_bidder_envelope(manifest.envelopes.bidder, manifest.identity, self.keys.encryption)


@dataclasses.dataclass
class OpeningCase:
    tender: Tender
    personas: Personas
    entries: list[Entry]
    clock: Any

    @property
    def custodians(self) -> list[User]:
        return self.personas.custodians

    def parts_of(self, index: int, *, corrupt: bool = False) -> list[custodian_parts_service.SubmittedPart]:
        """Custodian ``index`` (0-based) opens its part of every subset of every bid, on its own device."""
        key: ec.EllipticCurvePrivateKey = self.personas.custodian_keys[index]
        found = []
        for entry in self.entries:
            manifest = parse_manifest(entry.sealed.sealed.manifest_bytes)
            identity = BidIdentity(manifest.tender, manifest.bid, manifest.bidder)
            parts: list[CustodianPart] = open_custodian_parts(manifest.envelopes.custodians, identity, key)
            for part in parts:
                value = bytes(b ^ 0xFF for b in part.part) if corrupt else part.part
                found.append(custodian_parts_service.SubmittedPart(entry.bid.public_id, part.members, value))
        return found

    def client_submission(
        self, index: int
    ) -> tuple[list[custodian_parts_service.SubmittedPartcustodian_parts_servicean_parts.SubmittedRefusal]]:
        """What custodian ``index``'s own client sends (tendering.client.opening): every part that opens,
        and a statement signed with its signing key for each that does not."""
        custodian = self.custodians[index]
        bids = hall_bids(views.manifests_for(custodian, self.tender), str(self.tender.public_id))
        signing = self.personas.custodian_signing_keys[index]
        sent = custodian_parts(bids, self.personas.custodian_keys[index], lambda: signing)
        parts = [
            custodian_parts_service.SubmittedPart(uuid.UUID(p["bid"]), tuple(p["members"]), base64.b64decode(p["part"]))
            for p in sent.parts
        ]
        return parts, custodian_parts_service.decode_refusals([(r["statement"], r["signature"]) for r in sent.refusals])

    def submit_as_client(self, index: int) -> Any:
        parts, refusals = self.client_submission(index)
        return custodian_parts_service.submit_custodian_parts(self.custodians[index], self.tender, parts, refusals)

    def at_opening(self, minutes: float = 1) -> None:
        """The clock just after the opening time, and the hall opened (as the first participant to enter does)."""
        self.clock.set(self.tender.opening_time + dt.timedelta(minutes=minutes))
        admission.ensure_opening(self.tender)


@pytest.fixture
def third_bidder(personas: Personas) -> User:
    org = Organization.objects.create(
        name="赣州市政工程", kind=OrganizationKind.BIDDER, credit_code=credit_code.make("91360781MA0000006")
    )
    return make_user("bidder_c", org, Role.BIDDER)


# Which custodian envelopes a bidder spoils: (subset members, position in the subset) -> spoiled.
Spoil = Callable[[tuple[int, ...], int], bool]


def spoiled(sealed: Sealed, keys: BidderKeys, spoil: Spoil) -> Sealed:
    """The bid with some custodian envelopes replaced by garbage (another member's envelope of the same subset:
    a valid-looking envelope that HPKE refuses), signed again by the bidder, as a cheating bidder's client would."""
    manifest = parse_manifest(sealed.sealed.manifest_bytes)
    custodians = manifest.envelopes.custodians
    subsets = []
    for subset in custodians.subsets:
        k = len(subset.parts)
        parts = tuple(subset.parts[(j + 1) % k] if spoil(subset.members, j) else subset.parts[j] for j in range(k))
        subsets.append(dataclasses.replace(subset, parts=parts))
    envelopes = dataclasses.replace(
        manifest.envelopes, custodians=dataclasses.replace(custodians, subsets=tuple(subsets))
    )
    changed = dataclasses.replace(manifest, envelopes=envelopes)
    manifest_bytes = changed.canonical_bytes()
    signed = dataclasses.replace(
        sealed.sealed,
        manifest_bytes=manifest_bytes,
        signature=sign_manifest(manifest_bytes, keys.signing),
        manifest=changed,
    )
    return dataclasses.replace(sealed, sealed=signed)


def make_case(
    personas: Personas,
    tender: Tender,
    frozen_clock: Any,
    folder: Path,
    third_bidder: User,
    spoils: dict[int, Spoil] | None = None,
) -> OpeningCase:
    """Three bidders' bids; ``spoils`` maps a bid's number (1-3) to the custodian envelopes its bidder spoiled."""
    entries = []
    for number, (user, price) in enumerate(
        [(personas.bidder_a, "6123456.70"), (personas.bidder_b, "5980000.00"), (third_bidder, "6050000.50")], start=1
    ):
        frozen_clock.advance(minutes=1)
        keys = keys_for(user)
        sealed = seal(tender, keys, folder / f"bidder{number}", price=price)
        if spoils and number in spoils:
            sealed = spoiled(sealed, keys, spoils[number])
        bid = submit(user, tender, sealed)
        entries.append(Entry(keys, sealed, bid))
    return OpeningCase(tender, personas, entries, frozen_clock)


@pytest.fixture
def opening_case(
    personas: Personas, published_tender: Tender, frozen_clock: Any, tmp_path: Path, third_bidder: User
) -> OpeningCase:
    return make_case(personas, published_tender, frozen_clock, tmp_path, third_bidder)
