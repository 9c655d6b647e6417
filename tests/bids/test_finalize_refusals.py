"""Every bad submission is refused with a clear reason, and nothing is accepted or changed."""

import dataclasses
import datetime as dt
import hashlib
import io
import uuid

import pytest
import rfc8785
from cryptography.hazmat.primitives.asymmetric.ec import ECDSA
from cryptography.hazmat.primitives.hashes import SHA256

from accounts.errors import Conflict, InvalidInput, NotFound, PermissionDenied, WrongPhase
from accounts.models import KeyPurpose
from accounts.own_device import register_own_key
from archive.models import LedgerEntry
from tendering.models import Bid, BidUpload, BidUploadState
from tendering.sealing.manifest import parse_manifest, sign_manifest
from tendering.services import bids
from tendering.services.sealed_format import BidRefused
from tests.bids.conftest import seal, submit, upload
from tests.fixtures.personas import PDF_BYTES, p256_public_der


def resign(sealed, keys, **changes):
    """The manifest with some fields changed, signed again by the bidder (a forged or confused client)."""
    manifest = dataclasses.replace(parse_manifest(sealed.sealed.manifest_bytes), **changes)
    data = manifest.canonical_bytes()
    return data, sign_manifest(data, keys.signing)


def finalize_with(user, tender, ciphertext, bid_id, manifest, signature):
    started = upload(user, tender, ciphertext, bid_id)
    return started, lambda: bids.finalize(user, started.public_id, manifest, signature)


def assert_nothing_accepted(started=None):
    assert not Bid.objects.exists()
    assert not LedgerEntry.objects.filter(action="tendering.bid.submitted").exists()
    if started is not None:
        started.refresh_from_db()
        assert started.state == BidUploadState.OPEN


def test_an_unencrypted_file_is_refused(personas, published_tender, bidder_a_keys, tmp_path):
    sealed = seal(published_tender, bidder_a_keys, tmp_path)
    plain = PDF_BYTES * 20
    manifest, signature = resign(
        sealed,
        bidder_a_keys,
        ciphertext_size=len(plain),
        ciphertext_sha256=hashlib.sha256(plain).hexdigest(),
        header_sha256=hashlib.sha256(plain[:40]).hexdigest(),
    )
    started, finalize = finalize_with(personas.bidder_a, published_tender, plain, sealed.bid_id, manifest, signature)
    with pytest.raises(BidRefused) as exc:
        finalize()
    assert exc.value.code == "not_sealed"
    assert "未加密" in str(exc.value.message)
    assert_nothing_accepted(started)


def test_a_manifest_for_another_tender_is_refused(personas, published_tender, bidder_a_keys, tmp_path):
    sealed = seal(published_tender, bidder_a_keys, tmp_path)
    manifest, signature = resign(sealed, bidder_a_keys, tender=str(uuid.uuid4()))
    started, finalize = finalize_with(
        personas.bidder_a, published_tender, sealed.ciphertext, sealed.bid_id, manifest, signature
    )
    with pytest.raises(BidRefused) as exc:
        finalize()
    assert exc.value.code == "wrong_tender"
    assert_nothing_accepted(started)


def test_a_bad_signature_is_refused(personas, published_tender, bidder_a_keys, tmp_path):
    sealed = seal(published_tender, bidder_a_keys, tmp_path)
    other_signature = seal(published_tender, bidder_a_keys, tmp_path).sealed.signature  # valid DER, other bytes
    started, finalize = finalize_with(
        personas.bidder_a,
        published_tender,
        sealed.ciphertext,
        sealed.bid_id,
        sealed.sealed.manifest_bytes,
        other_signature,
    )
    with pytest.raises(BidRefused) as exc:
        finalize()
    assert exc.value.code == "bad_signature"
    assert_nothing_accepted(started)


