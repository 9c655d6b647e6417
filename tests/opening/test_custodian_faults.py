"""A bidder who seals garbage to the custodians gains nothing, and blocks nobody (issue 7, items 2 and 3).

The custodians' own client code (tendering.client.opening.custodian_parts) opens
the parts on "their device" and signs a "does not open" statement for each part
that does not open; the platform takes the rest at once. Parts are checked
against kc for every bid, released or not: a bid whose every subset is decided
without a match is the bidder's defect, revoked whatever the bidder releases.
"""

from __future__ import annotations

import base64
import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from accounts.errors import InvalidInput
from accounts.models import KeyPurpose, PublicKey, User
from accounts.own_device import register_own_key
from archive.models import LedgerEntry
from tendering.models import (
    BidOpening,
    BidOpeningState,
    CustodianCheck,
    CustodianSubmission,
    KeySource,
    Opening,
    OpeningEvent,
    Tender,
)
from tendering.sealing import fingerprint
from tendering.sealing.refusal import PartRefusal, sign_refusal, verify_refusal
from tendering.services import decryption
from tendering.services.opening import conclusion, custodian_parts, keys, views
from tests.fixtures.personas import Personas
from tests.opening.conftest import OpeningCase, Spoil, make_case

pytestmark = pytest.mark.django_db


def bid_openings(case: OpeningCase) -> list[BidOpening]:
    return list(BidOpening.objects.filter(opening__tender=case.tender).select_related("bid").order_by("position"))


def run_worker(case: OpeningCase) -> list[str]:
    return [decryption.decrypt_bid(b.pk) for b in bid_openings(case) if b.state == BidOpeningState.KEY_READY]


def ledger(action: str) -> list[dict[str, Any]]:
    return [json.loads(e.data) for e in LedgerEntry.objects.filter(action=action).order_by("seq")]


def prices(case: OpeningCase, user: User) -> list[Any]:
    return [v["price_summary"] for v in views.snapshot(user, case.tender)["bids"]]


@pytest.fixture
def one_garbage_part(
    personas: Personas, published_tender: Tender, frozen_clock: Any, tmp_path: Path, third_bidder: User
) -> OpeningCase:
    # Bidder B spoils one envelope: custodian 1's (index 0) part of subset [0, 1].
    return make_case(
        personas,
        published_tender,
        frozen_clock,
        tmp_path,
        third_bidder,
        {2: lambda members, j: members == (0, 1) and j == 0},
    )


@pytest.fixture
def garbage_everywhere(
    personas: Personas, published_tender: Tender, frozen_clock: Any, tmp_path: Path, third_bidder: User
) -> OpeningCase:
    # Bidder B spoils every custodian envelope of its bid: a bad part at each position.
    return make_case(personas, published_tender, frozen_clock, tmp_path, third_bidder, {2: lambda members, j: True})


