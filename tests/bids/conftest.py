"""Bidders with keys made on their own device, and helpers that seal and submit real bids."""

from __future__ import annotations

import io
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from accounts.models import KeyPurpose, User
from accounts.own_device import register_own_key
from tendering.models import Tender
from tendering.sealing import LotPrice, PriceSummary, SealedBid, seal_bid
from tendering.services import bids
from tests.fixtures.personas import Personas, p256_public_der


@dataclass
class BidderKeys:
    user: User
    signing: ec.EllipticCurvePrivateKey
    encryption: ec.EllipticCurvePrivateKey


def keys_for(user: User) -> BidderKeys:
    signing, _ = p256_public_der()
    encryption, _ = p256_public_der()
    register_own_key(user, KeyPurpose.SIGNING, signing)
    register_own_key(user, KeyPurpose.ENCRYPTION, encryption)
    return BidderKeys(user, signing, encryption)


@pytest.fixture
def bidder_a_keys(personas: Personas) -> BidderKeys:
    return keys_for(personas.bidder_a)


@pytest.fixture
def bidder_b_keys(personas: Personas) -> BidderKeys:
    return keys_for(personas.bidder_b)


@dataclass
class Sealed:
    ciphertext: bytes
    sealed: SealedBid
    bid_id: str
    plaintext: bytes


def seal(tender: Tender, keys: BidderKeys, folder: Path, *, content: bytes = b"", price: str = "8123456.70") -> Sealed:
    """Seal a small bid file from ``folder`` exactly as the bidder's client does."""
    bid_id = str(uuid.uuid4())
    org = keys.user.organization
    assert org is not None and org.credit_code
    summary = PriceSummary(
        tender=str(tender.public_id),
        bid=bid_id,
        bidder=org.credit_code,
        lots=(LotPrice(lot="1", price_yuan=price, schedule_days=180),),
    )
    plaintext = content or ("技术标：施工组织设计 " * 200).encode()
    source = folder / f"bid-{bid_id}" / "技术标.pdf"
    source.parent.mkdir(parents=True)
    source.write_bytes(plaintext)
    sink = io.BytesIO()
    custodians = [
        slot.public_key.spki_der for slot in tender.custodian_slots.select_related("public_key").order_by("position")
    ]
    sealed = seal_bid(
        str(source),
        summary,
        str(tender.public_id),
        bid_id,
        org.credit_code,
        keys.signing,
        keys.encryption.public_key(),
        [bytes(c) for c in custodians],
        tender.custodian_threshold,
        sink,
    )
    return Sealed(sink.getvalue(), sealed, bid_id, plaintext)


def upload(user: User, tender: Tender, ciphertext: bytes, bid_id: str, *, size: int | None = None) -> Any:
    """Start an upload and send every part in order; return the upload."""
    started = bids.start_upload(user, tender, uuid.UUID(bid_id), len(ciphertext) if size is None else size)
    for number, offset in enumerate(range(0, len(ciphertext), started.part_size), start=1):
        chunk = ciphertext[offset : offset + started.part_size]
        bids.upload_part(user, started.public_id, number, io.BytesIO(chunk), len(chunk))
    return started


def submit(user: User, tender: Tender, sealed: Sealed) -> Any:
    started = upload(user, tender, sealed.ciphertext, sealed.bid_id)
    return bids.finalize(user, started.public_id, sealed.sealed.manifest_bytes, sealed.sealed.signature)