def test_a_signature_by_an_unregistered_key_is_refused(personas, published_tender, bidder_a_keys, tmp_path):
    sealed = seal(published_tender, bidder_a_keys, tmp_path)
    stranger, _der = p256_public_der()
    bidder_a_keys.signing = stranger
    manifest, signature = resign(sealed, bidder_a_keys, signing_key=hashlib.sha256(_der).hexdigest())
    started, finalize = finalize_with(
        personas.bidder_a, published_tender, sealed.ciphertext, sealed.bid_id, manifest, signature
    )
    with pytest.raises(BidRefused) as exc:
        finalize()
    assert exc.value.code == "unregistered_key"
    assert_nothing_accepted(started)


def test_a_signature_by_another_companys_key_is_refused(
    personas, published_tender, bidder_a_keys, bidder_b_keys, tmp_path
):
    sealed = seal(published_tender, bidder_a_keys, tmp_path)
    from tendering.sealing import fingerprint

    bidder_a_keys.signing = bidder_b_keys.signing
    manifest, signature = resign(sealed, bidder_a_keys, signing_key=fingerprint(bidder_b_keys.signing.public_key()))
    started, finalize = finalize_with(
        personas.bidder_a, published_tender, sealed.ciphertext, sealed.bid_id, manifest, signature
    )
    with pytest.raises(BidRefused) as exc:
        finalize()
    assert exc.value.code == "foreign_key"
    assert_nothing_accepted(started)


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda c: c[:100] + bytes([c[100] ^ 1]) + c[101:], id="a flipped byte"),
        pytest.param(lambda c: c[:40] + c[-500:] + c[40:-500], id="reordered bytes"),
    ],
)
def test_tampered_ciphertext_is_refused(personas, published_tender, bidder_a_keys, tmp_path, tamper):
    sealed = seal(published_tender, bidder_a_keys, tmp_path)
    started, finalize = finalize_with(
        personas.bidder_a,
        published_tender,
        tamper(sealed.ciphertext),
        sealed.bid_id,
        sealed.sealed.manifest_bytes,
        sealed.sealed.signature,
    )
    with pytest.raises(BidRefused) as exc:
        finalize()
    assert exc.value.code == "hash_mismatch"
    assert_nothing_accepted(started)


def test_ciphertext_spliced_from_another_bid_is_refused(personas, published_tender, bidder_a_keys, tmp_path):
    first = seal(published_tender, bidder_a_keys, tmp_path)
    second = seal(published_tender, bidder_a_keys, tmp_path)
    spliced = first.ciphertext[:1000] + second.ciphertext[1000:]
    started, finalize = finalize_with(
        personas.bidder_a, published_tender, spliced, first.bid_id, first.sealed.manifest_bytes, first.sealed.signature
    )
    with pytest.raises(BidRefused) as exc:
        finalize()
    assert exc.value.code in {"hash_mismatch", "header_mismatch"}
    assert_nothing_accepted(started)


def test_a_truncated_ciphertext_is_refused(personas, published_tender, bidder_a_keys, tmp_path):
    sealed = seal(published_tender, bidder_a_keys, tmp_path)
    short = sealed.ciphertext[:-20]
    started = bids.start_upload(personas.bidder_a, published_tender, uuid.UUID(sealed.bid_id), len(short))
    bids.upload_part(personas.bidder_a, started.public_id, 1, io.BytesIO(short), len(short))
    with pytest.raises(BidRefused) as exc:
        bids.finalize(personas.bidder_a, started.public_id, sealed.sealed.manifest_bytes, sealed.sealed.signature)
    assert exc.value.code == "wrong_size"
    assert_nothing_accepted(started)


