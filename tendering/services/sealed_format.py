"""What the server checks of a sealed bid at finalize, in order (docs/sealed-bid-format.md §6).

The order is the spec's, because when a bid has several faults the first
failing check is the refusal the bidder gets: ``check_manifest`` (steps 2–3 and
the size of step 4), ``check_ciphertext`` (the rest of step 4), ``check_envelopes``
(step 5).

Only ciphertext and public keys are involved: the server cannot, and does not try
to, open anything. Every refusal is a ``BidRefused`` naming the failed check.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext as _

from accounts.errors import DomainError
from accounts.models import PublicKey
from archive.storage import ObjectStore
from archive.streams import sha256_of
from tendering.models import Tender
from tendering.sealing import stream
from tendering.sealing.envelopes import check_envelope_coverage
from tendering.sealing.errors import SealingError
from tendering.sealing.manifest import Manifest, parse_manifest, verify_manifest

MIN_CIPHERTEXT_SIZE = stream.MIN_CIPHERTEXT_SIZE
_READ = 1 << 20


class BidRefused(DomainError):
    """A finalize check failed; nothing was accepted. ``code`` names the check."""

    code = "bid_refused"
    status = 422


@dataclass(frozen=True)
class CheckedManifest:
    manifest: Manifest
    signing_key: PublicKey
    ciphertext_sha256: str
    header_sha256: str
    key_commitment: str


def check_manifest(
    manifest_bytes: bytes,
    signature: bytes,
    *,
    tender: Tender,
    bid_id: Any,
    bidder_credit_code: str,
    size: int,
    signing_key_of: Callable[[str], PublicKey],
) -> CheckedManifest:
    """Parse, check the signature with the bidder's registered key,
    and match the manifest's identity and size to this upload.
    """
    try:
        claimed = parse_manifest(manifest_bytes)
    except SealingError as exc:
        raise BidRefused(_("清单格式错误：%(reason)s") % {"reason": str(exc)}, code="bad_manifest") from None
    key = signing_key_of(claimed.signing_key)
    try:
        manifest = verify_manifest(manifest_bytes, signature, bytes(key.spki_der))
    except SealingError as exc:
        raise BidRefused(_("清单签名无效：%(reason)s") % {"reason": str(exc)}, code="bad_signature") from None
    if manifest.tender != str(tender.public_id):
        raise BidRefused(_("清单中的招标项目与本项目不符。"), code="wrong_tender")
    if manifest.bid != str(bid_id):
        raise BidRefused(_("清单中的投标编号与本次上传不符。"), code="wrong_bid")
    if manifest.bidder != bidder_credit_code:
        raise BidRefused(_("清单中的投标人与您的机构不符。"), code="wrong_bidder")
    if manifest.ciphertext_size != size:
        raise BidRefused(_("清单中的密文大小与上传的大小不符。"), code="wrong_size")
    return CheckedManifest(manifest, key, manifest.ciphertext_sha256, manifest.header_sha256, manifest.kc)


def check_envelopes(checked: CheckedManifest, tender: Tender) -> None:
    """§6 step 5, after the ciphertext (step 4): the bidder's own envelope, then the custodians' coverage."""
    manifest, signing_key = checked.manifest, checked.signing_key
    recipient = manifest.envelopes.bidder.recipient
    own = PublicKey.objects.filter(
        fingerprint=recipient,
        organization_id=signing_key.organization_id or 0,
        purpose="encryption",
        revoked_at__isnull=True,
    ).exists()
    if not own:
        raise BidRefused(_("投标人自己的密钥信封必须发给本机构已登记的加密公钥。"), code="bad_bidder_envelope")
    slots = list(tender.custodian_slots.select_related("public_key").order_by("position"))
    if any(slot.public_key is None for slot in slots):
        raise BidRefused(_("本项目的密钥保管人公钥尚未公布。"), code="custodians_unpublished")
    published = [bytes(slot.public_key.spki_der) for slot in slots if slot.public_key is not None]
    try:
        check_envelope_coverage(manifest.envelopes.custodians, published, tender.custodian_threshold)
    except SealingError as exc:
        raise BidRefused(_("密钥信封不完整：%(reason)s") % {"reason": str(exc)}, code="bad_envelopes") from None


def check_ciphertext(store: ObjectStore, key: str, version_id: str | None, checked: CheckedManifest) -> None:
    """Read the assembled ciphertext back once: header, structure and SHA-256 must match the manifest."""
    with store.open(key, version_id) as source:
        read = sha256_of(source, head=stream.HEADER_SIZE, buffer_size=_READ)
    header, size = read.head, read.size
    try:
        stream.check_ciphertext_structure(header, size)
    except SealingError as exc:
        raise BidRefused(
            _("上传的文件不是密封的投标文件（%(reason)s）。未加密的文件不会被受理。") % {"reason": str(exc)},
            code="not_sealed",
        ) from None
    if hashlib.sha256(header).hexdigest() != checked.header_sha256:
        raise BidRefused(_("密文头与清单不符。"), code="header_mismatch")
    if read.sha256 != checked.ciphertext_sha256 or size != checked.manifest.ciphertext_size:
        raise BidRefused(_("上传的密文与清单中的 SHA-256 不符：文件在传输中被改动或被截断。"), code="hash_mismatch")
