"""An opening to test: three bidders' real sealed bids, submitted before the deadline, then the clock at the opening."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from accounts import credit_code
from accounts.models import Organization, OrganizationKind, Role, User
from tendering.models import Bid, Tender
from tendering.sealing import BidIdentity, CustodianPart, open_bidder_envelope, open_custodian_parts, parse_manifest
from tendering.services import opening
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

    def parts_of(self, index: int, *, corrupt: bool = False) -> list[opening.SubmittedPart]:
        """Custodian ``index`` (0-based) opens its part of every subset of every bid, on its own device."""
        key: ec.EllipticCurvePrivateKey = self.personas.custodian_keys[index]
        found = []
        for entry in self.entries:
            manifest = parse_manifest(entry.sealed.sealed.manifest_bytes)
            identity = BidIdentity(manifest.tender, manifest.bid, manifest.bidder)
            parts: list[CustodianPart] = open_custodian_parts(manifest.envelopes.custodians, identity, key)
            for part in parts:
                value = bytes(b ^ 0xFF for b in part.part) if corrupt else part.part
                found.append(opening.SubmittedPart(entry.bid.public_id, part.members, value))
        return found

    def at_opening(self, minutes: float = 1) -> None:
        """The clock just after the opening time, and the hall opened (as the first participant to enter does)."""
        self.clock.set(self.tender.opening_time + dt.timedelta(minutes=minutes))
        opening.ensure_opening(self.tender)


@pytest.fixture
def third_bidder(personas: Personas) -> User:
    org = Organization.objects.create(name="赣州市政工程", kind=OrganizationKind.BIDDER, credit_code=credit_code.make("91360781MA0000006"))
    return make_user("bidder_c", org, Role.BIDDER)


@pytest.fixture
def opening_case(personas: Personas, published_tender: Tender, frozen_clock: Any, tmp_path: Path, third_bidder: User) -> OpeningCase:
    entries = []
    for number, (user, price) in enumerate(
        [(personas.bidder_a, "6123456.70"), (personas.bidder_b, "5980000.00"), (third_bidder, "6050000.50")], start=1
    ):
        frozen_clock.advance(minutes=1)
        keys = keys_for(user)
        sealed = seal(published_tender, keys, tmp_path / f"bidder{number}", price=price)
        bid = submit(user, published_tender, sealed)
        entries.append(Entry(keys, sealed, bid))
    return OpeningCase(published_tender, personas, entries, frozen_clock)