def test_a_ciphertext_without_a_well_formed_final_segment_is_refused(
    personas, published_tender, bidder_a_keys, tmp_path
):
    """A final segment shorter than its tag cannot exist: the structure check refuses it without any key."""
    from tendering.sealing.stream import SEGMENT_SIZE

    sealed = seal(published_tender, bidder_a_keys, tmp_path)
    broken = sealed.ciphertext[:40] + bytes(SEGMENT_SIZE - 40) + b"\x01" * 10  # one full segment, then 10 bytes
    # Our own library will not even write such a manifest; a hand-made client could.
    fields = parse_manifest(sealed.sealed.manifest_bytes).to_json()
    fields.update(ciphertext_size=len(broken), ciphertext_sha256=hashlib.sha256(broken).hexdigest())
    manifest = rfc8785.dumps(fields)
    started, finalize = finalize_with(
        personas.bidder_a,
        published_tender,
        broken,
        sealed.bid_id,
        manifest,
        bidder_a_keys.signing.sign(manifest, ECDSA(SHA256())),
    )
    with pytest.raises(BidRefused) as exc:
        finalize()
    assert exc.value.code == "bad_manifest"
    assert "final segment" in str(exc.value.message)
    assert_nothing_accepted(started)


def test_parts_out_of_order_or_repeated_are_refused(personas, published_tender, bidder_a_keys, tmp_path, settings):
    size = (bids.PART_WINDOW + 2) * settings.BID_PART_SIZE
    started = bids.start_upload(personas.bidder_a, published_tender, uuid.uuid4(), size)
    part = b"\x28" * settings.BID_PART_SIZE
    with pytest.raises(Conflict) as exc:  # past the window of parts taken at once
        bids.upload_part(personas.bidder_a, started.public_id, bids.PART_WINDOW + 1, io.BytesIO(part), len(part))
    assert exc.value.code == "part_out_of_order"
    bids.upload_part(personas.bidder_a, started.public_id, 1, io.BytesIO(part), len(part))
    with pytest.raises(Conflict) as exc:
        bids.upload_part(personas.bidder_a, started.public_id, 1, io.BytesIO(part), len(part))
    assert exc.value.code == "part_duplicated"
    with pytest.raises(InvalidInput):
        bids.upload_part(personas.bidder_a, started.public_id, 2, io.BytesIO(part[:100]), 100)
    started.refresh_from_db()
    assert (started.received_parts, started.received_bytes) == (1, settings.BID_PART_SIZE)


def test_finalize_before_every_part_arrived_is_refused(personas, published_tender, bidder_a_keys, tmp_path):
    sealed = seal(published_tender, bidder_a_keys, tmp_path)
    started = bids.start_upload(personas.bidder_a, published_tender, uuid.UUID(sealed.bid_id), len(sealed.ciphertext))
    with pytest.raises(Conflict) as exc:
        bids.finalize(personas.bidder_a, started.public_id, sealed.sealed.manifest_bytes, sealed.sealed.signature)
    assert exc.value.code == "upload_incomplete"
    assert_nothing_accepted(started)


def test_finalize_after_the_deadline_is_refused_and_recorded(
    personas, published_tender, bidder_a_keys, tmp_path, frozen_clock
):
    sealed = seal(published_tender, bidder_a_keys, tmp_path)
    started = upload(personas.bidder_a, published_tender, sealed.ciphertext, sealed.bid_id)
    frozen_clock.set(published_tender.bid_deadline)
    with pytest.raises(WrongPhase) as exc:
        bids.finalize(personas.bidder_a, started.public_id, sealed.sealed.manifest_bytes, sealed.sealed.signature)
    assert exc.value.code == "deadline_passed"
    assert_nothing_accepted()


