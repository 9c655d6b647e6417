"""Receipts: signed by the platform, time-stamped, carrying the entry and its inclusion proof.

Refusals first: each kind of damage is refused by the verifier with a reason
naming what failed. Then what a good receipt is, byte for byte.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID

from archive import ledger, merkle, signing, timestamps
from archive.canonical import canonical_json
from archive.ledger import LedgerError
from archive.models import LedgerEntry
from archive.receipts import RECEIPT_FORMAT, issue_receipt, receipt_signed_bytes, verify_receipt
from archive.timestamps import DevelopmentTimeStamper
from config import clock
from tests.ledger.attacker import attacker_sql
from tests.receipts import pki
from tests.receipts.conftest import SUBJECT, SUBMISSION, dump, load, resign

pytestmark = pytest.mark.django_db


def refused(receipt: bytes, ca_pem: bytes, **kwargs: Any) -> str:
    result = verify_receipt(receipt, ca_pem, **kwargs)
    assert not result.ok
    assert result.time is None
    return result.reason


def with_entry(receipt: dict[str, Any], entry: dict[str, Any]) -> dict[str, Any]:
    return {
        **receipt,
        "ledger": {**receipt["ledger"], "entry_bytes_b64": base64.b64encode(canonical_json(entry)).decode()},
    }


def entry_of(receipt: dict[str, Any]) -> dict[str, Any]:
    return json.loads(base64.b64decode(receipt["ledger"]["entry_bytes_b64"]))


# --- Refusals -------------------------------------------------------------------------


def test_a_changed_subject_is_refused_naming_the_subject(receipt: bytes, ca_pem: bytes) -> None:
    changed = load(receipt)
    changed["subject"]["ciphertext_sha256"] = "00" * 32

    assert refused(dump(changed), ca_pem) == "the subject's 'ciphertext_sha256' differs from the ledger entry's data"


def test_a_subject_the_entry_does_not_hold_is_refused_even_when_signed_by_the_platform(
    receipt: bytes, ca_pem: bytes
) -> None:
    changed = load(receipt)
    changed["subject"]["price"] = "1.00"

    assert refused(resign(changed), ca_pem) == "the subject's 'price' is not in the ledger entry's data"


def test_changed_entry_bytes_are_refused_naming_the_entry(receipt: bytes, ca_pem: bytes) -> None:
    original = load(receipt)
    entry = entry_of(original)
    entry["data"]["ciphertext_size"] = 1

    assert refused(dump(with_entry(original, entry)), ca_pem) == (
        "the ledger entry's bytes do not hash to entry_hash (the entry was changed)"
    )


def test_entry_bytes_out_of_canonical_form_are_refused(receipt: bytes, ca_pem: bytes) -> None:
    original = load(receipt)
    spaced = json.dumps(entry_of(original), indent=1).encode()
    changed = {**original, "ledger": {**original["ledger"], "entry_bytes_b64": base64.b64encode(spaced).decode()}}

    assert refused(dump(changed), ca_pem) == (
        "the ledger entry's bytes are not in canonical form (RFC 8785): they were changed"
    )


def test_entry_bytes_of_another_entry_are_refused_even_with_their_own_hashes(receipt: bytes, ca_pem: bytes) -> None:
    other = LedgerEntry.objects.get(seq=2)
    content = ledger.entry_bytes(other)
    original = load(receipt)
    changed = {
        **original,
        "subject": {"question_id": 1},
        "ledger": {
            **original["ledger"],
            "entry_bytes_b64": base64.b64encode(content).decode(),
            "entry_hash": other.entry_hash,
            "leaf_hash": other.leaf_hash,
        },
    }

    assert refused(dump(changed), ca_pem) == "the ledger entry is entry 2, but the receipt names entry 3"


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda p: [p[0][:-1] + ("0" if p[0][-1] != "0" else "1"), *p[1:]], id="an element changed"),
        pytest.param(lambda p: p[1:], id="an element removed"),
        pytest.param(lambda p: [*p, "ab" * 32], id="an element added"),
        pytest.param(lambda p: list(reversed(p)), id="elements swapped"),
    ],
)
def test_a_wrong_inclusion_proof_is_refused(receipt: bytes, ca_pem: bytes, damage: Any) -> None:
    changed = load(receipt)
    assert len(changed["ledger"]["inclusion_proof"]) == 3  # entry 3 of 6
    changed["ledger"]["inclusion_proof"] = damage(changed["ledger"]["inclusion_proof"])

    assert refused(dump(changed), ca_pem) == (
        "the inclusion proof does not lead from entry 3 to the root of the tree of 6 entries"
    )


def test_a_changed_root_is_refused_at_the_inclusion_proof(receipt: bytes, ca_pem: bytes) -> None:
    changed = load(receipt)
    changed["ledger"]["root"] = hashlib.sha256(b"another ledger").hexdigest()

    assert refused(dump(changed), ca_pem).startswith("the inclusion proof does not lead from entry 3")


def test_a_signature_by_another_key_is_refused(receipt: bytes, ca_pem: bytes) -> None:
    changed = load(receipt)
    another = ec.generate_private_key(ec.SECP256R1())
    signature = another.sign(receipt_signed_bytes(changed), ec.ECDSA(hashes.SHA256()))
    changed["signature"] = base64.b64encode(signature).decode()

    assert refused(dump(changed), ca_pem) == (
        "the platform signature does not verify (the receipt was changed after signing, or another key signed it)"
    )


def test_a_receipt_changed_consistently_and_left_with_the_old_signature_is_refused(
    receipt: bytes, ca_pem: bytes
) -> None:
    """Subject, entry, hashes and proof all rewritten together: only the signature can tell."""
    changed = load(receipt)
    changed["issued_at"] = "2026-01-01T00:00:00.000000Z"

    assert refused(dump(changed), ca_pem).startswith("the platform signature does not verify")


def test_a_certificate_not_from_the_trusted_ca_is_refused(receipt: bytes, ca_pem: bytes) -> None:
    impostor_ca_key, impostor_ca = pki.make_ca("eTender Development Root CA")  # the same name, another key
    key, certificate = pki.issue(impostor_ca_key, impostor_ca, "eTender Platform (development)")

    reason = refused(resign(load(receipt), key, [certificate, impostor_ca]), ca_pem)
    assert reason == "the platform certificate is not issued by a trusted CA (CN=eTender Platform (development))"


def test_a_genuine_receipt_is_refused_against_another_ca(receipt: bytes) -> None:
    _key, other_ca = pki.make_ca("Some other CA")

    assert refused(receipt, pki.pem(other_ca)).startswith("the platform certificate is not issued by a trusted CA")


def test_a_timestamp_over_other_bytes_is_refused(receipt: bytes, ca_pem: bytes) -> None:
    changed = load(receipt)
    changed["timestamp"] = base64.b64encode(timestamps.timestamp(b"other bytes")).decode()

    assert refused(dump(changed), ca_pem) == (
        "the receipt's time-stamp does not hold: the time-stamp is over other data (its message imprint does not match)"
    )


def test_a_timestamp_over_the_signed_body_instead_of_the_signature_is_refused(receipt: bytes, ca_pem: bytes) -> None:
    changed = load(receipt)
    changed["timestamp"] = base64.b64encode(timestamps.timestamp(receipt_signed_bytes(changed))).decode()

    assert "the time-stamp is over other data" in refused(dump(changed), ca_pem)


def test_a_timestamp_from_an_untrusted_authority_is_refused(receipt: bytes, ca_pem: bytes) -> None:
    changed = load(receipt)
    key, certificate, _ca = pki.make_tsa("Rogue TSA")
    stamper = DevelopmentTimeStamper(key, certificate, now=clock.now)
    signature = base64.b64decode(changed["signature"])
    changed["timestamp"] = base64.b64encode(
        stamper.timestamp_digest(hashlib.sha256(signature).digest()).dump()
    ).decode()

    assert refused(dump(changed), ca_pem) == (
        "the receipt's time-stamp does not hold: "
        "the time-stamp authority's certificate is not issued by a trusted CA (CN=Rogue TSA)"
    )


def test_a_timestamp_signed_with_a_certificate_not_for_time_stamping_is_refused(receipt: bytes, ca_pem: bytes) -> None:
    """The platform's own document-signing certificate, from the trusted CA, may not act as a TSA."""
    changed = load(receipt)
    signer = signing.platform_signer()
    stamper = DevelopmentTimeStamper(signer.private_key, signer.certificate, now=clock.now)
    signature = base64.b64decode(changed["signature"])
    changed["timestamp"] = base64.b64encode(
        stamper.timestamp_digest(hashlib.sha256(signature).digest()).dump()
    ).decode()

    assert "is not a time-stamping certificate" in refused(dump(changed), ca_pem)