def test_one_garbage_part_in_one_bid_blocks_nothing_and_its_statement_is_recorded(
    one_garbage_part: OpeningCase,
) -> None:
    case = one_garbage_part
    b = case.entries[1]
    case.at_opening()
    # Nobody releases a key: every bid is left to the custodians.
    first = case.submit_as_client(0)
    assert (first.part_count, len(first.refusals)) == (5, 1)
    [statement] = first.refusals
    assert (statement["bid"], statement["members"], statement["reason"]) == (
        str(b.bid.public_id),
        [0, 1],
        "hpke_open_failed",
    )
    # What was recorded can be checked again by anyone with the custodian's registered signing key.
    key = PublicKey.objects.get(
        fingerprint=statement["signing_key"], purpose=KeyPurpose.SIGNING, owner=case.custodians[0]
    )
    verified = verify_refusal(
        base64.b64decode(statement["statement"]), base64.b64decode(statement["signature"]), bytes(key.spki_der)
    )
    assert (verified.tender, verified.bid, verified.index) == (str(case.tender.public_id), str(b.bid.public_id), 0)
    [submitted] = ledger("tendering.opening.custodian_parts_submitted")
    assert submitted["refusals"] == first.refusals and submitted["parts"] == 5
    # Custodian 2 completes [0, 1] for A and C, but not for B (custodian 1 refused it).
    case.submit_as_client(1)
    assert [(x.state, x.custodian_check) for x in bid_openings(case)] == [
        ("key_ready", "matched"),
        ("awaiting_key", ""),
        ("key_ready", "matched"),
    ]
    # Custodian 3 completes [0, 2] and [1, 2]: B's key comes from them.
    case.submit_as_client(2)
    assert [(x.state, x.key_source, x.custodian_check) for x in bid_openings(case)] == [
        ("key_ready", KeySource.CUSTODIANS, "matched")
    ] * 3
    assert run_worker(case) == ["opened"] * 3
    conclusion.conclude_decryption(case.personas.tenderer, case.tender)
    assert [p["lots"][0]["price_yuan"] for p in prices(case, case.personas.regulator)] == [
        "6123456.70",
        "5980000.00",
        "6050000.50",
    ]


def test_a_bad_part_at_each_position_revokes_that_bid_only_even_released_and_shows_no_price_before(
    garbage_everywhere: OpeningCase,
) -> None:
    case = garbage_everywhere
    b = case.entries[1]
    tenderer, regulator = case.personas.tenderer, case.personas.regulator
    case.at_opening()
    # B releases its own key (it matches kc) and waits for the others' prices: its bid is decrypted...
    keys.release_key(b.user, case.tender, b.bid.public_id, b.file_key())
    assert run_worker(case) == ["opened"]
    assert prices(case, b.user) == [None, None, None] and prices(case, tenderer) == [None, None, None]
    # ...but every custodian's client finds B's parts do not open, signs so, and sends the rest.
    for index in range(3):
        submission = case.submit_as_client(index)
        assert (submission.part_count, len(submission.refusals)) == (4, 2)
    found = bid_openings(case)
    assert [(x.state, x.custodian_check, x.outcome_code) for x in found] == [
        ("key_ready", "matched", ""),
        ("revoked", "defect", "custodian_parts_invalid"),
        ("key_ready", "matched", ""),
    ]
    # Nothing B's decryption found is kept or shown; a later release changes nothing.
    assert found[1].price_summary is None and found[1].files == []
    with pytest.raises(Exception) as ended:
        keys.release_key(b.user, case.tender, b.bid.public_id, b.file_key())
    assert getattr(ended.value, "code", "") == "bid_already_ended"
    assert run_worker(case) == ["opened", "opened"]
    # Every check is decided: the decryption may end early, and only then are prices shown.
    assert prices(case, regulator) == [None, None, None]
    conclusion.conclude_decryption(tenderer, case.tender)
    shown = prices(case, regulator)
    assert [p["lots"][0]["price_yuan"] if p else None for p in shown] == ["6123456.70", None, "6050000.50"]
    [revoked] = [e for e in ledger("tendering.opening.bid_not_opened") if e["bid_id"] == str(b.bid.public_id)]
    assert revoked["state"] == "revoked" and revoked["reason"] == "custodian_parts_invalid"
    # No event before the reveal carried B's (or anyone's) price.
    op = Opening.objects.get(tender=case.tender)
    reveal = OpeningEvent.objects.get(opening=op, kind="opening.revealed")
    early = OpeningEvent.objects.filter(opening=op, seq__lt=reveal.seq)
    assert early.exists() and not any("5980000.00" in json.dumps(e.payload) for e in early)


