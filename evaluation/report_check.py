"""Check an evaluation report (评标报告) offline: ``python -m evaluation.report_check REPORT.pdf``.

Framework-free (no Django, no network): it reads the two files the PDF carries as attachments,
``report.json`` (the report's content, canonical JSON) and ``signatures.json`` (each member's statement,
signature and public key, and each signed sheet's), recomputes the content's SHA-256, and checks every
member's ECDSA P-256 signature over its statement with the key it names. It prints one line per member and
per sheet and stops at the first failure (exit 1). The platform's own PAdES signature over the whole PDF is
checked with pyHanko or poppler's pdfsig, as the output says. docs/evaluation.md §5.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hashlib
import io
import json
import sys
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from archive.canonical import canonical_json

REPORT_FORMAT = "etender-evaluation-report-v1"
STATEMENT_FORMAT = "etender-report-signature-v1"
BUNDLE_FORMAT = "etender-report-signatures-v1"
CONTENT_FILE = "report.json"
SIGNATURES_FILE = "signatures.json"

PADES_HINT = (
    "The platform's PAdES signature covers the whole file, attachments included; check it with\n"
    "  pyhanko sign validate --pretty-print --trust PLATFORM-CA.pem REPORT.pdf\n"
    "or  pdfsig REPORT.pdf  (poppler-utils), trusting the platform's CA certificate."
)


class CheckFailed(Exception):
    """The report does not check: the message says what and where."""


def signature_statement(report_sha256: str, evaluation: int, member: int) -> bytes:
    """What a member signs to sign the report: canonical JSON naming the content's SHA-256, the evaluation
    and the member (so a signature fits one report and one member only)."""
    return canonical_json(
        {
            "format": STATEMENT_FORMAT,
            "report_sha256": report_sha256,
            "evaluation": evaluation,
            "member": member,
            "decision": "signed",
        }
    )


def verify_p256(spki_der: bytes, data: bytes, signature: bytes) -> bool:
    """ECDSA P-256 with SHA-256, a DER signature, the key as SubjectPublicKeyInfo (DER)."""
    try:
        key = serialization.load_der_public_key(spki_der)
    except ValueError:
        return False
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        return False
    try:
        key.verify(signature, data, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return False
    return True


def attachments(pdf: bytes) -> dict[str, bytes]:
    """The PDF's embedded files by name (the document's /EmbeddedFiles name tree)."""
    from pyhanko.pdf_utils.misc import PdfError
    from pyhanko.pdf_utils.reader import PdfFileReader

    try:
        root = PdfFileReader(io.BytesIO(pdf), strict=False).root
        names = root["/Names"]["/EmbeddedFiles"]["/Names"]
    except (PdfError, KeyError, ValueError, TypeError) as exc:
        raise CheckFailed(f"the PDF carries no attachments ({exc})") from None
    found: dict[str, bytes] = {}
    for i in range(0, len(names) - 1, 2):
        spec = names[i + 1].get_object()
        found[str(names[i])] = bytes(spec["/EF"]["/F"].get_object().data)
    return found


def _b64(value: Any, where: str) -> bytes:
    if not isinstance(value, str):
        raise CheckFailed(f"{where}: not base64 text")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise CheckFailed(f"{where}: not base64 text") from None


def _signed(spki_b64: Any, statement: bytes, signature_b64: Any, where: str) -> str:
    """The key's fingerprint when the signature verifies; CheckFailed otherwise."""
    spki = _b64(spki_b64, f"{where} key")
    if not verify_p256(spki, statement, _b64(signature_b64, f"{where} signature")):
        raise CheckFailed(f"{where}: the signature does not verify with the key it names")
    return hashlib.sha256(spki).hexdigest()


