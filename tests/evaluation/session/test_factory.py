"""The session's test factory builds a tender in evaluation with opened bids and a committee with keys."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from accounts.models import KeyPurpose, PublicKey
from evaluation.models import MemberState
from tendering.models import BidOpening, BidOpeningState, Phase

pytestmark = pytest.mark.django_db


def test_the_case_has_opened_bids_with_prices_and_a_confirmed_committee_whose_keys_are_registered(
    session_case: Any,
) -> None:
    case = session_case(n_bids=3, n_experts=3)
    assert case.tender.phase(case.clock()) == Phase.EVALUATION
    openings = list(BidOpening.objects.filter(bid__in=case.bids).order_by("position"))
    assert [o.state for o in openings] == [BidOpeningState.OPENED] * 3
    assert [o.price_summary["lots"][0]["price_yuan"] for o in openings] == case.prices
    assert [o.bid_id for o in openings] == [b.pk for b in case.bids]
    assert [u.organization_id for u in case.bidder_users] == [b.bidder_id for b in case.bids]
    assert [m.state for m in case.members] == [MemberState.CONFIRMED] * 3
    for index, member in enumerate(case.members):
        key = PublicKey.objects.get(fingerprint=case.fingerprint(index))
        assert key.owner_id == member.expert.user_id and key.purpose == KeyPurpose.SIGNING
        public = case.keys[index].public_key()
        public.verify(base64.b64decode(case.sign(index, b"statement")), b"statement", ec.ECDSA(hashes.SHA256()))
