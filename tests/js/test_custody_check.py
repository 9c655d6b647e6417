"""The browser's custody check and key proofs (frontend/js/sealing/custody.js) under Node, against the platform's own
statements: the vectors are the real service's custody record and challenges, changed here as an operator would.

The check must refuse, naming the custodian, every confirmation that is missing, signed for another arrangement,
badly signed, or signed with a key the bidder's own trust list does not vouch for (pinned fingerprint, or a
certificate chaining to a CA it imported, valid now, for that key and that username). The key proofs the browser
makes must be the ones the platform's registration accepts, and it must refuse to sign a statement that is not the
key proof of its own key.
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import json
import subprocess
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from accounts import services
from accounts.models import KeyPurpose, PublicKey
from accounts.own_device import sign, spki_der
from archive.canonical import canonical_json
from tendering.services import custody
from tests.js.conftest import ROOT

NOW = dt.datetime(2026, 12, 3, 12, 0, tzinfo=dt.UTC)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def fingerprint(private: ec.EllipticCurvePrivateKey) -> str:
    return PublicKey.fingerprint_of(spki_der(private))


class CA:
    """A certification authority made here: the trading centre's (trusted by the bidder) or the operator's own."""

    def __init__(self, name: str) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        self.certificate = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(NOW - dt.timedelta(days=365))
            .not_valid_after(NOW + dt.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .sign(self.key, hashes.SHA256())
        )
        self.pem = self.certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")

    def certify(self, private: ec.EllipticCurvePrivateKey, display_name: str, username: str, *, days: int = 365) -> str:
        subject = x509.Name(
            [x509.NameAttribute(NameOID.COMMON_NAME, display_name), x509.NameAttribute(NameOID.SERIAL_NUMBER, username)]
        )
        certificate = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self.certificate.subject)
            .public_key(private.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(NOW - dt.timedelta(days=1))
            .not_valid_after(NOW + dt.timedelta(days=days))
            .sign(self.key, hashes.SHA256())
        )
        return certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")


def run_node(node: str, mode: str, job: dict[str, Any], tmp_path: Path) -> list[dict[str, Any]]:
    path = tmp_path / f"{mode}.json"
    path.write_text(json.dumps(job), encoding="utf-8")
    done = subprocess.run(
        [node, "tests/js/custody-check.mjs", mode, str(path)], cwd=ROOT, check=True, capture_output=True, text=True
    )
    return json.loads(done.stdout)


def test_the_browser_seals_only_when_every_confirmation_holds_against_its_own_trust(
    node, personas, published_tender, tmp_path
):
    view = json.loads(json.dumps(custody.custody_view(published_tender), default=str))
    custodians = personas.custodians
    signing = personas.custodian_signing_keys
    assert [c["username"] for c in view["custodians"]] == [c.username for c in custodians]
    assert all(c["confirmation"] is not None for c in view["custodians"])

    centre = CA("赣州市公共资源交易中心 CA")
    operator_ca = CA("Operator's own CA")
    certified = copy.deepcopy(view)
    for entry, user, key in zip(certified["custodians"], custodians, signing, strict=True):
        entry["confirmation"]["signing_key"]["certificate"] = centre.certify(key, str(user), user.username)
    expected = {"tender": view["tender"], "threshold": view["threshold"], "recipients": view["recipients"]}
    pins = [{"username": u.username, "fingerprint": fingerprint(k)} for u, k in zip(custodians, signing, strict=True)]
    by_ca = {"anchors": [centre.pem], "pins": []}
    by_pins = {"anchors": [], "pins": pins}
    now = NOW.isoformat()

    def case(
        name: str,
        record: dict[str, Any],
        trust: dict[str, Any],
        *,
        when: str = now,
        seals_to: dict[str, Any] = expected,
    ) -> dict[str, Any]:
        return {"name": name, "custody": record, "expected": seals_to, "trust": trust, "now": when}

    # The operator registers a key of its own for custodian2 (it has the password, or the database) and signs
    # custodian2's confirmation with it; its certificate comes from the operator's CA, which the bidder never imported.
    swapped = copy.deepcopy(certified)
    attacker = ec.generate_private_key(ec.SECP256R1())
    statement = canonical_json(
        {
            "format": "etender-custody-v1",
            "tender": view["tender"],
            "index": 1,
            "threshold": view["threshold"],
            "recipients": view["recipients"],
            "custodian": custodians[1].username,
            "signing_key": fingerprint(attacker),
        }
    )
    swapped["custodians"][1]["confirmation"] = {
        "statement": b64(statement),
        "signature": b64(sign(attacker, statement)),
        "signing_key": {
            "fingerprint": fingerprint(attacker),
            "spki": b64(spki_der(attacker)),
            "certificate": operator_ca.certify(attacker, str(custodians[1]), custodians[1].username),
        },
        "confirmed_at": now,
    }
    # The same swap with a certificate the trusted CA issued to another person's key name.
    misnamed = copy.deepcopy(certified)
    misnamed["custodians"][0]["confirmation"]["signing_key"]["certificate"] = centre.certify(
        signing[0], "钟华", custodians[2].username
    )
    # A certificate of the trusted CA for another key than the one that signed.
    other_key = copy.deepcopy(certified)
    other_key["custodians"][2]["confirmation"]["signing_key"]["certificate"] = centre.certify(
        attacker, str(custodians[2]), custodians[2].username
    )
    missing = copy.deepcopy(certified)
    missing["custodians"][2]["confirmation"] = None
    # A confirmation of another arrangement (k = 3) passed off as this one.
    other_threshold = copy.deepcopy(certified)
    other = json.loads(base64.b64decode(certified["custodians"][0]["confirmation"]["statement"]))
    other["threshold"] = 3
    other_bytes = canonical_json(other)
    other_threshold["custodians"][0]["confirmation"]["statement"] = b64(other_bytes)
    other_threshold["custodians"][0]["confirmation"]["signature"] = b64(sign(signing[0], other_bytes))
    bad_signature = copy.deepcopy(certified)
    bad_signature["custodians"][1]["confirmation"]["signature"] = b64(sign(signing[1], b"something else"))
    # The operator swaps custodian1's ENCRYPTION key in what it serves (and in the page's keys).
    new_encryption = ec.generate_private_key(ec.SECP256R1())
    swapped_recipient = copy.deepcopy(certified)
    swapped_recipient["custodians"][0]["encryption_key"] = {
        "fingerprint": fingerprint(new_encryption),
        "spki": b64(spki_der(new_encryption)),
    }
    swapped_recipient["recipients"][0] = fingerprint(new_encryption)
    wrong_spki = copy.deepcopy(certified)
    wrong_spki["custodians"][1]["encryption_key"]["spki"] = b64(spki_der(new_encryption))

    results = {
        r["name"]: r
        for r in run_node(
            node,
            "check",
            {
                "cases": [
                    case("trusted CA", certified, by_ca),
                    case("pinned", view, by_pins),
                    case("nothing trusted", certified, {"anchors": [], "pins": []}),
                    case("operator's key, CA trust", swapped, by_ca),
                    case("operator's key, pinned trust", swapped, by_pins),
                    case(
                        "operator's key, the bidder imported the operator's CA",
                        swapped,
                        {"anchors": [centre.pem, operator_ca.pem], "pins": []},
                    ),
                    case("misnamed certificate", misnamed, by_ca),
                    case("certificate of another key", other_key, by_ca),
                    case("expired certificates", certified, by_ca, when=(NOW + dt.timedelta(days=400)).isoformat()),
                    case("missing confirmation", missing, by_ca),
                    case("another threshold", other_threshold, by_ca),
                    case("bad signature", bad_signature, by_ca),
                    case(
                        "swapped encryption key, record and page agree",
                        swapped_recipient,
                        by_ca,
                        seals_to={**expected, "recipients": swapped_recipient["recipients"]},
                    ),
                    case("swapped encryption key, page has the old one", swapped_recipient, by_ca),
                    case("encryption key not its fingerprint", wrong_spki, by_ca),
                ]
            },
            tmp_path,
        )
    }

    def verdicts(name: str) -> list[tuple[str, bool, str | None]]:
        return [(r["username"], r["ok"], r["trustedBy"] if r["ok"] else r["reason"]) for r in results[name]["results"]]

    names = [c.username for c in custodians]
    # Refused first, then the allowed ones.
    assert not results["nothing trusted"]["ok"] and results["nothing trusted"]["sealsTo"] is None
    assert verdicts("nothing trusted") == [(n, False, "untrusted_key") for n in names]
    assert verdicts("operator's key, CA trust") == [
        (names[0], True, "certificate"),
        (names[1], False, "certificate_invalid"),
        (names[2], True, "certificate"),
    ]
    assert verdicts("operator's key, pinned trust") == [
        (names[0], True, "pinned"),
        (names[1], False, "untrusted_key"),
        (names[2], True, "pinned"),
    ]
    assert verdicts("misnamed certificate") == [
        (names[0], False, "certificate_invalid"),
        (names[1], True, "certificate"),
        (names[2], True, "certificate"),
    ]
    assert verdicts("certificate of another key") == [
        (names[0], True, "certificate"),
        (names[1], True, "certificate"),
        (names[2], False, "certificate_invalid"),
    ]
    assert verdicts("expired certificates") == [(n, False, "certificate_invalid") for n in names]
    assert verdicts("missing confirmation") == [
        (names[0], True, "certificate"),
        (names[1], True, "certificate"),
        (names[2], False, "not_confirmed"),
    ]
    assert verdicts("another threshold") == [
        (names[0], False, "statement_mismatch"),
        (names[1], True, "certificate"),
        (names[2], True, "certificate"),
    ]
    assert verdicts("bad signature") == [
        (names[0], True, "certificate"),
        (names[1], False, "bad_signature"),
        (names[2], True, "certificate"),
    ]
    # Every confirmation names the recipients it was signed for: a swapped encryption key breaks all of them, and
    # the custodian whose key was swapped is the one named as the cause.
    assert verdicts("swapped encryption key, record and page agree") == [
        (names[0], False, "key_changed"),
        (names[1], False, "statement_mismatch"),
        (names[2], False, "statement_mismatch"),
    ]
    assert verdicts("swapped encryption key, page has the old one") == [("", False, "recipients_mismatch")]
    assert verdicts("encryption key not its fingerprint") == [
        (names[0], True, "certificate"),
        (names[1], False, "wrong_recipient"),
        (names[2], True, "certificate"),
    ]
    for name, result in results.items():
        if name not in ("trusted CA", "pinned", "operator's key, the bidder imported the operator's CA"):
            assert not result["ok"] and result["sealsTo"] is None, name

    assert results["trusted CA"]["ok"] and results["trusted CA"]["sealsTo"] == 3
    # The limit the pages state: trust taken from the platform (its CA imported) lets the platform's key through.
    assert results["operator's key, the bidder imported the operator's CA"]["ok"]
    assert verdicts("trusted CA") == [(n, True, "certificate") for n in names]
    assert results["pinned"]["ok"] and verdicts("pinned") == [(n, True, "pinned") for n in names]


def test_the_browsers_key_proofs_register_and_it_signs_no_other_statement(node, personas, tmp_path):
    user = personas.bidder_a
    signing = ec.generate_private_key(ec.SECP256R1())
    encryption = ec.generate_private_key(ec.SECP256R1())
    someone_elses = ec.generate_private_key(ec.SECP256R1())

    def challenge_json(issued: services.IssuedChallenge) -> dict[str, Any]:
        return {
            "challenge": issued.challenge,
            "statement": b64(issued.statement),
            "sealed": b64(issued.sealed) if issued.sealed else None,
        }

    def held(
        name: str, purpose: str, private: ec.EllipticCurvePrivateKey, issued: services.IssuedChallenge, **changes: Any
    ) -> dict[str, Any]:
        pkcs8 = private.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        return {
            "name": name,
            "user": user.username,
            "purpose": purpose,
            "pkcs8": b64(pkcs8),
            "spki": b64(spki_der(private)),
            "fingerprint": fingerprint(private),
            "challenge": challenge_json(issued),
            **changes,
        }

    signing_challenge = services.issue_key_challenge(user, KeyPurpose.SIGNING, spki_der(signing))
    encryption_challenge = services.issue_key_challenge(user, KeyPurpose.ENCRYPTION, spki_der(encryption))
    others_challenge = services.issue_key_challenge(user, KeyPurpose.SIGNING, spki_der(someone_elses))
    # A platform that passes off a custody statement (or any other bytes) as a key proof gets no signature.
    custody_like = canonical_json(
        {
            "format": "etender-custody-v1",
            "tender": "x",
            "index": 0,
            "threshold": 1,
            "recipients": [],
            "custodian": user.username,
            "signing_key": fingerprint(signing),
        }
    )
    answers = {
        a["name"]: a
        for a in run_node(
            node,
            "prove",
            {
                "cases": [
                    held("another key's challenge", "signing", signing, others_challenge),
                    held("another user's statement", "signing", signing, signing_challenge, user="wanglei"),
                    held(
                        "a custody statement",
                        "signing",
                        signing,
                        signing_challenge,
                        challenge={**challenge_json(signing_challenge), "statement": b64(custody_like)},
                    ),
                    held(
                        "another organization",
                        "signing",
                        signing,
                        signing_challenge,
                        organization=personas.bidder_org_b.credit_code,
                    ),
                    held(
                        "signing", "signing", signing, signing_challenge, organization=personas.bidder_org_a.credit_code
                    ),
                    held(
                        "encryption",
                        "encryption",
                        encryption,
                        encryption_challenge,
                        organization=personas.bidder_org_a.credit_code,
                    ),
                ]
            },
            tmp_path,
        )
    }
    assert answers["another key's challenge"] == {
        "name": "another key's challenge",
        "refused": "the key-proof statement names another key, purpose or user",
    }
    assert (
        answers["another user's statement"]["refused"] == "the key-proof statement names another key, purpose or user"
    )
    assert answers["a custody statement"]["refused"] == "the statement is not an etender-key-proof-v1 statement"
    assert answers["another organization"]["refused"] == "the key-proof statement names another organization"
    assert (
        PublicKey.objects.filter(owner=user, fingerprint__in=[fingerprint(signing), fingerprint(encryption)]).count()
        == 0
    )

    for purpose, private, issued in (
        ("signing", signing, signing_challenge),
        ("encryption", encryption, encryption_challenge),
    ):
        proof = services.KeyProof.from_json(answers[purpose]["proof"])
        key = services.register_public_key(user, purpose, spki_der(private), "浏览器密钥", proof=proof)
        assert key.fingerprint == fingerprint(private)
        assert bytes(key.proof_statement) == issued.statement
    signed = PublicKey.objects.get(fingerprint=fingerprint(signing))
    # A signing key's proof can be re-checked by anyone, offline.
    signing.public_key().verify(bytes(signed.proof), signing_challenge.statement, ec.ECDSA(hashes.SHA256()))