def test_the_deadline_is_decided_under_the_lock_at_the_moment_of_acceptance(
    personas, published_tender, bidder_a_keys, tmp_path, frozen_clock, monkeypatch
):
    """The clock passes the deadline while the ciphertext is being checked: the bid is late."""
    from tendering.services import sealed_format

    sealed = seal(published_tender, bidder_a_keys, tmp_path)
    started = upload(personas.bidder_a, published_tender, sealed.ciphertext, sealed.bid_id)
    original = sealed_format.check_ciphertext

    def slow_check(*args, **kwargs):
        original(*args, **kwargs)
        frozen_clock.set(published_tender.bid_deadline)

    monkeypatch.setattr(sealed_format, "check_ciphertext", slow_check)
    with pytest.raises(WrongPhase):
        bids.finalize(personas.bidder_a, started.public_id, sealed.sealed.manifest_bytes, sealed.sealed.signature)
    started.refresh_from_db()
    assert started.state == BidUploadState.EXPIRED
    assert LedgerEntry.objects.filter(action="tendering.bid.late_finalize_refused").count() == 1
    assert not Bid.objects.exists()


def test_uploads_into_a_draft_or_closed_tender_are_refused(personas, draft_tender, frozen_clock, bidder_a_keys):
    with pytest.raises(WrongPhase) as exc:
        bids.start_upload(personas.bidder_a, draft_tender, uuid.uuid4(), 1000)
    assert exc.value.code == "tender_not_published"
    from tendering.services import tenders

    tenders.publish(personas.tenderer, draft_tender)
    frozen_clock.set(draft_tender.bid_deadline + dt.timedelta(seconds=1))
    with pytest.raises(WrongPhase) as exc:
        bids.start_upload(personas.bidder_a, draft_tender, uuid.uuid4(), 1000)
    assert exc.value.code == "deadline_passed"
    assert not BidUpload.objects.exists()


def test_an_oversized_bid_is_refused_before_any_byte_is_stored(personas, published_tender, settings):
    settings.BID_MAX_BYTES = 10_000
    with pytest.raises(InvalidInput, match="过大"):
        bids.start_upload(personas.bidder_a, published_tender, uuid.uuid4(), 10_001)
    assert not BidUpload.objects.exists()


def test_a_replayed_finalize_is_refused(personas, published_tender, bidder_a_keys, tmp_path):
    sealed = seal(published_tender, bidder_a_keys, tmp_path)
    bid = submit(personas.bidder_a, published_tender, sealed)
    with pytest.raises(Conflict) as exc:
        bids.finalize(personas.bidder_a, bid.upload.public_id, sealed.sealed.manifest_bytes, sealed.sealed.signature)
    assert exc.value.code == "already_finalized"
    assert Bid.objects.count() == 1
    assert LedgerEntry.objects.filter(action="tendering.bid.submitted").count() == 1


def test_another_bidders_upload_is_not_found(personas, published_tender, bidder_a_keys, bidder_b_keys, tmp_path):
    sealed = seal(published_tender, bidder_a_keys, tmp_path)
    started = upload(personas.bidder_a, published_tender, sealed.ciphertext, sealed.bid_id)
    for attempt in (
        lambda: bids.finalize(
            personas.bidder_b, started.public_id, sealed.sealed.manifest_bytes, sealed.sealed.signature
        ),
        lambda: bids.upload_status(personas.bidder_b, started.public_id),
        lambda: bids.abort_upload(personas.bidder_b, started.public_id),
        lambda: bids.upload_part(personas.bidder_b, started.public_id, 2, io.BytesIO(b"x"), 1),
    ):
        with pytest.raises(NotFound):
            attempt()
    assert_nothing_accepted(started)


def test_only_bidders_may_upload(personas, published_tender):
    for user in (personas.tenderer, personas.regulator, personas.admin, personas.custodians[0]):
        with pytest.raises(PermissionDenied):
            bids.start_upload(user, published_tender, uuid.uuid4(), 1000)
    assert not BidUpload.objects.exists()


def test_a_bid_id_is_used_once(personas, published_tender, bidder_a_keys, tmp_path):
    bid_id = uuid.uuid4()
    bids.start_upload(personas.bidder_a, published_tender, bid_id, 1000)
    with pytest.raises(Conflict) as exc:
        bids.start_upload(personas.bidder_b, published_tender, bid_id, 1000)
    assert exc.value.code == "bid_id_used"


