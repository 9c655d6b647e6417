"""The custodians' parts of every bid's key, submitted in one action per custodian, combined and checked
against the key commitment; signed "does not open" statements instead of parts."""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import json
import uuid
from collections.abc import Sequence
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from accounts.errors import Conflict, InvalidInput, WrongPhase
from accounts.models import KeyPurpose, PublicKey, User
from archive import vault
from archive.ledger import record
from config import clock
from tendering import hall_protocol as hp
from tendering.hall import HallRole
from tendering.models import (
    Bid,
    BidOpening,
    BidOpeningState,
    CustodianCheck,
    CustodianSubmission,
    KeySource,
    Opening,
    Tender,
    TenderCustodian,
    UnreleasedBidRule,
)
from tendering.sealing import (
    KeyCommitmentError,
    combine_parts,
    parse_manifest,
    verify_commitment,
)
from tendering.sealing.envelopes import CustodianEnvelopes
from tendering.sealing.refusal import RefusalError, parse_refusal, verify_refusal
from tendering.services.hall_events import publish
from tendering.services.locks import lock
from tendering.services.opening.admission import lock_opening, require_hall, require_not_closed, require_role
from tendering.services.opening.bid_ended import clear_opened, resolve
from tendering.services.opening.bid_key_ready import key_ready
from tendering.services.opening.key_seals import FILE_KEY_SIZE, parts_purpose
from tendering.services.opening.payloads import display_name
from tendering.services.opening.record_published import maybe_publish_record


@dataclasses.dataclass(frozen=True)
class SubmittedPart:
    bid: uuid.UUID
    members: tuple[int, ...]
    part: bytes


@dataclasses.dataclass(frozen=True)
class SubmittedRefusal:
    """A signed "does not open" statement (etender-part-refusal-v1) instead of one part."""

    statement: bytes
    signature: bytes


def decode_refusals(items: Sequence[tuple[str, str]]) -> list[SubmittedRefusal]:
    """The "does not open" statements as clients send them (base64 statement and signature)."""
    found = []
    for index, (statement, signature) in enumerate(items):
        decoded = []
        for name, text in (("statement", statement), ("signature", signature)):
            try:
                decoded.append(base64.b64decode(text, validate=True))
            except (binascii.Error, ValueError):
                raise InvalidInput({f"refusals.{index}.{name}": [_("不是有效的 base64。")]}) from None
        found.append(SubmittedRefusal(decoded[0], decoded[1]))
    return found


def _custodian_envelopes(bid: Bid) -> CustodianEnvelopes:
    return parse_manifest(bytes(bid.manifest)).envelopes.custodians


