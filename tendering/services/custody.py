"""Custodians confirm their slots (docs/custody.md §C).

Once a tender is published, each of its n custodians signs, on its own device and
with its own registered signing key, a statement naming the tender, its position,
k, and the n encryption keys in published order. The platform checks and keeps the
signature; bidders' clients check it again against trust of their own (a CA or a
pinned fingerprint) before they seal. A key the operator swapped in has no such
confirmation, so no client seals to it. Bids are taken only once every slot is confirmed.
"""

from __future__ import annotations

import base64
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from accounts.errors import Conflict, DomainError, NotFound, PermissionDenied, WrongPhase
from accounts.key_certificates import certificate_pem
from accounts.models import KeyPurpose, PublicKey, User
from accounts.services import verify_signature
from archive import strict_json
from archive.canonical import canonical_json
from archive.ledger import record
from config import clock
from tendering.models import Phase, Tender, TenderCustodian
from tendering.services.locks import lock_one

CUSTODY_FORMAT = "etender-custody-v1"
STATEMENT_MAX_BYTES = 4096


class CustodyRefused(DomainError):
    """A confirmation that does not say exactly what the platform published, or is not signed by its custodian."""

    code = "custody_statement_invalid"
    status = 422


def slots_in_order(tender: Tender) -> list[TenderCustodian]:
    """The custodians in published order: the order bids seal to (sealed_format checks the same)."""
    return list(tender.custodian_slots.select_related("user", "public_key", "custody_signing_key").order_by("position"))


def custody_statement(
    slot: TenderCustodian, signing_key_fingerprint: str, slots: list[TenderCustodian] | None = None
) -> bytes:
    """The exact bytes the custodian of ``slot`` signs with the signing key ``signing_key_fingerprint``."""
    slots = slots_in_order(slot.tender) if slots is None else slots
    if any(s.public_key is None for s in slots):
        raise WrongPhase(_("该招标项目尚未发布，密钥保管人的公钥尚未确定。"), code="tender_not_published")
    index = [s.pk for s in slots].index(slot.pk)
    return canonical_json(
        {
            "format": CUSTODY_FORMAT,
            "tender": str(slot.tender.public_id),
            "index": index,
            "threshold": slot.tender.custodian_threshold,
            "recipients": [s.public_key.fingerprint for s in slots if s.public_key is not None],
            "custodian": slot.user.username,
            "signing_key": signing_key_fingerprint,
        }
    )


def _claimed_signing_key(statement: bytes) -> str:
    """The signing key a submitted statement names (the rest is compared byte for byte)."""
    try:
        claimed = strict_json.loads(statement.decode("ascii"), what="the statement")
    except (UnicodeDecodeError, strict_json.StrictJSONError):
        raise CustodyRefused(_("确认声明不是 ASCII 的规范 JSON。")) from None
    fingerprint = claimed.get("signing_key") if isinstance(claimed, dict) else None
    if not isinstance(fingerprint, str):
        raise CustodyRefused(_("确认声明没有写明签名公钥（signing_key）。"))
    return fingerprint