def test_the_bidder_envelope_must_go_to_a_key_of_the_bidders_own(personas, published_tender, bidder_a_keys, tmp_path):
    """Envelopes addressed to keys the bidder does not own are refused (the bidder could not release its key)."""
    stranger, _ = p256_public_der()
    register_own_key(personas.bidder_b, KeyPurpose.ENCRYPTION, stranger)
    bidder_a_keys.encryption = stranger
    sealed = seal(published_tender, bidder_a_keys, tmp_path)
    started, finalize = finalize_with(
        personas.bidder_a,
        published_tender,
        sealed.ciphertext,
        sealed.bid_id,
        sealed.sealed.manifest_bytes,
        sealed.sealed.signature,
    )
    with pytest.raises(BidRefused) as exc:
        finalize()
    assert exc.value.code == "bad_bidder_envelope"
    assert_nothing_accepted(started)


def test_a_manifest_signed_with_a_revoked_key_is_refused(personas, published_tender, bidder_a_keys, tmp_path):
    from accounts.models import PublicKey
    from accounts.services import revoke_public_key
    from tendering.sealing import fingerprint

    sealed = seal(published_tender, bidder_a_keys, tmp_path)
    started = upload(personas.bidder_a, published_tender, sealed.ciphertext, sealed.bid_id)
    key = PublicKey.objects.get(fingerprint=fingerprint(bidder_a_keys.signing.public_key()))
    revoke_public_key(personas.bidder_a, key)
    with pytest.raises(BidRefused) as exc:
        bids.finalize(personas.bidder_a, started.public_id, sealed.sealed.manifest_bytes, sealed.sealed.signature)
    assert exc.value.code == "revoked_key"
    assert_nothing_accepted(started)


def test_a_manifest_naming_another_bidder_is_refused(personas, published_tender, bidder_a_keys, tmp_path):
    sealed = seal(published_tender, bidder_a_keys, tmp_path)
    manifest, signature = resign(sealed, bidder_a_keys, bidder=personas.bidder_org_b.credit_code)
    started, finalize = finalize_with(
        personas.bidder_a, published_tender, sealed.ciphertext, sealed.bid_id, manifest, signature
    )
    with pytest.raises(BidRefused) as exc:
        finalize()
    assert exc.value.code == "wrong_bidder"
    assert_nothing_accepted(started)


def test_a_manifest_naming_another_bid_id_is_refused(personas, published_tender, bidder_a_keys, tmp_path):
    sealed = seal(published_tender, bidder_a_keys, tmp_path)
    other = seal(published_tender, bidder_a_keys, tmp_path)
    manifest, signature = resign(sealed, bidder_a_keys, bid=other.bid_id)
    started, finalize = finalize_with(
        personas.bidder_a, published_tender, sealed.ciphertext, sealed.bid_id, manifest, signature
    )
    with pytest.raises(BidRefused) as exc:
        finalize()
    assert exc.value.code == "wrong_bid"
    assert_nothing_accepted(started)