def test_a_damaged_timestamp_token_is_refused(receipt: bytes, ca_pem: bytes) -> None:
    changed = load(receipt)
    token = bytearray(base64.b64decode(changed["timestamp"]))
    token[len(token) // 2] ^= 0x01
    changed["timestamp"] = base64.b64encode(bytes(token)).decode()

    assert refused(dump(changed), ca_pem).startswith("the receipt's time-stamp does not hold: ")


@pytest.mark.parametrize("keep", [0.5, 0.99])
def test_a_truncated_receipt_is_refused(receipt: bytes, ca_pem: bytes, keep: float) -> None:
    reason = refused(receipt[: int(len(receipt) * keep)], ca_pem)
    assert reason.startswith("the receipt is cut short: it ends before its JSON does")


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00", "the receipt is not UTF-8 text"),
        (b"receipt: OK", "the receipt is not JSON (Expecting value at line 1 column 1)"),
        (b"", "the receipt is not JSON (Expecting value at line 1 column 1)"),
        (b'["etender-receipt-v1"]', "the receipt is not a JSON object"),
        (b'{"format": "etender-receipt-v1"}', "the receipt has no 'subject', 'ledger', 'issued_at',"),
        (b'{"a": 1, "a": 2}', "the receipt is not JSON the platform writes (the key 'a' appears twice)"),
        (b'{"a": 1.5}', "the receipt is not JSON the platform writes (the number 1.5 is not an integer)"),
    ],
)
def test_input_that_is_not_a_receipt_is_refused(ca_pem: bytes, data: bytes, reason: str) -> None:
    assert refused(data, ca_pem).startswith(reason)