@pytest.fixture
def a_bad_part_at_each_position(
    personas: Personas, published_tender: Tender, frozen_clock: Any, tmp_path: Path, third_bidder: User
) -> OpeningCase:
    # Bid 1 has a garbage part for custodian 1, bid 2 for custodian 2, bid 3 for custodian 3 (each in one subset):
    # before, every custodian's client stopped at its bad part and sent nothing, so no bid opened.
    def at(position: int) -> Spoil:
        return lambda members, j: members[j] == position and members == tuple(sorted({position, (position + 1) % 3}))

    return make_case(personas, published_tender, frozen_clock, tmp_path, third_bidder, {1: at(0), 2: at(1), 3: at(2)})


def test_a_bad_part_at_each_position_in_different_bids_blocks_nobody(a_bad_part_at_each_position: OpeningCase) -> None:
    case = a_bad_part_at_each_position
    case.at_opening()
    submissions = [case.submit_as_client(index) for index in range(3)]
    # Each custodian signed one statement (its bad part) and sent its five other parts.
    assert [(s.part_count, [(r["bid"], r["members"]) for r in s.refusals]) for s in submissions] == [
        (5, [(str(case.entries[0].bid.public_id), [0, 1])]),
        (5, [(str(case.entries[1].bid.public_id), [1, 2])]),
        (5, [(str(case.entries[2].bid.public_id), [0, 2])]),
    ]
    assert [(x.state, x.key_source, x.custodian_check) for x in bid_openings(case)] == [
        ("key_ready", KeySource.CUSTODIANS, "matched")
    ] * 3
    assert run_worker(case) == ["opened"] * 3
    conclusion.conclude_decryption(case.personas.tenderer, case.tender)
    assert [p["lots"][0]["price_yuan"] for p in prices(case, case.personas.tenderer)] == [
        "6123456.70",
        "5980000.00",
        "6050000.50",
    ]


def test_an_absent_custodian_proves_nothing_against_a_bidder_who_released(garbage_everywhere: OpeningCase) -> None:
    case = garbage_everywhere
    case.at_opening()
    for entry in case.entries:
        keys.release_key(entry.user, case.tender, entry.bid.public_id, entry.file_key())
    assert run_worker(case) == ["opened"] * 3
    # Only custodian 1 comes: every subset but those it refused waits for an absent custodian.
    case.submit_as_client(0)
    assert [x.custodian_check for x in bid_openings(case)] == ["", "", ""]
    with pytest.raises(Exception) as early:
        conclusion.conclude_decryption(case.personas.tenderer, case.tender)
    assert getattr(early.value, "code", "") == "custodian_check_pending"
    case.clock.set(Opening.objects.get(tender=case.tender).decryption_ends_at)
    conclusion.conclude_decryption(case.personas.tenderer, case.tender)
    assert [(x.state, x.custodian_check) for x in bid_openings(case)] == [("opened", CustodianCheck.INCONCLUSIVE)] * 3
    assert ledger("tendering.opening.decryption_concluded")[0]["custodian_checks_inconclusive"] == 3


def test_custodian_parts_are_dropped_once_every_check_is_decided(opening_case: OpeningCase) -> None:
    case = opening_case
    case.at_opening()
    case.submit_as_client(0)
    # One custodian alone decides nothing: its parts are kept (sealed) for the next one's.
    assert [bytes(s.sealed_parts) != b"" for s in CustodianSubmission.objects.all()] == [True]
    assert Opening.objects.get(tender=case.tender).custodian_parts_dropped_at is None
    case.submit_as_client(1)
    op = Opening.objects.get(tender=case.tender)
    assert [x.custodian_check for x in bid_openings(case)] == ["matched"] * 3
    assert op.custodian_parts_dropped_at is not None
    assert [bytes(s.sealed_parts) for s in CustodianSubmission.objects.all()] == [b"", b""]
    assert ledger("tendering.opening.custodian_parts_dropped") == [{"submissions": 2}]
    # The keys the parts gave are kept on the bids: they still open.
    assert run_worker(case) == ["opened"] * 3
    # A custodian coming later is recorded, but its parts are not kept either.
    late = case.submit_as_client(2)
    late.refresh_from_db()
    assert late.part_count == 6 and bytes(late.sealed_parts) == b""
    assert len(ledger("tendering.opening.custodian_parts_dropped")) == 1