@pytest.mark.parametrize(
    "opening_after_deadline",
    [dt.timedelta(0), dt.timedelta(hours=1)],
    ids=["opening at the deadline", "opening an hour later"],
)
def test_finalize_one_microsecond_before_the_deadline_is_accepted_and_exactly_at_it_refused(
    personas, published_tender, bidder_a_keys, tmp_path, frozen_clock, opening_after_deadline
):
    """The deadline is the first instant that is too late: bids are taken while now < bid_deadline (§6 step 1)."""
    from tendering.models import Tender

    Tender.objects.filter(pk=published_tender.pk).update(
        opening_time=published_tender.bid_deadline + opening_after_deadline
    )
    published_tender.refresh_from_db()
    late = seal(published_tender, bidder_a_keys, tmp_path)
    late_upload = upload(personas.bidder_a, published_tender, late.ciphertext, late.bid_id)
    on_time = seal(published_tender, bidder_a_keys, tmp_path)
    on_time_upload = upload(personas.bidder_a, published_tender, on_time.ciphertext, on_time.bid_id)

    frozen_clock.set(published_tender.bid_deadline - dt.timedelta(microseconds=1))
    accepted = bids.finalize(
        personas.bidder_a, on_time_upload.public_id, on_time.sealed.manifest_bytes, on_time.sealed.signature
    )
    assert accepted.accepted_at == published_tender.bid_deadline - dt.timedelta(microseconds=1)

    frozen_clock.set(published_tender.bid_deadline)
    with pytest.raises(WrongPhase) as exc:
        bids.finalize(personas.bidder_a, late_upload.public_id, late.sealed.manifest_bytes, late.sealed.signature)
    assert exc.value.code == "deadline_passed"
    assert list(Bid.objects.values_list("public_id", flat=True)) == [uuid.UUID(on_time.bid_id)]
    assert LedgerEntry.objects.filter(action="tendering.bid.submitted").count() == 1
    late_upload.refresh_from_db()
    assert late_upload.state == BidUploadState.OPEN


def test_finalize_by_a_user_whose_bidder_role_was_withdrawn_after_the_upload_started_is_refused(
    personas, published_tender, bidder_a_keys, tmp_path
):
    from accounts.models import Role, RoleGrant, User

    sealed = seal(published_tender, bidder_a_keys, tmp_path)
    started = upload(personas.bidder_a, published_tender, sealed.ciphertext, sealed.bid_id)
    assert personas.bidder_a.has_role(Role.BIDDER)  # the roles this user object cached when the upload started
    RoleGrant.objects.filter(user=personas.bidder_a, role=Role.BIDDER).delete()

    # The same user object, its roles cached from before (a request that began before the withdrawal)...
    with pytest.raises(PermissionDenied):
        bids.finalize(personas.bidder_a, started.public_id, sealed.sealed.manifest_bytes, sealed.sealed.signature)
    assert_nothing_accepted(started)
    # ... and the user as the next request loads it.
    with pytest.raises(PermissionDenied):
        bids.finalize(
            User.objects.get(pk=personas.bidder_a.pk),
            started.public_id,
            sealed.sealed.manifest_bytes,
            sealed.sealed.signature,
        )
    assert_nothing_accepted(started)


# --- Several faults at once: the first failing check of §6, in its order, is the refusal ----------------------


def test_with_a_late_finalize_and_a_bad_signature_the_deadline_decides(
    personas, published_tender, bidder_a_keys, tmp_path, frozen_clock
):
    sealed = seal(published_tender, bidder_a_keys, tmp_path)
    other_signature = seal(published_tender, bidder_a_keys, tmp_path).sealed.signature
    started = upload(personas.bidder_a, published_tender, sealed.ciphertext, sealed.bid_id)
    frozen_clock.set(published_tender.bid_deadline)
    with pytest.raises(WrongPhase) as exc:
        bids.finalize(personas.bidder_a, started.public_id, sealed.sealed.manifest_bytes, other_signature)
    assert exc.value.code == "deadline_passed"
    assert_nothing_accepted(started)


def test_with_a_revoked_key_and_another_tender_named_the_key_decides(
    personas, published_tender, bidder_a_keys, tmp_path
):
    from accounts.models import PublicKey
    from accounts.services import revoke_public_key
    from tendering.sealing import fingerprint

    sealed = seal(published_tender, bidder_a_keys, tmp_path)
    manifest, signature = resign(sealed, bidder_a_keys, tender=str(uuid.uuid4()))
    started, finalize = finalize_with(
        personas.bidder_a, published_tender, sealed.ciphertext, sealed.bid_id, manifest, signature
    )
    revoke_public_key(
        personas.bidder_a, PublicKey.objects.get(fingerprint=fingerprint(bidder_a_keys.signing.public_key()))
    )
    with pytest.raises(BidRefused) as exc:
        finalize()
    assert exc.value.code == "revoked_key"
    assert_nothing_accepted(started)


