"""The bidder's check of custodians' confirmations, offline: real keys, real certificates, a trust list of its own."""

from __future__ import annotations

import base64
import datetime as dt
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from tendering.client.custody import check_custody
from tendering.client.transport import ClientError
from tendering.client.trust import TrustList, certificate_fingerprint
from tests.client.fakes import (
    FakeCustodian,
    FakeCustodyPlatform,
    b64,
    fingerprint_of,
    issue_certificate,
    make_ca,
)

NOW = dt.datetime.now(dt.UTC)


def three_custodians(ca: tuple[ec.EllipticCurvePrivateKey, object] | None = None) -> FakeCustodyPlatform:
    custodians = [
        FakeCustodian("zhonghua", "钟华"),
        FakeCustodian("huangfang", "黄芳"),
        FakeCustodian("liuyang", "刘洋"),
    ]
    if ca is not None:
        for c in custodians:
            c.certificate = issue_certificate(ca, c.signing.public_key(), c.username, c.name)  # type: ignore[arg-type]
    return FakeCustodyPlatform(custodians, threshold=2)


def confirmed(platform: FakeCustodyPlatform) -> FakeCustodyPlatform:
    for index in range(len(platform.custodians)):
        platform.confirm(index)
    return platform


def trusting(tmp_path: Path, *cas: object) -> TrustList:
    trust = TrustList(tmp_path)
    for ca in cas:
        trust.add_ca(ca)  # type: ignore[arg-type]
    return trust


def checked(platform: FakeCustodyPlatform, trust: TrustList, threshold: int | None = None):  # type: ignore[no-untyped-def]
    return check_custody(platform.custody(), platform.tender, threshold or platform.threshold, trust, now=NOW)


# --- refusals first ----------------------------------------------------------------------------------------


def test_a_custodian_key_changed_after_the_confirmations_names_that_custodian(tmp_path: Path) -> None:
    centre = make_ca()
    platform = confirmed(three_custodians(centre))
    # The operator puts a key of its own in custodian 2's place (in the database: the platform serves it).
    platform.custodians[1].served_encryption = ec.generate_private_key(ec.SECP256R1()).public_key()
    check = checked(platform, trusting(tmp_path, centre[1]))
    assert not check.ok and list(check.problems) == [1]
    [problem] = check.problems[1]
    genuine = fingerprint_of(platform.custodians[1].encryption.public_key())
    assert f"is not the key {genuine} confirmed by custodian(s) 1, 2, 3" in problem
    assert check.lines() == [f"custodian 2 (黄芳, user huangfang; index 1): {problem}"]


def test_a_confirmation_signed_by_a_key_the_operator_had_certified_by_its_own_ca_is_not_trusted(tmp_path: Path) -> None:
    centre, platform_ca = make_ca(), make_ca("eTender 平台 CA")
    platform = confirmed(three_custodians(centre))
    # The operator registers a new encryption and signing key for 黄芳 (it has her password), certifies the
    # signing key with a CA it controls, points her slot at the new key and confirms in her name.
    forged = platform.custodians[1]
    forged.served_encryption = ec.generate_private_key(ec.SECP256R1()).public_key()
    forged.signing = ec.generate_private_key(ec.SECP256R1())
    forged.certificate = issue_certificate(platform_ca, forged.signing.public_key(), "huangfang", "黄芳")
    platform.confirm(1)
    check = checked(platform, trusting(tmp_path, centre[1]))
    assert sorted(check.problems) == [1]
    untrusted, changed = check.problems[1]
    assert "the signing key is not trusted" in untrusted and "not issued by a trusted CA" in untrusted
    assert "confirmed by custodian(s) 1, 3" in changed


def test_an_unconfirmed_custodian_is_named(tmp_path: Path) -> None:
    centre = make_ca()
    platform = three_custodians(centre)
    platform.confirm(0)
    platform.confirm(2)
    check = checked(platform, trusting(tmp_path, centre[1]))
    assert check.problems == {1: ["has not confirmed its custody of this tender"]}