def test_a_receipt_with_a_field_v1_does_not_define_is_refused(receipt: bytes, ca_pem: bytes) -> None:
    assert refused(dump({**load(receipt), "note": "trust me"}), ca_pem) == (
        "the receipt has fields etender-receipt-v1 does not define: note"
    )


def test_a_ca_file_without_a_certificate_is_refused(receipt: bytes) -> None:
    assert refused(receipt, b"not a certificate") == "the trusted CA file holds no PEM certificate"


def test_the_platform_refuses_to_receipt_what_the_entry_does_not_say(submitted: LedgerEntry) -> None:
    with pytest.raises(ValueError, match="needs a subject"):
        issue_receipt(submitted, {})
    with pytest.raises(ValueError, match="the subject's 'bid_id' differs from the ledger entry's data"):
        issue_receipt(submitted, {"bid_id": 8})
    with pytest.raises(ValueError, match="the subject's 'price' is not in the ledger entry's data"):
        issue_receipt(submitted, {"price": "1.00"})
    with pytest.raises(TypeError, match=r"\$\.bid_id: float"):
        issue_receipt(submitted, {"bid_id": 7.0})


def test_the_platform_refuses_to_sign_when_its_certificate_is_not_valid_at_the_clocks_time(
    submitted: LedgerEntry, frozen_clock: clock.FrozenClock
) -> None:
    from django.core.exceptions import ImproperlyConfigured

    signing.platform_signer()  # made now, valid for two years
    frozen_clock.advance(days=3 * 365)
    with pytest.raises(ImproperlyConfigured, match="a receipt signed now would not verify"):
        issue_receipt(submitted, SUBJECT)


