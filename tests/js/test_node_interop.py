"""The JavaScript sealing and the Python platform, without a browser: a bid sealed by the
JavaScript code (under Node, the same modules the browser bundles) opens in Python with the
custodians' keys and with the bidder's; a receipt issued by the platform passes the browser's
receipt check, and a changed one does not."""

from __future__ import annotations

import base64
import io
import json
import subprocess
import uuid

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding, load_der_private_key

from archive.signing import platform_signer
from tendering.sealing import (
    BidIdentity,
    file_key_from_parts,
    open_bid,
    open_bidder_envelope,
    open_custodian_parts,
    verify_manifest,
)
from tendering.services import bids
from tests.bids.conftest import keys_for, seal, submit
from tests.js.conftest import ROOT


def _custodian_spkis(tender):
    slots = tender.custodian_slots.select_related("public_key").order_by("position")
    return [base64.b64encode(bytes(slot.public_key.spki_der)).decode() for slot in slots]


def test_a_bid_sealed_by_the_javascript_code_opens_in_python(node, personas, published_tender, tmp_path):
    bid_id = str(uuid.uuid4())
    bidder = personas.bidder_org_a.credit_code
    files = {
        "bid/技术标/施工组织设计.txt": "第一章 总体部署\n".encode() * 90000,
        "bid/报价单.txt": "投标总报价：捌佰万元整\n".encode(),
    }
    job = {
        "tender": str(published_tender.public_id),
        "bid": bid_id,
        "bidder": bidder,
        "threshold": published_tender.custodian_threshold,
        "custodians": _custodian_spkis(published_tender),
        "lots": [{"lot": "1", "price_yuan": "8000000.00", "schedule_days": 240, "declared": {"项目经理": "李四"}}],
        "files": [{"path": path, "base64": base64.b64encode(data).decode()} for path, data in files.items()],
    }
    (tmp_path / "job.json").write_text(json.dumps(job), encoding="utf-8")
    out = tmp_path / "out"
    out.mkdir()
    subprocess.run(
        [node, "tests/js/seal-with-node.mjs", str(tmp_path / "job.json"), str(out)], cwd=ROOT, check=True, timeout=120
    )

    manifest_bytes = (out / "manifest").read_bytes()
    manifest = verify_manifest(manifest_bytes, (out / "signature").read_bytes(), (out / "signing.spki").read_bytes())
    identity = BidIdentity(job["tender"], bid_id, bidder)
    assert manifest.identity == identity
    ciphertext = (out / "ciphertext").read_bytes()
    assert len(ciphertext) == manifest.ciphertext_size > 1024 * 1024  # two segments at least

    # k of the custodians open it, as the opening will.
    custodians = manifest.envelopes.custodians
    parts = [p for key in personas.custodian_keys[:2] for p in open_custodian_parts(custodians, identity, key)]
    file_key = file_key_from_parts(custodians, parts, bytes.fromhex(manifest.kc))
    # The bidder's own key opens it too.
    bidder_key = load_der_private_key((out / "encryption.pkcs8").read_bytes(), password=None)
    assert open_bidder_envelope(manifest.envelopes.bidder, identity, bidder_key) == file_key  # type: ignore[arg-type]

    opened = open_bid(io.BytesIO(ciphertext), manifest, file_key, tmp_path / "opened")
    assert [f.path for f in opened.files] == sorted(files, key=lambda p: p.encode())
    for path, data in files.items():
        assert (tmp_path / "opened" / path).read_bytes() == data
    lot = opened.price_summary.lots[0]
    assert (lot.lot, lot.price_yuan, lot.schedule_days, dict(lot.declared)) == (
        "1",
        "8000000.00",
        240,
        {"项目经理": "李四"},
    )