@pytest.mark.parametrize(
    ("make_certificate", "reason"),
    [
        (
            lambda ca, c: issue_certificate(
                ca, c.signing.public_key(), c.username, c.name, valid_from=dt.timedelta(days=-400)
            ),
            "certificate_not_valid_now",
        ),
        (
            lambda ca, c: issue_certificate(ca, c.signing.public_key(), "somebody_else", c.name),
            "certificate_wrong_subject",
        ),
        (
            lambda ca, c: issue_certificate(
                ca, ec.generate_private_key(ec.SECP256R1()).public_key(), c.username, c.name
            ),
            "certificate_key_mismatch",
        ),
        (
            lambda ca, c: issue_certificate(make_ca(), c.signing.public_key(), c.username, c.name),
            "certificate_untrusted",
        ),
    ],
    ids=["expired", "another user name", "another key", "another CA"],
)
def test_a_certificate_that_does_not_vouch_for_the_custodian_is_refused(
    tmp_path: Path, make_certificate: object, reason: str
) -> None:
    centre = make_ca()
    platform = three_custodians(centre)
    custodian = platform.custodians[2]
    custodian.certificate = make_certificate(centre, custodian)  # type: ignore[operator]
    confirmed(platform)
    check = checked(platform, trusting(tmp_path, centre[1]))
    assert list(check.problems) == [2]
    assert f"({reason})" in check.problems[2][0] and "the signing key is not trusted" in check.problems[2][0]


def test_a_ca_of_the_trust_list_that_expired_vouches_for_nothing(tmp_path: Path) -> None:
    centre = make_ca(days=365)
    platform = confirmed(three_custodians(centre))
    trust = trusting(tmp_path, centre[1])
    later = NOW + dt.timedelta(days=366)
    check = check_custody(platform.custody(), platform.tender, 2, trust, now=later)
    # The custodians' certificates expire first (they too were issued for a year).
    assert sorted(check.problems) == [0, 1, 2]


def test_a_pin_for_another_key_of_that_custodian_does_not_trust_the_served_key(tmp_path: Path) -> None:
    platform = confirmed(three_custodians())
    trust = TrustList(tmp_path)
    for c in platform.custodians:
        trust.pin(c.username, fingerprint_of(c.signing.public_key()))
    trust.pins["liuyang"] = [fingerprint_of(ec.generate_private_key(ec.SECP256R1()).public_key())]
    check = checked(platform, trust)
    assert list(check.problems) == [2]
    assert (
        "is not the one pinned for liuyang" in check.problems[2][0] and "it has no certificate" in check.problems[2][0]
    )


def test_a_signature_not_in_strict_der_or_over_other_bytes_is_refused(tmp_path: Path) -> None:
    centre = make_ca()
    platform = confirmed(three_custodians(centre))
    first = platform.custodians[0].confirmation
    signature = base64.b64decode(first["signature"])  # type: ignore[index]
    r, s = decode_dss_signature(signature)
    # The same r and s with a needless leading zero in r: BER, not the one DER encoding.
    r_bytes = b"\x00" + r.to_bytes(33, "big").lstrip(b"\x00").rjust(33, b"\x00")
    s_bytes = s.to_bytes(33, "big").lstrip(b"\x00")
    if s_bytes[0] & 0x80:
        s_bytes = b"\x00" + s_bytes
    body = b"\x02" + bytes([len(r_bytes)]) + r_bytes + b"\x02" + bytes([len(s_bytes)]) + s_bytes
    first["signature"] = b64(b"\x30" + bytes([len(body)]) + body)  # type: ignore[index]
    second = platform.custodians[1]
    second.confirmation["signature"] = b64(second.signing.sign(b"something else", ec.ECDSA(hashes.SHA256())))  # type: ignore[index]
    check = checked(platform, trusting(tmp_path, centre[1]))
    assert sorted(check.problems) == [0, 1]
    assert "the signature is not a DER-encoded ECDSA signature" in check.problems[0][0]
    assert check.problems[1] == [
        "its confirmation's signature is invalid: the signature does not verify with the signing key"
    ]