# --- A good receipt --------------------------------------------------------------------


def test_a_receipt_verifies_and_names_its_subject_entry_and_time(receipt: bytes, ca_pem: bytes) -> None:
    result = verify_receipt(receipt, ca_pem)

    assert result.ok, result.reason
    assert result.reason == ""
    assert result.subject == SUBJECT
    assert (result.seq, result.tree_size) == (3, 6)
    assert result.time == dt.datetime(2026, 3, 2, 1, 5, tzinfo=dt.UTC)
    assert result.entry is not None
    assert (result.entry["action"], result.entry["case"], result.entry["data"]) == (
        "tendering.bid.submitted",
        "tender:42",
        SUBMISSION,
    )


def test_the_timestamp_time_is_the_platform_clocks_time(
    submitted: LedgerEntry, ca_pem: bytes, frozen_clock: clock.FrozenClock
) -> None:
    moment = frozen_clock.advance(days=2, seconds=7, microseconds=250_001)
    receipt = issue_receipt(submitted, SUBJECT)

    assert verify_receipt(receipt, ca_pem).time == moment == dt.datetime(2026, 3, 4, 1, 5, 7, 250_001, tzinfo=dt.UTC)
    assert load(receipt)["issued_at"] == "2026-03-04T01:05:07.250001Z"


def test_the_receipt_is_canonical_json_of_the_documented_fields(receipt: bytes, submitted: LedgerEntry) -> None:
    document = load(receipt)
    signer = signing.platform_signer()

    assert canonical_json(document) == receipt
    assert list(document) == sorted(document)  # JCS orders the keys
    assert document["format"] == RECEIPT_FORMAT == "etender-receipt-v1"
    assert document["subject"] == SUBJECT
    assert document["issued_at"] == "2026-03-02T01:05:00.000000Z"
    proof = ledger.inclusion_proof_for(3)
    assert document["ledger"] == {
        "seq": 3,
        "entry_hash": submitted.entry_hash,
        "leaf_hash": submitted.leaf_hash,
        "entry_bytes_b64": base64.b64encode(ledger.entry_bytes(submitted)).decode(),
        "tree_size": 6,
        "root": ledger.verify_ledger().root,
        "inclusion_proof": proof["proof"],
    }
    assert document["platform_certificate_chain"] == [
        c.public_bytes(serialization.Encoding.PEM).decode() for c in signer.chain
    ]

    # The signed bytes: the JCS of the receipt without "signature" and "timestamp".
    unsigned = {k: v for k, v in document.items() if k not in ("signature", "timestamp")}
    signed = canonical_json(unsigned)
    assert signed == receipt_signed_bytes(document)
    signature = base64.b64decode(document["signature"])
    assert signing.verify_with_certificate(signer.certificate_pem(), signed, signature)
    # The time-stamp: over SHA-256 of the DER signature.
    token = base64.b64decode(document["timestamp"])
    assert timestamps.verify_timestamp(token, signature, timestamps.trusted_tsa_certificates())


def test_the_entry_bytes_lead_to_the_root_the_ledger_has(receipt: bytes) -> None:
    document = load(receipt)
    content = base64.b64decode(document["ledger"]["entry_bytes_b64"])

    assert merkle.verify_inclusion(
        merkle.leaf_hash(content),
        2,
        6,
        [bytes.fromhex(h) for h in document["ledger"]["inclusion_proof"]],
        bytes.fromhex(ledger.verify_ledger().root),
    )


def test_a_receipt_issued_after_more_appends_names_the_larger_tree(submitted: LedgerEntry, ca_pem: bytes) -> None:
    ledger.record("tender:44", "tendering.tender.published", {"title": "道路"}, None)
    result = verify_receipt(issue_receipt(submitted, SUBJECT), ca_pem)

    assert result.ok, result.reason
    assert (result.seq, result.tree_size) == (3, 7)


