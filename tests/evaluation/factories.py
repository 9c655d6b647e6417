"""A tender in evaluation, to test the session on: N bids sealed, opened and confirmed through the real opening,
and a confirmed committee of M experts with registered signing keys.

The committee is made directly (Expert and CommitteeMember rows), WITHOUT H2's draw: the session does not care
how its members were drawn. Use the ``session_case`` fixture (registered in tests/conftest.py)::

    def test_something(session_case):
        case = session_case(n_bids=5, n_experts=5)           # method: METHOD below, or your own dict
        case.sign(0, statement_bytes)                         # member 0 signs with its own private key
"""

from __future__ import annotations

import base64
import copy
import dataclasses
import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from accounts import credit_code
from accounts.models import KeyPurpose, Organization, OrganizationKind, PublicKey, Role, User
from accounts.own_device import register_own_key
from config import clock as platform_clock
from evaluation.models import CommitteeMember, Evaluation, Expert, MemberState, Specialty, Stage
from tendering.models import Bid, BidOpening, BidOpeningState, EvaluationMethod, Opening, Phase, Tender
from tendering.sealing import open_bidder_envelope, parse_manifest
from tendering.services import decryption, tenders
from tendering.services.opening import admission, conclusion, keys
from tests.bids.conftest import keys_for, seal, submit
from tests.fixtures.personas import Personas, confirm_custody, make_user, tender_input

# The draft's own terms kept when its method is set (tender_input gives the custodians and lots).
TENDER_TERMS = (
    "number", "title", "description", "procedure_type", "budget", "bid_deadline", "opening_time", "enquiry_deadline",
)  # fmt: skip

# The method of docs/evaluation.md §1's example (comprehensive, lowest-ratio price rule).
METHOD: dict[str, Any] = {
    "format": "etender-method-v1",
    "qualification": [
        {"id": "Q1", "title": "营业执照及资质", "documents": [{"id": "D1", "name": "营业执照"}]},
        {"id": "Q2", "title": "投标保证金", "documents": []},
    ],
    "criteria": [
        {
            "id": "T1",
            "title": "施工组织设计",
            "kind": "technical",
            "weight": "30.00",
            "min_score": "0.00",
            "max_score": "10.00",
        },
        {
            "id": "C1",
            "title": "企业业绩",
            "kind": "commercial",
            "weight": "20.00",
            "min_score": "0.00",
            "max_score": "10.00",
        },
    ],
    "price": {"rule": "lowest_ratio", "weight": "50.00"},
    "anonymous_technical": False,
    "deviation_threshold_percent": "30.00",
}

# Bid prices in opening order (yuan), for up to 9 bids.
PRICES = [
    "6123456.70",
    "5980000.00",
    "6050000.50",
    "6210000.00",
    "5890000.00",
    "6001000.00",
    "6333000.00",
    "5750000.00",
    "6100000.00",
]


@dataclasses.dataclass
class SessionCase:
    tender: Tender
    evaluation: Evaluation
    bids: list[Bid]  # in opening position order
    members: list[CommitteeMember]  # confirmed, in draw order
    keys: list[ec.EllipticCurvePrivateKey]  # members[i]'s registered signing key (made "on its device")
    supervisor: User
    bidder_users: list[User]  # bidder_users[i] submitted bids[i]
    personas: Personas
    clock: platform_clock.FrozenClock
    prices: list[str]

    @property
    def experts(self) -> list[User]:
        return [m.expert.user for m in self.members]

    def sign(self, index: int, statement: bytes) -> str:
        """Member ``index`` signs ``statement`` (ECDSA P-256 SHA-256, DER), base64 as the protocol carries it."""
        return base64.b64encode(self.keys[index].sign(statement, ec.ECDSA(hashes.SHA256()))).decode()

    def fingerprint(self, index: int) -> str:
        """The fingerprint of member ``index``'s registered signing key."""
        return PublicKey.objects.get(
            owner=self.members[index].expert.user, purpose=KeyPurpose.SIGNING, revoked_at__isnull=True
        ).fingerprint


def publish_with_method(
    personas: Personas,
    draft: Tender,
    method: dict[str, Any],
    evaluation_method: str = EvaluationMethod.COMPREHENSIVE,
) -> Tender:
    """The draft ``draft`` given ``method`` through the draft's own service, then published (the ledger's
    publication record holds that method) and its custody confirmed by every custodian."""
    data = dataclasses.replace(
        tender_input(draft.bid_deadline, personas.custodians),
        **{name: getattr(draft, name) for name in TENDER_TERMS},
        evaluation_method=evaluation_method,
        method=method,
    )
    tenders.update_draft(personas.tenderer, draft, data)
    return confirm_custody(tenders.publish(personas.tenderer, draft), personas)


def _bidder(tender: Tender, index: int) -> User:
    """Bidder ``index`` of ``tender`` (a bench builds many tenders in one database: names differ by tender)."""
    number = tender.pk * 100 + index
    org = Organization.objects.create(
        name=f"投标单位{index}号", kind=OrganizationKind.BIDDER, credit_code=credit_code.make(f"91360781MB{number:07d}")
    )
    return make_user(f"session_bidder{number}", org, Role.BIDDER)