def test_a_confirmation_of_another_threshold_or_tender_is_refused(tmp_path: Path) -> None:
    centre = make_ca()
    platform = confirmed(three_custodians(centre))
    check = checked(platform, trusting(tmp_path, centre[1]), threshold=3)
    assert check.general == ["the platform's custody gives k = 2, its tender k = 3"]
    assert all("threshold is 2, expected 3" in check.problems[i][0] for i in range(3))
    with pytest.raises(ClientError, match="not of"):
        check_custody(
            platform.custody(), "00000000-0000-4000-8000-000000000000", 2, trusting(tmp_path, centre[1]), now=NOW
        )


def test_served_recipients_that_are_not_the_served_keys_are_refused(tmp_path: Path) -> None:
    centre = make_ca()
    platform = confirmed(three_custodians(centre))
    custody = platform.custody()
    custody["recipients"] = list(reversed(custody["recipients"]))
    check = check_custody(custody, platform.tender, 2, trusting(tmp_path, centre[1]), now=NOW)
    assert check.general == [
        "the custody's list of recipients is not the fingerprints of the encryption keys it serves"
    ]


def test_a_served_key_that_is_not_a_p256_key_is_refused(tmp_path: Path) -> None:
    platform = confirmed(three_custodians())
    custody = platform.custody()
    custody["custodians"][0]["encryption_key"]["spki"] = b64(b"not a key")
    with pytest.raises(ClientError, match="custodian 0's encryption key is unusable"):
        check_custody(custody, platform.tender, 2, TrustList(tmp_path), now=NOW)


# --- what works --------------------------------------------------------------------------------------------------


def test_confirmations_certified_by_a_trusted_ca_or_pinned_pass(tmp_path: Path) -> None:
    centre = make_ca()
    platform = confirmed(three_custodians(centre))
    platform.custodians[2].certificate = None
    platform.confirm(2)  # 刘洋 has no certificate: the bidder pinned her key by hand
    trust = trusting(tmp_path, centre[1])
    trust.pin("liuyang", fingerprint_of(platform.custodians[2].signing.public_key()))
    check = checked(platform, trust)
    assert check.ok and check.lines() == []
    assert check.trusted_by == {
        0: "certificate of a trusted CA",
        1: "certificate of a trusted CA",
        2: "pinned fingerprint",
    }
    assert [s.fingerprint for s in check.slots] == platform.recipients()


def test_the_trust_list_is_kept_in_the_clients_folder(tmp_path: Path) -> None:
    centre = make_ca()
    trust = trusting(tmp_path, centre[1])
    assert not trust.add_ca(centre[1])  # once
    trust.pin("zhonghua", "AB" * 32)
    trust.save()
    again = TrustList.load(tmp_path)
    assert again.cas == [centre[1]] and again.pins == {"zhonghua": ["ab" * 32]}
    stored = json.loads((tmp_path / "custody-trust.json").read_text())
    assert stored["format"] == "etender-trust-v1" and len(stored["cas"]) == 1
    again.remove_ca(certificate_fingerprint(centre[1]))
    again.unpin("zhonghua")
    assert again.empty


def test_the_trust_list_refuses_what_is_not_a_ca_or_is_the_platforms_own(tmp_path: Path) -> None:
    trust = TrustList(tmp_path)
    _, leaf = make_ca("not a CA", ca=False)
    with pytest.raises(ClientError, match="is not a CA certificate"):
        trust.add_ca(leaf)
    _, platform_anchor = make_ca("eTender 平台 CA")
    with pytest.raises(ClientError, match="one of the platform's own certificates"):
        trust.add_ca(platform_anchor, refused=[platform_anchor])
    with pytest.raises(ClientError, match="64 hex digits"):
        trust.pin("zhonghua", "abc")
    assert trust.empty