def test_with_another_bid_id_named_and_a_tampered_ciphertext_the_identity_decides(
    personas, published_tender, bidder_a_keys, tmp_path
):
    sealed = seal(published_tender, bidder_a_keys, tmp_path)
    manifest, signature = resign(sealed, bidder_a_keys, bid=str(uuid.uuid4()))
    tampered = sealed.ciphertext[:100] + bytes([sealed.ciphertext[100] ^ 1]) + sealed.ciphertext[101:]
    started, finalize = finalize_with(personas.bidder_a, published_tender, tampered, sealed.bid_id, manifest, signature)
    with pytest.raises(BidRefused) as exc:
        finalize()
    assert exc.value.code == "wrong_bid"
    assert_nothing_accepted(started)


def test_with_a_tampered_ciphertext_and_a_bidder_envelope_to_a_stranger_the_ciphertext_decides(
    personas, published_tender, bidder_a_keys, tmp_path
):
    """Step 4 (the object) comes before step 5 (the envelopes)."""
    stranger, _der = p256_public_der()
    bidder_a_keys.encryption = stranger
    sealed = seal(published_tender, bidder_a_keys, tmp_path)
    tampered = sealed.ciphertext[:100] + bytes([sealed.ciphertext[100] ^ 1]) + sealed.ciphertext[101:]
    started, finalize = finalize_with(
        personas.bidder_a,
        published_tender,
        tampered,
        sealed.bid_id,
        sealed.sealed.manifest_bytes,
        sealed.sealed.signature,
    )
    with pytest.raises(BidRefused) as exc:
        finalize()
    assert exc.value.code == "hash_mismatch"
    assert_nothing_accepted(started)


def test_with_the_bidder_envelope_to_a_stranger_and_custodians_out_of_order_the_bidder_envelope_decides(
    personas, published_tender, bidder_a_keys, tmp_path
):
    """Within step 5, the bidder's own envelope is checked before the custodians' coverage."""
    stranger, _der = p256_public_der()
    bidder_a_keys.encryption = stranger
    sealed = seal(published_tender, bidder_a_keys, tmp_path)
    envelopes = parse_manifest(sealed.sealed.manifest_bytes).envelopes
    reordered = dataclasses.replace(
        envelopes,
        custodians=dataclasses.replace(
            envelopes.custodians, recipients=tuple(reversed(envelopes.custodians.recipients))
        ),
    )
    manifest, signature = resign(sealed, bidder_a_keys, envelopes=reordered)
    started, finalize = finalize_with(
        personas.bidder_a, published_tender, sealed.ciphertext, sealed.bid_id, manifest, signature
    )
    with pytest.raises(BidRefused) as exc:
        finalize()
    assert exc.value.code == "bad_bidder_envelope"
    assert_nothing_accepted(started)


def test_custodian_envelopes_out_of_the_published_order_are_refused(
    personas, published_tender, bidder_a_keys, tmp_path
):
    sealed = seal(published_tender, bidder_a_keys, tmp_path)
    envelopes = parse_manifest(sealed.sealed.manifest_bytes).envelopes
    reordered = dataclasses.replace(
        envelopes,
        custodians=dataclasses.replace(
            envelopes.custodians, recipients=tuple(reversed(envelopes.custodians.recipients))
        ),
    )
    manifest, signature = resign(sealed, bidder_a_keys, envelopes=reordered)
    started, finalize = finalize_with(
        personas.bidder_a, published_tender, sealed.ciphertext, sealed.bid_id, manifest, signature
    )
    with pytest.raises(BidRefused) as exc:
        finalize()
    assert exc.value.code == "bad_envelopes"
    assert_nothing_accepted(started)