def submit_custodian_parts(
    user: User, tender: Tender, parts: Sequence[SubmittedPart], refusals: Sequence[SubmittedRefusal] = ()
) -> CustodianSubmission:
    """A custodian submits, in one action, its part of every subset it belongs to, for every bid.

    A part that did not open on the custodian's device comes as a signed "does
    not open" statement instead: every (bid, subset) of the custodian is covered
    exactly once, by a part or by a statement, and the other bids go on at once.
    Refused before the opening time (the hall is not open; custodians' parts are
    refused before the *opening time*, not only before the deadline), after the
    decryption is concluded, twice, or incomplete. Parts are combined and checked
    against kc for every bid, whoever else released its key.
    """
    roles = require_hall(user, tender)
    require_role(roles, HallRole.CUSTODIAN, _("只有本项目的密钥保管人可以提交密钥分量。"))
    with transaction.atomic():
        opening = lock_opening(tender)
        require_not_closed(opening)
        if opening.decryption_concluded_at is not None:
            raise WrongPhase(_("解密已结束，不再接收密钥分量。"), code="decryption_concluded")
        if tender.unreleased_bids != UnreleasedBidRule.CUSTODIANS:
            raise WrongPhase(
                _("本项目规定投标文件只由投标人自行解密，不使用密钥保管人的密钥分量。"), code="custodians_not_used"
            )
        slot = TenderCustodian.objects.get(tender=tender, user=user)
        if CustodianSubmission.objects.filter(opening=opening, custodian=slot).exists():
            raise Conflict(_("您已提交过密钥分量，每位密钥保管人只提交一次。"), code="parts_already_submitted")
        bid_openings = sorted(lock(opening.bids.select_related("bid", "bid__bidder")), key=lambda b: b.position)
        index = _envelope_index(slot)
        expected = _expected_subsets(index, bid_openings)
        statements = _check_refusals(user, tender, slot, expected, refusals)
        checked = _check_parts(expected, parts, {(r["bid"], tuple(r["members"])) for r in statements})
        payload = json.dumps(
            [
                {"bid": str(p.bid), "members": list(p.members), "part": base64.b64encode(p.part).decode()}
                for p in checked
            ],
            separators=(",", ":"),
        ).encode()
        submission = CustodianSubmission.objects.create(
            opening=opening,
            custodian=slot,
            submitted_by=user,
            submitted_at=clock.now(),
            part_count=len(checked),
            sealed_parts=vault.seal(parts_purpose(opening, slot), payload),
            refusals=statements,
        )
        record(
            tender.case,
            "tendering.opening.custodian_parts_submitted",
            {
                "position": slot.position,
                "parts": len(checked),
                "parts_sha256": hashlib.sha256(payload).hexdigest(),
                # The statements themselves: anybody can check them again with the custodian's signing key.
                "refusals": statements,
            },
            user,
        )
        publish(
            opening,
            hp.CustodianSubmitted(
                position=slot.position,
                name=display_name(user),
                parts=len(checked),
                refusals=len(statements),
                at=submission.submitted_at,
            ),
        )
        submitted = _submitted(opening)
        for bid_opening in bid_openings:
            if bid_opening.custodian_check == CustodianCheck.PENDING:
                _check_custodian_key(
                    opening, bid_opening, index, submitted.get(str(bid_opening.bid.public_id), _BidParts())
                )
        drop_parts_when_done(opening)
    return submission


def _envelope_index(slot: TenderCustodian) -> int:
    """Envelopes number the custodians from 0 in the tender's published order; the tender from 1."""
    return slot.position - 1


def _expected_subsets(position: int, bid_openings: list[BidOpening]) -> dict[tuple[str, tuple[int, ...]], None]:
    """Every (bid, subset) this custodian belongs to, in every bid of the opening (in order)."""
    expected: dict[tuple[str, tuple[int, ...]], None] = {}
    for bid_opening in bid_openings:
        for subset in _custodian_envelopes(bid_opening.bid).subsets:
            if position in subset.members:
                expected[(str(bid_opening.bid.public_id), subset.members)] = None
    return expected


def _check_refusals(
    user: User,
    tender: Tender,
    slot: TenderCustodian,
    expected: dict[tuple[str, tuple[int, ...]], None],
    refusals: Sequence[SubmittedRefusal],
) -> list[dict[str, Any]]:
    """Each statement: well-formed, about this tender, one of this custodian's subsets,
    signed by its active signing key.

    Where the custodian confirmed its custody with a signing key (docs/custody.md §C), the statement must be
    signed by that very key: the one bidders checked against their own trust before sealing, so a key registered
    later with the custodian's password cannot speak for the custodian (docs/threat-model.md says what an operator
    rewriting the key rows can do).
    """
    index = _envelope_index(slot)
    keys = {
        k.fingerprint: k
        for k in PublicKey.objects.filter(owner=user, purpose=KeyPurpose.SIGNING, revoked_at__isnull=True)
    }
    found: list[dict[str, Any]] = []
    seen: set[tuple[str, tuple[int, ...]]] = set()
    for number, submitted in enumerate(refusals):
        field = f"refusals.{number}"
        try:
            claimed = parse_refusal(submitted.statement)
            key = keys.get(claimed.signing_key)
            if key is None:
                raise InvalidInput({field: [_("声明所用的签名密钥不是您已登记且有效的签名公钥。")]})
            if slot.custody_signing_key_id is not None and key.pk != slot.custody_signing_key_id:
                raise InvalidInput({field: [_("声明须用您确认本项目保管职责时所用的签名密钥签署。")]})
            refusal = verify_refusal(submitted.statement, submitted.signature, bytes(key.spki_der))
        except RefusalError as exc:
            raise InvalidInput({field: [_("“无法打开”声明无效：%(reason)s") % {"reason": exc}]}) from None
        if refusal.tender != str(tender.public_id):
            raise InvalidInput({field: [_("声明所述的招标项目不是本项目。")]})
        if refusal.index != index:
            raise InvalidInput({field: [_("声明所述的密钥保管人序号不是您的序号。")]})
        subset = (refusal.bid, refusal.members)
        if subset not in expected:
            raise InvalidInput(
                {
                    field: [
                        _("投标文件 %(bid)s 中没有包含您的子集 %(members)s。")
                        % {"bid": refusal.bid, "members": list(refusal.members)}
                    ]
                }
            )
        if subset in seen:
            raise InvalidInput({field: [_("同一子集的声明提交了两次。")]})
        seen.add(subset)
        found.append(
            {
                "bid": refusal.bid,
                "members": list(refusal.members),
                "reason": refusal.reason,
                "statement": base64.b64encode(submitted.statement).decode(),
                "signature": base64.b64encode(submitted.signature).decode(),
                "signing_key": refusal.signing_key,
            }
        )
    return found