@transaction.atomic
def confirm_custody(user: User, tender: Tender, statement: bytes, signature: bytes) -> TenderCustodian:
    """Record the custodian's signed confirmation of its slot; once per slot, while the tender takes bids."""
    tender = lock_one(Tender.objects.filter(pk=tender.pk))
    if tender.published_at is None:
        raise WrongPhase(_("该招标项目尚未发布，不能确认保管。"), code="tender_not_published")
    if tender.phase(clock.now()) != Phase.OPEN_FOR_BIDS:
        raise WrongPhase(_("投标已截止，不能再确认保管。"), code="deadline_passed")
    slots = slots_in_order(tender)
    slot = next((s for s in slots if s.user_id == user.pk), None)
    if slot is None or not user.is_active:
        raise PermissionDenied(_("您不是本招标项目的密钥保管人。"), code="not_a_custodian")
    if slot.custody_confirmed_at is not None:
        raise Conflict(
            _("您已于 %(when)s 确认过本项目的保管。") % {"when": clock.local_text(slot.custody_confirmed_at)},
            code="custody_already_confirmed",
        )
    if len(statement) > STATEMENT_MAX_BYTES:
        raise CustodyRefused(_("确认声明过长。"))
    fingerprint = _claimed_signing_key(statement)
    signing_key = PublicKey.objects.filter(
        fingerprint=fingerprint, owner=user, purpose=KeyPurpose.SIGNING, revoked_at__isnull=True
    ).first()
    if signing_key is None:
        raise CustodyRefused(
            _("确认声明中的签名公钥不是您已登记且有效的签名公钥。"), code="custody_signing_key_invalid"
        )
    expected = custody_statement(slot, fingerprint, slots)
    if statement != expected:
        raise CustodyRefused(_("确认声明与平台公布的保管安排不一致（项目、序号、门限或公钥列表不同）。"))
    if not verify_signature(bytes(signing_key.spki_der), statement, signature):
        raise CustodyRefused(_("确认声明的签名无效。"), code="custody_signature_invalid")
    slot.custody_statement = statement
    slot.custody_signature = signature
    slot.custody_signing_key = signing_key
    slot.custody_confirmed_at = clock.now()
    slot.save(update_fields=["custody_statement", "custody_signature", "custody_signing_key", "custody_confirmed_at"])
    record(
        tender.case,
        "tendering.custody.confirmed",
        {
            "tender_id": str(tender.public_id),
            "index": [s.pk for s in slots].index(slot.pk),
            "custodian": user.username,
            "encryption_key": slot.public_key.fingerprint if slot.public_key else "",
            "signing_key": signing_key.fingerprint,
            "statement_b64": base64.b64encode(statement).decode("ascii"),
            "signature_b64": base64.b64encode(signature).decode("ascii"),
            "confirmed_at": slot.custody_confirmed_at.isoformat(),
        },
        user,
    )
    return slot


def confirmed_count(tender: Tender) -> tuple[int, int]:
    """(confirmed, n) for the tender's custodians."""
    slots = tender.custodian_slots.all()
    return slots.filter(custody_confirmed_at__isnull=False).count(), slots.count()


def custody_confirmed(tender: Tender) -> bool:
    confirmed, n = confirmed_count(tender)
    return confirmed == n


def require_custody_confirmed(tender: Tender) -> None:
    """Bids are taken only once every custodian confirmed (a tender without custodians needs none)."""
    confirmed, n = confirmed_count(tender)
    if confirmed < n:
        raise Conflict(
            _("密钥保管人尚未全部确认（%(confirmed)d/%(n)d）：确认前本项目不接受投标文件。")
            % {"confirmed": confirmed, "n": n},
            code="custody_not_confirmed",
        )


def _b64(data: bytes | memoryview) -> str:
    return base64.b64encode(bytes(data)).decode("ascii")


def custody_view(tender: Tender) -> dict[str, Any]:
    """What anybody may check of a published tender's custody (formats C: GET /api/tenders/{id}/custody)."""
    if tender.published_at is None:
        raise NotFound(_("该招标项目尚未发布。"))
    slots = slots_in_order(tender)
    custodians: list[dict[str, Any]] = []
    for index, slot in enumerate(slots):
        confirmation = None
        if slot.custody_confirmed_at is not None and slot.custody_signing_key is not None:
            signing_key = slot.custody_signing_key
            confirmation = {
                "statement": _b64(slot.custody_statement or b""),
                "signature": _b64(slot.custody_signature or b""),
                "signing_key": {
                    "fingerprint": signing_key.fingerprint,
                    "spki": _b64(signing_key.spki_der),
                    "certificate": certificate_pem(signing_key.certificate_der)
                    if signing_key.certificate_der
                    else None,
                },
                "confirmed_at": slot.custody_confirmed_at,
            }
        custodians.append(
            {
                "index": index,
                "name": str(slot.user),
                "username": slot.user.username,
                "encryption_key": {
                    "fingerprint": slot.public_key.fingerprint if slot.public_key else "",
                    "spki": _b64(slot.public_key.spki_der) if slot.public_key else "",
                },
                "confirmation": confirmation,
            }
        )
    return {
        "tender": str(tender.public_id),
        "threshold": tender.custodian_threshold,
        "recipients": [c["encryption_key"]["fingerprint"] for c in custodians],
        "custodians": custodians,
        "confirmed": all(c["confirmation"] is not None for c in custodians),
    }


def awaiting_confirmation(user: User) -> Any:
    """The published tenders still taking bids where this custodian has not confirmed yet (its dashboard)."""
    now = clock.now()
    return (
        TenderCustodian.objects.filter(
            user=user,
            custody_confirmed_at__isnull=True,
            tender__published_at__isnull=False,
            tender__bid_deadline__gt=now,
        )
        .select_related("tender", "public_key")
        .order_by("tender__bid_deadline")
    )