def open_bids(
    personas: Personas, tender: Tender, clock: platform_clock.FrozenClock, folder: Path, n_bids: int
) -> tuple[list[Bid], list[User]]:
    """``n_bids`` bids sealed before the deadline, each released by its bidder, decrypted, the record published
    and the opening closed: the tender is in evaluation."""
    users = [personas.bidder_a, personas.bidder_b, *(_bidder(tender, i) for i in range(3, n_bids + 1))][:n_bids]
    entries = []
    for number, user in enumerate(users, start=1):
        clock.advance(minutes=1)
        bidder_keys = keys_for(user)
        sealed = seal(tender, bidder_keys, folder / f"bidder{number}", price=PRICES[number - 1])
        entries.append((bidder_keys, sealed, submit(user, tender, sealed)))
    clock.set(tender.opening_time + dt.timedelta(minutes=1))
    admission.ensure_opening(tender)
    for bidder_keys, sealed, bid in entries:
        manifest = parse_manifest(sealed.sealed.manifest_bytes)
        file_key = open_bidder_envelope(manifest.envelopes.bidder, manifest.identity, bidder_keys.encryption)
        keys.release_key(bidder_keys.user, tender, bid.public_id, file_key)
    for bo in BidOpening.objects.filter(opening__tender=tender, state=BidOpeningState.KEY_READY):
        decryption.decrypt_bid(bo.pk)
    opening = Opening.objects.get(tender=tender)
    clock.set(opening.decryption_ends_at)
    conclusion.conclude_decryption(personas.tenderer, tender)
    opening.refresh_from_db()
    assert opening.confirmation_ends_at is not None
    clock.set(opening.confirmation_ends_at)
    conclusion.close_opening(personas.tenderer, tender)
    tender.refresh_from_db()
    assert tender.phase(clock()) == Phase.EVALUATION
    ordered = [bo.bid for bo in BidOpening.objects.filter(opening=opening).select_related("bid").order_by("position")]
    by_bid = {bid.pk: user for (_k, _s, bid), user in zip(entries, users, strict=True)}
    return ordered, [by_bid[bid.pk] for bid in ordered]


def committee(
    tender: Tender, personas: Personas, n_experts: int, reserves: int = 2
) -> tuple[Evaluation, list[CommitteeMember], list[ec.EllipticCurvePrivateKey]]:
    """An evaluation in its sign-in stage with ``n_experts`` confirmed members (no draw: rows made directly).

    ``draw_record`` holds only the specialty's order (the members, then ``reserves`` experts of the pool not
    invited), so that a recusal's replacement (evaluation.services.confirmation) takes the next one."""
    now = platform_clock.now()
    evaluation = Evaluation.objects.create(
        tender=tender,
        requested_by=personas.tenderer,
        requested_at=now,
        supervisor=personas.regulator,
        stage=Stage.SIGN_IN,
        drawn_at=now,
    )
    specialty, _created = Specialty.objects.get_or_create(code="TJ01", defaults={"name": "土木工程"})
    members, private_keys, order = [], [], []
    for i in range(1, n_experts + reserves + 1):
        user = make_user(f"session_expert{tender.pk}_{i}", None, Role.EXPERT)
        user.display_name = f"专家{i}"
        user.save(update_fields=["display_name"])
        expert = Expert.objects.create(
            code=f"E{tender.pk:04d}{i:03d}",
            user=user,
            name=f"专家{i}",
            region_code="360100",
            region_name="南昌市",
            employer_name=f"南昌设计院{i}",
            imported_at=now,
            updated_at=now,
        )
        expert.specialties.add(specialty)
        order.append(expert.code)
        signing = ec.generate_private_key(ec.SECP256R1())
        register_own_key(user, KeyPurpose.SIGNING, signing)
        if i > n_experts:
            continue
        private_keys.append(signing)
        members.append(
            CommitteeMember.objects.create(
                evaluation=evaluation,
                expert=expert,
                specialty=specialty,
                draw_rank=i - 1,
                state=MemberState.CONFIRMED,
                invited_at=now,
                answered_at=now,
            )
        )
    evaluation.draw_record = {"order": {specialty.code: order}}
    evaluation.save(update_fields=["draw_record"])
    return evaluation, members, private_keys


def build_session_case(
    personas: Personas,
    tender: Tender,
    clock: platform_clock.FrozenClock,
    folder: Path,
    n_bids: int = 5,
    n_experts: int = 5,
    method: dict[str, Any] | None = None,
    evaluation_method: str = EvaluationMethod.COMPREHENSIVE,
) -> SessionCase:
    """``tender`` a draft (with a document): it is given ``method`` (default ``METHOD``), published with it and its
    custody confirmed, then bids are opened and a committee made. (A published method cannot change any more.)"""
    tender = publish_with_method(
        personas, tender, copy.deepcopy(METHOD if method is None else method), evaluation_method
    )
    bids, bidder_users = open_bids(personas, tender, clock, folder, n_bids)
    evaluation, members, private_keys = committee(tender, personas, n_experts)
    return SessionCase(
        tender,
        evaluation,
        bids,
        members,
        private_keys,
        personas.regulator,
        bidder_users,
        personas,
        clock,
        PRICES[:n_bids],
    )


@pytest.fixture
def session_case(
    personas: Personas, draft_tender: Tender, frozen_clock: platform_clock.FrozenClock, tmp_path: Path
) -> Callable[..., SessionCase]:
    """``session_case(n_bids=5, n_experts=5, method=None, evaluation_method="comprehensive") -> SessionCase``
    (once per test: one tender, published with that method)."""

    def make(
        n_bids: int = 5,
        n_experts: int = 5,
        method: dict[str, Any] | None = None,
        evaluation_method: str = EvaluationMethod.COMPREHENSIVE,
    ) -> SessionCase:
        return build_session_case(
            personas, draft_tender, frozen_clock, tmp_path, n_bids, n_experts, method, evaluation_method
        )

    return make
