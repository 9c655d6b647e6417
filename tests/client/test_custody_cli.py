"""`etender trust`, the custody check before `seal`, `custodian confirm`, `keys csr|certify` and key proofs, offline.

An in-memory platform (tests/client/fakes.py) serves a tender with three
custodians whose keys and certificates are made here; the client runs through
``main`` with a folder of its own.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
import rfc8785
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tendering.client import cli
from tendering.client import keys as keystore
from tendering.client.commands import base as commands_base
from tendering.client.custody import answer_key_proof, key_proof_info
from tendering.client.transport import ClientError
from tendering.client.trust import TrustList
from tendering.sealing import parse_manifest
from tendering.sealing.envelopes import SUITE
from tests.client.fakes import (
    FakeCustodian,
    FakeCustodyPlatform,
    custody_statement_bytes,
    fingerprint_of,
    issue_certificate,
    make_ca,
    pem,
)

PASSPHRASE = "保管 passphrase 2026"


@pytest.fixture(autouse=True)
def client_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for name in ("ETENDER_URL", "ETENDER_TOKEN", "ETENDER_PASSPHRASE", "ETENDER_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ETENDER_URL", FakeCustodyPlatform.base_url)
    monkeypatch.setenv("ETENDER_TOKEN", "etk_test")
    monkeypatch.setenv("ETENDER_PASSPHRASE", PASSPHRASE)
    home = tmp_path / "home"
    monkeypatch.setenv("ETENDER_HOME", str(home))
    return home


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        status = cli.main(list(argv))
    except SystemExit as exc:
        status = int(exc.code or 0)
    out, err = capsys.readouterr()
    return status, out, err


def serve(monkeypatch: pytest.MonkeyPatch, platform: FakeCustodyPlatform) -> FakeCustodyPlatform:
    monkeypatch.setattr(commands_base, "HttpTransport", lambda url, token=None, **kwargs: platform)
    return platform


CENTRE = make_ca()  # the trading centre's CA: its key is nobody's on the platform


def tender_with_custodians() -> FakeCustodyPlatform:
    custodians = [
        FakeCustodian("zhonghua", "钟华"),
        FakeCustodian("huang_fang", "黄芳"),
        FakeCustodian("liuyang", "刘洋"),
    ]
    for c in custodians:
        c.certificate = issue_certificate(CENTRE, c.signing.public_key(), c.username, c.name)
    platform = FakeCustodyPlatform(custodians, threshold=2)
    for index in range(3):
        platform.confirm(index)
    return platform


def bidder_ready(home: Path, platform: FakeCustodyPlatform, tmp_path: Path) -> Path:
    """Local keys registered on the fake platform, and a bid folder."""
    for purpose in ("signing", "encryption"):
        key = keystore.generate_key(home, purpose, keystore.DEFAULT_NAME, PASSPHRASE.encode())
        platform.register(purpose, key.public_key())
    folder = tmp_path / "投标文件"
    folder.mkdir()
    (folder / "报价.txt").write_text("见开标一览表。\n", encoding="utf-8")
    return folder


def trust_centre(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    ca_file = tmp_path / "centre-ca.pem"
    ca_file.write_text(pem(CENTRE[1]))
    status, out, _ = run(capsys, "trust", "add-ca", str(ca_file))
    assert status == 0 and "CA added: CN=江西省数字证书 CA" in out


def sealed_files(tmp_path: Path) -> list[Path]:
    return sorted(tmp_path.glob("*.etb*")) + sorted(tmp_path.glob(".*.partial"))


# --- refusals first ------------------------------------------------------------------------------------------


def test_sealing_without_any_trust_is_refused_with_how_to_add_it(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, client_env: Path, tmp_path: Path
) -> None:
    platform = serve(monkeypatch, tender_with_custodians())
    folder = bidder_ready(client_env, platform, tmp_path)
    status, _, err = run(capsys, "seal", str(folder), "--tender", platform.tender, "--price", "100")
    assert status == 1
    assert "refusing to seal for tender RJ-2026-007" in err
    assert "etender trust add-ca FILE" in err and "etender trust pin USERNAME FINGERPRINT" in err
    assert sealed_files(tmp_path) == [] and platform.posts == []


def test_sealing_is_refused_when_a_custodians_key_was_swapped_and_names_the_custodian(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, client_env: Path, tmp_path: Path
) -> None:
    platform = serve(monkeypatch, tender_with_custodians())
    folder = bidder_ready(client_env, platform, tmp_path)
    trust_centre(capsys, tmp_path)
    platform.custodians[1].served_encryption = ec.generate_private_key(ec.SECP256R1()).public_key()
    status, out, err = run(capsys, "seal", str(folder), "--tender", platform.tender, "--price", "100")
    assert status == 1 and "Nothing was sealed or sent" in err
    assert "custodian 2 (黄芳, user huang_fang; index 1): the encryption key served for it now" in err
    assert "custodian 1 (" not in err and "custodian 3 (" not in err
    assert sealed_files(tmp_path) == [] and platform.posts == []
    assert "sealing" not in out


def test_a_tender_served_for_another_id_is_refused(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, client_env: Path, tmp_path: Path
) -> None:
    platform = serve(monkeypatch, tender_with_custodians())
    folder = bidder_ready(client_env, platform, tmp_path)
    trust_centre(capsys, tmp_path)
    other = tender_with_custodians()
    monkeypatch.setattr(platform, "detail", other.detail)  # the same path answered with another tender
    status, _, err = run(capsys, "seal", str(folder), "--tender", platform.tender, "--price", "100")
    assert status == 1 and f"answered for tender {platform.tender} with tender {other.tender}" in err
    assert sealed_files(tmp_path) == [] and platform.posts == []


def test_a_custodian_refuses_to_confirm_a_tender_that_does_not_list_its_key(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, client_env: Path
) -> None:
    platform = tender_with_custodians()
    platform.me = {"username": "huang_fang", "display_name": "黄芳", "organization": None, "roles": ["custodian"]}
    platform.custodians[1].confirmation = None
    serve(monkeypatch, platform)
    # Her own key, made here, is not the one the tender lists for her (the operator's is).
    mine = keystore.generate_key(client_env, "encryption", keystore.DEFAULT_NAME, PASSPHRASE.encode())
    keystore.generate_key(client_env, "signing", keystore.DEFAULT_NAME, PASSPHRASE.encode())
    status, _, err = run(capsys, "custodian", "confirm", platform.tender, "--yes")
    assert status == 1
    listed = fingerprint_of(platform.custodians[1].encryption.public_key())
    assert f"lists for you, custodian 2 of 3 (index 1), the encryption key {listed}" in err
    assert f"which is NOT your local encryption key 'default' ({mine.fingerprint()})" in err
    assert platform.posts == []


def test_only_a_custodian_of_the_tender_confirms(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    platform = serve(monkeypatch, tender_with_custodians())
    status, _, err = run(capsys, "custodian", "confirm", platform.tender, "--yes")
    assert status == 1 and "you (bidder_a) are not one of the 3 custodians" in err
    assert platform.posts == []


def test_the_platforms_own_anchors_cannot_be_added_to_the_trust_list(
    capsys: pytest.CaptureFixture[str], client_env: Path, tmp_path: Path
) -> None:
    _, platform_ca = make_ca("eTender development CA")
    client_env.mkdir(parents=True)
    (client_env / "trust.pem").write_text(pem(platform_ca))  # pinned at login, for receipts
    anchor = tmp_path / "platform-ca.pem"
    anchor.write_text(pem(platform_ca))
    status, _, err = run(capsys, "trust", "add-ca", str(anchor))
    assert status == 1 and "one of the platform's own certificates" in err
    assert not (client_env / "custody-trust.json").exists()


def test_a_certificate_of_another_key_or_user_is_not_uploaded(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, client_env: Path, tmp_path: Path
) -> None:
    platform = serve(monkeypatch, tender_with_custodians())
    key = keystore.generate_key(client_env, "signing", keystore.DEFAULT_NAME, PASSPHRASE.encode())
    platform.register("signing", key.public_key())
    other = tmp_path / "other.pem"
    other.write_text(
        pem(issue_certificate(CENTRE, ec.generate_private_key(ec.SECP256R1()).public_key(), "bidder_a", "王磊"))
    )
    status, _, err = run(capsys, "keys", "certify", str(other))
    assert status == 1 and "certifies another key" in err
    wrong_user = tmp_path / "wrong-user.pem"
    wrong_user.write_text(pem(issue_certificate(CENTRE, key.public_key(), "someone_else", "王磊")))
    status, _, err = run(capsys, "keys", "certify", str(wrong_user))
    assert status == 1 and "names serialNumber 'someone_else', not your user name 'bidder_a'" in err
    assert platform.posts == []


def test_a_key_challenge_that_is_not_exactly_a_proof_for_this_key_is_not_answered() -> None:
    private = ec.generate_private_key(ec.SECP256R1())
    fp = fingerprint_of(private.public_key())
    good = {
        "format": "etender-key-proof-v1",
        "purpose": "signing",
        "fingerprint": fp,
        "user": "bidder_a",
        "organization": "",
        "nonce": "ab" * 32,
    }
    for statement, reason in [
        ({**good, "fingerprint": "cd" * 32}, "fingerprint"),
        ({**good, "user": "operator"}, "user 'operator'"),
        ({**good, "organization": "91360781MA00000015"}, "organization '91360781MA00000015'"),
        ({**good, "purpose": "encryption"}, "purpose 'encryption'"),
        ({**good, "format": "etender-custody-v1"}, "not an etender-key-proof-v1 statement"),
        ({**good, "tender": "x"}, "not an etender-key-proof-v1 statement"),
        ({**good, "nonce": "short"}, "nonce that is not 64 hex digits"),
    ]:
        challenge = {
            "challenge": "c1",
            "statement": base64.b64encode(rfc8785.dumps(statement)).decode(),
            "sealed": None,
        }
        with pytest.raises(ClientError, match=reason):
            answer_key_proof(challenge, "signing", private, "bidder_a", "")
    loose = json.dumps(good, indent=1).encode()  # the same fields, not canonical
    with pytest.raises(ClientError, match="not canonical JSON"):
        answer_key_proof(
            {"challenge": "c1", "statement": base64.b64encode(loose).decode()}, "signing", private, "bidder_a"
        )
    statement = base64.b64encode(rfc8785.dumps({**good, "purpose": "encryption"})).decode()
    sealed = SUITE.encrypt(b"\x07" * 32, ec.generate_private_key(ec.SECP256R1()).public_key(), key_proof_info(fp))
    with pytest.raises(ClientError, match="does not open with it"):
        answer_key_proof(
            {"challenge": "c1", "statement": statement, "sealed": base64.b64encode(sealed).decode()},
            "encryption",
            private,
            "bidder_a",
        )


# --- what works ----------------------------------------------------------------------------------------------


def test_a_bidder_seals_once_every_confirmation_checks_out(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, client_env: Path, tmp_path: Path
) -> None:
    platform = serve(monkeypatch, tender_with_custodians())
    folder = bidder_ready(client_env, platform, tmp_path)
    trust_centre(capsys, tmp_path)
    status, out, err = run(capsys, "seal", str(folder), "--tender", platform.tender, "--price", "100")
    assert status == 0, err
    assert "custody of tender RJ-2026-007 checked against your trust list (2 of 3):" in out
    for number, c in enumerate(platform.custodians, 1):
        label = f"custodian {number} ({c.name}, user {c.username}; index {number - 1})"
        assert f"{label}: confirmed, signing key trusted by certificate of a trusted CA" in out
    manifest = parse_manifest((tmp_path / "投标文件.etb.manifest").read_bytes())
    assert list(manifest.envelopes.custodians.recipients) == platform.recipients()
    assert platform.posts == []  # sealing writes nothing to the server


def test_a_custodian_confirms_with_its_own_keys(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, client_env: Path
) -> None:
    platform = tender_with_custodians()
    platform.me = {"username": "huang_fang", "display_name": "黄芳", "organization": None, "roles": ["custodian"]}
    encryption = keystore.generate_key(client_env, "encryption", keystore.DEFAULT_NAME, PASSPHRASE.encode())
    signing = keystore.generate_key(client_env, "signing", keystore.DEFAULT_NAME, PASSPHRASE.encode())
    platform.register("signing", signing.public_key())
    platform.custodians[1].served_encryption = encryption.public_key()
    platform.custodians[1].confirmation = None
    serve(monkeypatch, platform)
    status, out, err = run(capsys, "custodian", "confirm", platform.tender, "--yes")
    assert status == 0, err
    assert "you are custodian 2 of 3 (index 1); 2 of 3 open a bid together" in out
    [(path, body)] = platform.posts
    assert path == f"/api/tenders/{platform.tender}/custody/confirmation"
    statement = base64.b64decode(body["statement"])
    assert statement == custody_statement_bytes(
        platform.tender, 1, 2, platform.recipients(), "huang_fang", signing.fingerprint()
    )
    signing.public_key().verify(base64.b64decode(body["signature"]), statement, ec.ECDSA(hashes.SHA256()))


def test_the_trust_commands_add_pin_list_and_remove(
    capsys: pytest.CaptureFixture[str], client_env: Path, tmp_path: Path
) -> None:
    trust_centre(capsys, tmp_path)
    as_told = ":".join(["AB"] * 32)  # as a custodian may read it out: upper case, colons
    status, out, _ = run(capsys, "trust", "pin", "zhonghua", as_told)
    assert status == 0 and f"pinned: signing key {'ab' * 32} for custodian zhonghua" in out
    status, out, _ = run(capsys, "trust", "list")
    assert status == 0 and "CAs (1)" in out and f"zhonghua             {'ab' * 32}" in out
    listed = TrustList.load(client_env)
    ca_fp = out.split("CAs (1)\n  ")[1].split()[0]
    assert run(capsys, "trust", "remove", "pin", "zhonghua")[0] == 0
    assert run(capsys, "trust", "remove", "ca", ca_fp)[0] == 0
    assert listed.cas and TrustList.load(client_env).empty
    status, _, err = run(capsys, "trust", "remove", "pin", "zhonghua")
    assert status == 1 and "no fingerprint pinned for zhonghua" in err


def test_keys_csr_writes_a_request_for_the_signing_key_and_certify_uploads_the_certificate(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, client_env: Path, tmp_path: Path
) -> None:
    platform = serve(monkeypatch, tender_with_custodians())
    key = keystore.generate_key(client_env, "signing", keystore.DEFAULT_NAME, PASSPHRASE.encode())
    platform.register("signing", key.public_key())
    status, out, err = run(capsys, "keys", "csr")
    assert status == 0, err
    request = x509.load_pem_x509_csr((client_env / "keys" / "signing-default.csr.pem").read_bytes())
    assert request.is_signature_valid and fingerprint_of(request.public_key()) == key.fingerprint()  # type: ignore[arg-type]
    subject = {a.oid: a.value for a in request.subject}
    assert subject == {
        NameOID.COUNTRY_NAME: "CN",
        NameOID.ORGANIZATION_NAME: "江西红土建设工程有限公司",
        NameOID.COMMON_NAME: "王磊",
        NameOID.SERIAL_NUMBER: "bidder_a",
    }
    # The CA issues the certificate from the request; the client attaches it to the key.
    issued = tmp_path / "issued.pem"
    issued.write_text(pem(issue_certificate(CENTRE, request.public_key(), "bidder_a", "王磊")))  # type: ignore[arg-type]
    status, out, err = run(capsys, "keys", "certify", str(issued))
    assert status == 0, err
    [(path, body)] = platform.posts
    assert path == f"/api/accounts/keys/{key.fingerprint()}/certificate"
    assert body == {"certificate": issued.read_text()}
    assert "certificate: CN=王磊" in out


def test_a_key_proof_signs_the_statement_or_opens_the_sealed_secret() -> None:
    private = ec.generate_private_key(ec.SECP256R1())
    fp = fingerprint_of(private.public_key())
    fields = {"fingerprint": fp, "user": "zhonghua", "organization": "", "nonce": "0f" * 32}
    signing_statement = rfc8785.dumps({"format": "etender-key-proof-v1", "purpose": "signing", **fields})
    proof = answer_key_proof(
        {"challenge": "c1", "statement": base64.b64encode(signing_statement).decode(), "sealed": None},
        "signing",
        private,
        "zhonghua",
    )
    assert proof["challenge"] == "c1"
    private.public_key().verify(base64.b64decode(proof["signature"]), signing_statement, ec.ECDSA(hashes.SHA256()))
    secret = bytes(range(32))
    sealed = SUITE.encrypt(secret, private.public_key(), f"etender-key-proof-v1|{fp}".encode())
    encryption_statement = rfc8785.dumps({"format": "etender-key-proof-v1", "purpose": "encryption", **fields})
    proof = answer_key_proof(
        {
            "challenge": "c2",
            "statement": base64.b64encode(encryption_statement).decode(),
            "sealed": base64.b64encode(sealed).decode(),
        },
        "encryption",
        private,
        "zhonghua",
    )
    assert proof == {"challenge": "c2", "nonce": base64.b64encode(secret).decode()}