def _verify_in_javascript(node, tmp_path, receipt: bytes, expected: dict, tsa=None) -> dict:
    (tmp_path / "receipt.json").write_bytes(receipt)
    anchors = "".join(
        certificate.public_bytes(Encoding.PEM).decode() for certificate in platform_signer().trust_anchors
    )
    (tmp_path / "ca.pem").write_text(anchors)
    (tmp_path / "expected.json").write_text(json.dumps(expected))
    result = subprocess.run(
        [
            node,
            "tests/js/verify-receipt.mjs",
            str(tmp_path / "receipt.json"),
            str(tmp_path / "ca.pem"),
            str(tmp_path / "expected.json"),
            *([str(tsa)] if tsa else []),
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return json.loads(result.stdout)


def test_the_browsers_receipt_check_accepts_the_platforms_receipts_and_refuses_changed_ones(
    node, personas, published_tender, tmp_path
):
    keys = keys_for(personas.bidder_a)
    sealed = seal(published_tender, keys, tmp_path)
    bid = submit(personas.bidder_a, published_tender, sealed)
    receipt = bytes(bid.receipt)
    expected = {
        "bid_id": sealed.bid_id,
        "tender_id": str(published_tender.public_id),
        "ciphertext_sha256": sealed.sealed.ciphertext_sha256,
        "size": len(sealed.ciphertext),
    }
    result = _verify_in_javascript(node, tmp_path, receipt, expected)
    assert result["ok"], result
    assert [c["check"] for c in result["checks"]] == [
        "format",
        "subject",
        "entry",
        "inclusion",
        "signature",
        "chain",
        "timestamp",
    ]
    assert result["seq"] == bid.ledger_seq

    # Another bid's hash: the subject is not this bid.
    other = _verify_in_javascript(node, tmp_path, receipt, {**expected, "ciphertext_sha256": "0" * 64})
    assert (other["ok"], other["failed"]) == (False, "subject")

    # A changed subject no longer matches the ledger entry; a re-signed one would need the platform's key.
    document = json.loads(receipt)
    document["subject"]["size"] += 1
    changed = _verify_in_javascript(node, tmp_path, json.dumps(document).encode(), {})
    assert (changed["ok"], changed["failed"]) == (False, "entry")

    # A changed root: the inclusion proof fails.
    document = json.loads(receipt)
    document["ledger"]["root"] = "1" * 64
    rooted = _verify_in_javascript(node, tmp_path, json.dumps(document).encode(), {})
    assert (rooted["ok"], rooted["failed"]) == (False, "inclusion")

    # A signature that is not the platform's.
    document = json.loads(receipt)
    document["signature"] = base64.b64encode(b"\x30\x06\x02\x01\x01\x02\x01\x01").decode()
    forged = _verify_in_javascript(node, tmp_path, json.dumps(document).encode(), {})
    assert (forged["ok"], forged["failed"]) == (False, "signature")

    # Withdrawn later or not, the receipt still states what was accepted then.
    bids.withdraw(personas.bidder_a, bid.public_id)
    assert _verify_in_javascript(node, tmp_path, receipt, expected)["ok"]


def test_the_browser_checks_the_time_stamp_authoritys_signature_and_certificate(
    node, personas, published_tender, tmp_path
):
    from asn1crypto import cms
    from cryptography.hazmat.primitives.asymmetric import ec

    from archive.timestamps import trusted_tsa_certificates
    from tests.js.test_custody_check import CA

    sealed = seal(published_tender, keys_for(personas.bidder_a), tmp_path)
    receipt = bytes(submit(personas.bidder_a, published_tender, sealed).receipt)
    tsa_anchors = "".join(c.public_bytes(Encoding.PEM).decode() for c in trusted_tsa_certificates())

    def verified(receipt_bytes: bytes, tsa_pem: str) -> dict:
        (tmp_path / "tsa.pem").write_text(tsa_pem)
        return _verify_in_javascript(node, tmp_path, receipt_bytes, {}, tsa=tmp_path / "tsa.pem")

    # Another authority's anchor: the token's signer does not chain to it.
    elsewhere = verified(receipt, CA("另一时间戳机构 CA").pem)
    assert (elsewhere["ok"], elsewhere["failed"]) == (False, "timestamp")
    assert "is not signed by a trusted certificate" in elsewhere["reason"]
    # The token's signature changed (as a forger without the TSA's key would have to).
    document = json.loads(receipt)
    token = cms.ContentInfo.load(base64.b64decode(document["timestamp"]))
    signer_info = token["content"]["signer_infos"][0]
    signer_info["signature"] = ec.generate_private_key(ec.SECP256R1()).sign(b"other", ec.ECDSA(hashes.SHA256()))
    document["timestamp"] = base64.b64encode(token.dump(force=True)).decode()
    forged = verified(json.dumps(document).encode(), tsa_anchors)
    assert (forged["ok"], forged["failed"]) == (False, "timestamp")
    assert "signature does not verify" in forged["reason"]

    good = verified(receipt, tsa_anchors)
    assert good["ok"], good
    check = good["checks"][-1]
    assert check["check"] == "timestamp" and check["detail"].startswith(good["timestampTime"] + " · ")