def _check_parts(
    expected: dict[tuple[str, tuple[int, ...]], None],
    parts: Sequence[SubmittedPart],
    refused: set[tuple[str, tuple[int, ...]]],
) -> list[SubmittedPart]:
    """One 32-byte part for every subset this custodian belongs to, in every bid, but those it made a statement for."""
    if not expected and parts:
        raise InvalidInput({"parts": [_("本次开标没有投标文件，无需提交密钥分量。")]})
    seen: set[tuple[str, tuple[int, ...]]] = set()
    for index, part in enumerate(parts):
        key = (str(part.bid), tuple(part.members))
        if key not in expected:
            raise InvalidInput(
                {
                    f"parts.{index}": [
                        _("投标文件 %(bid)s 中没有包含您的子集 %(members)s。")
                        % {"bid": part.bid, "members": list(part.members)}
                    ]
                }
            )
        if key in seen:
            raise InvalidInput({f"parts.{index}": [_("同一子集的密钥分量提交了两次。")]})
        if key in refused:
            raise InvalidInput({f"parts.{index}": [_("同一子集既提交了密钥分量，又声明无法打开。")]})
        if len(part.part) != FILE_KEY_SIZE:
            raise InvalidInput({f"parts.{index}": [_("每个密钥分量应为 32 字节。")]})
        seen.add(key)
    missing = [key for key in expected if key not in seen and key not in refused]
    if missing:
        raise InvalidInput(
            {
                "parts": [
                    _(
                        "缺少 %(n)d 个密钥分量：请一次提交您在全部投标文件、全部子集中的分量"
                        "（无法打开的分量请提交签名的“无法打开”声明）。"
                    )
                    % {"n": len(missing)}
                ]
            }
        )
    return list(parts)


@dataclasses.dataclass
class _BidParts:
    """What the custodians submitted for one bid: parts by subset and position, and the positions that refused."""

    parts: dict[tuple[int, ...], dict[int, bytes]] = dataclasses.field(default_factory=dict)
    refused: dict[tuple[int, ...], set[int]] = dataclasses.field(default_factory=dict)


def _submitted(opening: Opening) -> dict[str, _BidParts]:
    """Every part and statement submitted so far, by bid id (parts opened from the data key's seal)."""
    found: dict[str, _BidParts] = {}
    for submission in opening.custodian_submissions.select_related("custodian"):
        position = _envelope_index(submission.custodian)
        if bytes(submission.sealed_parts):
            payload = json.loads(
                vault.open_sealed(parts_purpose(opening, submission.custodian), bytes(submission.sealed_parts))
            )
            for item in payload:
                bid_parts = found.setdefault(item["bid"], _BidParts())
                bid_parts.parts.setdefault(tuple(item["members"]), {})[position] = base64.b64decode(item["part"])
        for refusal in submission.refusals:
            found.setdefault(refusal["bid"], _BidParts()).refused.setdefault(tuple(refusal["members"]), set()).add(
                position
            )
    return found