def test_statements_that_are_not_the_custodian_s_own_valid_word_are_refused_and_nothing_is_stored(
    opening_case: OpeningCase,
) -> None:
    case = opening_case
    case.at_opening()
    me = case.custodians[0]
    signing = case.personas.custodian_signing_keys[0]
    first = case.entries[0]
    parts = case.parts_of(0)
    # The custodian claims its part of bid 1's subset [0, 1] does not open; the other parts come as they are.
    rest = [p for p in parts if not (p.bid == first.bid.public_id and p.members == (0, 1))]
    claimed = next(p for p in parts if p.bid == first.bid.public_id and p.members == (0, 1))

    def statement(key: Any = signing, **changes: Any) -> custodian_parts.SubmittedRefusal:
        fields: dict[str, Any] = {
            "tender": str(case.tender.public_id),
            "bid": str(first.bid.public_id),
            "members": (0, 1),
            "index": 0,
            "reason": "hpke_open_failed",
            "signing_key": fingerprint(key.public_key()),
        }
        fields.update(changes)
        text, signature = sign_refusal(PartRefusal(**fields), key)
        return custodian_parts.SubmittedRefusal(text, signature)

    stranger = ec.generate_private_key(ec.SECP256R1())
    # A second signing key the custodian registered, but not the one it confirmed custody of this tender with.
    second = ec.generate_private_key(ec.SECP256R1())
    register_own_key(me, KeyPurpose.SIGNING, second)
    other_tender = statement(tender=str(uuid.uuid4()))
    honest = statement()
    forged = custodian_parts.SubmittedRefusal(
        honest.statement, stranger.sign(honest.statement, ec.ECDSA(hashes.SHA256()))
    )
    cases: list[tuple[str, list[custodian_parts.SubmittedPart], list[custodian_parts.SubmittedRefusal], str]] = [
        ("an unregistered signing key", rest, [statement(key=stranger)], "不是您已登记且有效的签名公钥"),
        ("not the key custody was confirmed with", rest, [statement(key=second)], "确认本项目保管职责时所用的签名密钥"),
        ("another tender", rest, [other_tender], "不是本项目"),
        ("another custodian's index", rest, [statement(index=1)], "不是您的序号"),
        ("a signature by another key", rest, [forged], "does not verify"),
        ("a part and a statement for one subset", [*rest, claimed], [statement()], "既提交了密钥分量"),
        ("neither", rest, [], "缺少 1 个密钥分量"),
        ("the same statement twice", rest, [statement(), statement()], "提交了两次"),
        ("a subset it is not in", parts, [statement(members=(1, 2), index=1)], "不是您的序号"),
        (
            "not canonical",
            rest,
            [custodian_parts.SubmittedRefusal(statement().statement + b" ", statement().signature)],
            "canonical",
        ),
    ]
    for what, sent_parts, refusals, message in cases:
        with pytest.raises(InvalidInput) as refused:
            custodian_parts.submit_custodian_parts(me, case.tender, sent_parts, refusals)
        assert message in str(refused.value.fields), (what, refused.value.fields)
    # A signing key revoked since is not the custodian's word any more.
    key = PublicKey.objects.get(owner=me, purpose=KeyPurpose.SIGNING, fingerprint=fingerprint(signing.public_key()))
    PublicKey.objects.filter(pk=key.pk).update(revoked_at=case.clock())
    with pytest.raises(InvalidInput):
        custodian_parts.submit_custodian_parts(me, case.tender, rest, [statement()])
    assert not CustodianSubmission.objects.exists()
    assert not LedgerEntry.objects.filter(action="tendering.opening.custodian_parts_submitted").exists()
    assert [x.state for x in bid_openings(case)] == ["awaiting_key"] * 3
