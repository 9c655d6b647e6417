"""Writes docs/sealed-bid-vectors/refusal.json:
a custodian's signed "does not open" statement (etender-part-refusal-v1).

Run from the project root: ``.venv/bin/python -m tests.sealing.make_refusal_vector``. Everything in it is
deterministic (a fixed key, RFC 6979), so rerunning it rewrites the same file.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tendering.sealing import fingerprint
from tendering.sealing.refusal import PartRefusal

OUT = Path(__file__).resolve().parents[2] / "docs" / "sealed-bid-vectors" / "refusal.json"
P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
KEY = ec.derive_private_key(
    int.from_bytes(hashlib.sha256(b"etender-part-refusal-v1 vector key").digest(), "big") % P256_ORDER, ec.SECP256R1()
)
TENDER = "5f0c6d2e-8a4b-4c1e-9d3f-2b7a6e1c0d94"
BID = "c3a9e8f1-47d2-4b6a-8e05-91f2d7b4a6c3"


def key_description(key: ec.EllipticCurvePrivateKey) -> dict[str, str]:
    public = key.public_key()
    return {
        "d_hex": format(key.private_numbers().private_value, "064x"),
        "spki_der_hex": public.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        ).hex(),
        "fingerprint": fingerprint(public),
    }


def vector() -> dict[str, Any]:
    refusal = PartRefusal(TENDER, BID, (0, 2), 2, "hpke_open_failed", fingerprint(KEY.public_key()))
    statement = refusal.canonical_bytes()
    signature = KEY.sign(statement, ec.ECDSA(hashes.SHA256(), deterministic_signing=True))
    good = json.loads(statement)
    return {
        "description": (
            'A custodian\'s signed "does not open" statement (docs/sealed-bid-format.md §4.6): custodian 2 (0-based) '
            "of subset [0, 2] says its part of the bid does not open. statement_text is the exact RFC 8785 bytes "
            "(ASCII) of fields; signature_der_hex is ECDSA P-256/SHA-256, RFC 6979 (deterministic), strict DER, by "
            "signing_key (a browser's signature differs and must only verify). refused: statements a verifier must "
            "refuse, each with what is wrong."
        ),
        "signing_key": key_description(KEY),
        "fields": good,
        "statement_text": statement.decode("ascii"),
        "statement_sha256": hashlib.sha256(statement).hexdigest(),
        "signature_der_hex": signature.hex(),
        "refused": [
            {
                "why": "not canonical (a space after a colon)",
                "statement_text": statement.decode().replace('":', '": ', 1),
            },
            {
                "why": "keys out of order",
                "statement_text": json.dumps(dict(reversed(list(good.items()))), separators=(",", ":")),
            },
            {"why": "another format", "statement_text": _text(good, format="etender-part-refusal-v2")},
            {"why": "index not one of the members", "statement_text": _text(good, index=1)},
            {"why": "members not ascending", "statement_text": _text(good, members=[2, 0])},
            {"why": "an unknown reason", "statement_text": _text(good, reason="does_not_open")},
            {"why": "a field more", "statement_text": _text(good, comment="")},
            {"why": "an uppercase UUID", "statement_text": _text(good, bid=BID.upper())},
        ],
    }


def _text(fields: dict[str, Any], **changes: Any) -> str:
    return json.dumps(dict(sorted({**fields, **changes}.items())), separators=(",", ":"))


if __name__ == "__main__":
    OUT.write_text(json.dumps(vector(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {OUT}")