def _check_custodian_key(opening: Opening, bid_opening: BidOpening, newcomer: int, submitted: _BidParts) -> None:
    """Combine the complete subsets of this bid; the custodians' check is decided once a subset matches kc
    (matched) or every subset is decided without a match (defect: the bidder's).

    A subset is decided when all its members submitted a part (combined: it
    matches kc or not) or one of them signed a "does not open" statement for it;
    a subset still waiting for a member's submission is undecided. A subset whose
    parts combine to another key is recorded and shown with its members; the
    custodians common to every failing subset are named as suspects (an XOR
    cannot tell more: see docs/opening.md).
    """
    bid_id = str(bid_opening.bid.public_id)
    custodians = _custodian_envelopes(bid_opening.bid)
    kc = bytes.fromhex(bid_opening.bid.key_commitment)
    failed: list[tuple[int, ...]] = []
    found: bytes | None = None
    undecided = 0
    for subset in custodians.subsets:
        have = submitted.parts.get(subset.members, {})
        if submitted.refused.get(subset.members):
            continue  # a member's part does not open: this subset can never give the key
        if not all(m in have for m in subset.members):
            undecided += 1
            continue
        candidate = combine_parts([have[m] for m in subset.members])
        try:
            verify_commitment(candidate, kc)
        except KeyCommitmentError:
            failed.append(subset.members)
            continue
        if found is None:
            found = candidate
    new_failures = [members for members in failed if newcomer in members]
    if new_failures:
        # Custodians as the tender numbers them (from 1).
        suspects = sorted(p + 1 for p in set.intersection(*(set(m) for m in failed)))
        subsets = [[p + 1 for p in m] for m in new_failures]
        names = _custodian_names(opening.tender, suspects)
        record(
            opening.tender.case,
            "tendering.opening.custodian_parts_failed",
            {"bid_id": bid_id, "failed_subsets": subsets, "suspects": suspects},
            None,
        )
        publish(
            opening,
            hp.CustodianPartsFailed(
                bid=bid_id,
                position=bid_opening.position,
                failed_subsets=subsets,
                suspects=[hp.Suspect(position=p, name=names.get(p, "")) for p in suspects],
            ),
        )
    if found is not None:
        bid_opening.custodian_check = CustodianCheck.MATCHED
        bid_opening.save(update_fields=["custodian_check"])
        if bid_opening.state == BidOpeningState.AWAITING_KEY:
            key_ready(opening, bid_opening, found, KeySource.CUSTODIANS, None)
    elif undecided == 0:
        bid_opening.custodian_check = CustodianCheck.DEFECT
        bid_opening.save(update_fields=["custodian_check"])
        detail = _(
            "密钥保管人的密钥分量无法恢复本投标文件的密钥（投标人密封的分量无效），无论投标人是否解密，均视为撤销投标。"
        )
        if (
            bid_opening.state != BidOpeningState.REVOKED
        ):  # already revoked (its ciphertext did not decrypt): once is enough
            clear_opened(bid_opening)
            resolve(opening, bid_opening, BidOpeningState.REVOKED, "custodian_parts_invalid", detail)
            maybe_publish_record(opening)


def drop_parts_when_done(opening: Opening) -> None:
    """Drop the custodians' parts once nothing can need them again.

    Parts are needed only to combine with parts still to come. Once every bid's
    check is decided, or no more parts can come (the decryption is concluded),
    the keys they gave are kept (sealed) on the bids and the parts are emptied.
    """
    if opening.custodian_parts_dropped_at is not None:
        # A custodian that submits after every check was decided: its parts are not needed either.
        CustodianSubmission.objects.filter(opening=opening).exclude(sealed_parts=b"").update(sealed_parts=b"")
        return
    if opening.decryption_concluded_at is None and opening.bids.filter(custodian_check=CustodianCheck.PENDING).exists():
        return
    submissions = list(opening.custodian_submissions.all())
    if not submissions:
        return
    now = clock.now()
    CustodianSubmission.objects.filter(opening=opening).update(sealed_parts=b"")
    opening.custodian_parts_dropped_at = now
    opening.save(update_fields=["custodian_parts_dropped_at"])
    record(opening.tender.case, "tendering.opening.custodian_parts_dropped", {"submissions": len(submissions)}, None)


def _custodian_names(tender: Tender, positions: list[int]) -> dict[int, str]:
    slots = tender.custodian_slots.select_related("user").filter(position__in=positions)
    return {slot.position: display_name(slot.user) for slot in slots}