def test_a_receipt_from_a_configured_platform_key_with_an_intermediate_ca_verifies(
    submitted: LedgerEntry, settings: Any, tmp_path: Any
) -> None:
    """Production: root CA → intermediate CA → platform certificate, the chain carried in the receipt."""
    root_key, root = pki.make_ca("Province Root CA")
    intermediate_key, intermediate = pki.issue(root_key, root, "County Issuing CA")
    # make the intermediate a CA: issue again with basicConstraints cA
    from cryptography import x509

    intermediate = (
        x509.CertificateBuilder()
        .subject_name(intermediate.subject)
        .issuer_name(root.subject)
        .public_key(intermediate_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(pki.START)
        .not_valid_after(pki.START + dt.timedelta(days=3000))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(root_key, hashes.SHA256())
    )
    key, certificate = pki.issue(
        intermediate_key, intermediate, "eTender Platform", usages=[ExtendedKeyUsageOID.CODE_SIGNING], critical=False
    )
    (tmp_path / "key.pem").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    (tmp_path / "chain.pem").write_bytes(pki.pem(certificate, intermediate))
    (tmp_path / "root.pem").write_bytes(pki.pem(root))
    settings.PLATFORM_SIGNING_KEY_FILE = str(tmp_path / "key.pem")
    settings.PLATFORM_CERTIFICATE_FILE = str(tmp_path / "chain.pem")
    settings.PLATFORM_CA_CERTIFICATE_FILE = str(tmp_path / "root.pem")

    receipt = issue_receipt(submitted, SUBJECT)
    tsa_ca = timestamps.trusted_tsa_certificates()[0].public_bytes(serialization.Encoding.PEM)

    assert len(load(receipt)["platform_certificate_chain"]) == 3
    assert verify_receipt(receipt, pki.pem(root), tsa_trusted_pem=tsa_ca).ok
    # without the TSA's CA the time-stamp is not trusted
    assert "the time-stamp authority's certificate is not issued by a trusted CA" in refused(receipt, pki.pem(root))


# --- A tampered entry is never receipted ------------------------------------------------


def test_the_platform_refuses_to_receipt_an_entry_whose_data_was_changed_in_the_database(
    submitted: LedgerEntry,
) -> None:
    forged = canonical_json({**SUBMISSION, "ciphertext_sha256": "00" * 32}).decode()
    with attacker_sql() as cursor:
        cursor.execute("UPDATE archive_ledgerentry SET data = %s WHERE seq = %s", [forged, submitted.seq])
    stored = LedgerEntry.objects.get(seq=submitted.seq)

    with pytest.raises(LedgerError, match=f"entry {submitted.seq} no longer matches its hashes"):
        issue_receipt(stored, {"bid_id": 7, "ciphertext_sha256": "00" * 32})
    # Not even with the in-memory entry the caller still holds from before the change.
    with pytest.raises(LedgerError, match=f"entry {submitted.seq} no longer matches its hashes"):
        issue_receipt(submitted, SUBJECT)
    assert LedgerEntry.objects.get(seq=submitted.seq).data == forged


def test_the_platform_refuses_to_receipt_an_entry_rewritten_with_its_hashes(submitted: LedgerEntry) -> None:
    forged = LedgerEntry.objects.get(seq=submitted.seq)
    forged.data = canonical_json({**SUBMISSION, "ciphertext_sha256": "00" * 32}).decode()
    content = ledger.entry_bytes(forged)
    with attacker_sql() as cursor:
        cursor.execute(
            "UPDATE archive_ledgerentry SET data = %s, entry_hash = %s, leaf_hash = %s WHERE seq = %s",
            [forged.data, hashlib.sha256(content).hexdigest(), merkle.leaf_hash(content).hex(), submitted.seq],
        )

    with pytest.raises(LedgerError, match=f"entry {submitted.seq} is not linked into the hash chain"):
        issue_receipt(LedgerEntry.objects.get(seq=submitted.seq), {"bid_id": 7, "ciphertext_sha256": "00" * 32})