def check(content: bytes, bundle: Mapping[str, Any]) -> Iterator[str]:
    """Check ``content`` (report.json's bytes) against ``bundle`` (signatures.json), one line per success as
    it is found; ``CheckFailed`` at the first failure, its message naming the member or the sheet.
    """
    digest = hashlib.sha256(content).hexdigest()
    try:
        report = json.loads(content)
    except ValueError:
        raise CheckFailed("report.json is not JSON") from None
    if not isinstance(report, dict) or report.get("format") != REPORT_FORMAT:
        raise CheckFailed(f"report.json is not an {REPORT_FORMAT} document")
    if canonical_json(report) != content:
        raise CheckFailed("report.json is not in canonical form (RFC 8785): it was rewritten")
    if bundle.get("format") != BUNDLE_FORMAT:
        raise CheckFailed(f"signatures.json is not an {BUNDLE_FORMAT} document")
    if bundle.get("report_sha256") != digest:
        raise CheckFailed(f"the report's content hashes to {digest}, not to what the signatures name")
    yield f"report content SHA-256 {digest}"
    evaluation = report.get("evaluation")
    committee = [m for m in report.get("committee", []) if isinstance(m, dict)]
    names = {m.get("member"): m.get("name") for m in committee}
    keys = {m.get("member"): m.get("signing_keys") or [] for m in committee}
    members: Sequence[Any] = bundle.get("members", [])
    for entry in members:
        member = entry.get("member")
        who = f"member {member} ({names.get(member, '?')})"
        if member not in names:
            raise CheckFailed(f"{who}: not on the report's committee")
        if entry.get("decision") == "refused":
            reasons = entry.get("reasons") or ""
            yield (
                f"{who}: refused to sign, reasons: {reasons}"
                if reasons
                else f"{who}: refused without reasons, counted as agreeing (暂行规定 Art 42)"
            )
            continue
        statement = _b64(entry.get("statement"), f"{who} statement")
        if not isinstance(evaluation, int) or statement != signature_statement(digest, evaluation, member):
            raise CheckFailed(f"{who}: the statement is not this member's statement of this report")
        fingerprint = _signed(entry.get("spki"), statement, entry.get("signature"), who)
        if fingerprint not in keys[member]:
            raise CheckFailed(f"{who}: signed with key {fingerprint}, not a key the report lists for the member")
        yield f"{who}: signature OK (key {fingerprint})"
    sheets = {
        (s.get("member"), s.get("kind")): (s.get("statement_sha256"), s.get("key_fingerprint"))
        for s in report.get("sheets", [])
        if isinstance(s, dict)
    }
    decided = {entry.get("member") for entry in members}
    for member in (m.get("member") for m in committee if m.get("state") == "confirmed"):
        if member not in decided:
            raise CheckFailed(f"member {member} ({names.get(member, '?')}): neither signed nor refused")
    checked: set[tuple[Any, Any]] = set()
    for entry in bundle.get("sheets", []):
        member, kind = entry.get("member"), entry.get("kind")
        where = f"{kind} sheet of member {member} ({names.get(member, '?')})"
        statement = _b64(entry.get("statement"), f"{where} statement")
        named, named_key = sheets.get((member, kind), (None, None))
        if named != hashlib.sha256(statement).hexdigest():
            raise CheckFailed(f"{where}: its statement is not the one the report names")
        fingerprint = _signed(entry.get("spki"), statement, entry.get("signature"), where)
        if fingerprint != named_key:
            raise CheckFailed(f"{where}: signed with key {fingerprint}, not the key the report names")
        checked.add((member, kind))
        yield f"{where}: signature OK (key {fingerprint})"
    for member, kind in sorted(set(sheets) - checked, key=str):
        raise CheckFailed(f"{kind} sheet of member {member} ({names.get(member, '?')}): no signature in the bundle")


def check_pdf(pdf: bytes) -> Iterator[str]:
    """``check`` on the report and the signatures a PDF carries."""
    files = attachments(pdf)
    for name in (CONTENT_FILE, SIGNATURES_FILE):
        if name not in files:
            raise CheckFailed(f"the PDF has no {name} attachment")
    try:
        bundle = json.loads(files[SIGNATURES_FILE])
    except ValueError:
        raise CheckFailed("signatures.json is not JSON") from None
    if not isinstance(bundle, dict):
        raise CheckFailed("signatures.json is not a JSON object")
    yield from check(files[CONTENT_FILE], bundle)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evaluation.report_check", description=__doc__.splitlines()[0])
    parser.add_argument("report", help="the evaluation report, PDF")
    args = parser.parse_args(argv)
    try:
        with open(args.report, "rb") as f:
            pdf = f.read()
    except OSError as exc:
        print(f"FAILED: cannot read {args.report}: {exc}")
        return 2
    try:
        for line in check_pdf(pdf):
            print(f"OK  {line}")
    except CheckFailed as exc:
        print(f"FAILED: {exc}")
        return 1
    print("every member's signature and every sheet's signature verifies.")
    print(PADES_HINT)
    return 0


if __name__ == "__main__":
    sys.exit(main())
