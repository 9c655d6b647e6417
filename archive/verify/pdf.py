"""A PAdES signature on a PDF checked offline with pyHanko, without Django: the platform's records
(``archive/pdf.py`` calls it at the platform clock's moment) and the dossier's PDFs (``archive/verify/dossier.py``,
at the moment the dossier's time-stamp proves)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import datetime as dt
import io
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization

T = TypeVar("T")


@dataclass(frozen=True)
class PdfSignatureReport:
    intact: bool  # the signed bytes hash to what was signed
    valid: bool  # intact, cryptographically sound, and the signer chains to a trust anchor
    signer_subject: str  # RFC 4514, as cryptography writes it; "" when there is no signature
    signed_at: dt.datetime | None  # the signature time-stamp's time, when there is one
    covers_whole_document: bool  # nothing was appended after the signature
    timestamp_valid: bool
    problem: str | None = None  # None when all of the above hold


def asn1_certificate(certificate: x509.Certificate) -> asn1_x509.Certificate:
    """A certificate as pyHanko and asn1crypto take it."""
    return asn1_x509.Certificate.load(certificate.public_bytes(serialization.Encoding.DER))


def run_to_end(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run pyHanko's coroutine to the end: in a fresh event loop, or in a thread if this one already runs a loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def check_pdf_signature(
    pdf: bytes,
    trust_anchors: Sequence[x509.Certificate],
    *,
    moment: dt.datetime,
    field_name: str | None = None,
) -> PdfSignatureReport:
    """Check the PAdES signature in field ``field_name`` (default: the first signature) offline, as of
    ``moment``: no fetching, revocation soft-fail (an archived record must stay checkable without the CA's
    CRL or OCSP; the platform's certificates name no revocation service).

    ``trust_anchors`` must hold the CA of the signer and that of the TSA.
    """
    from pyhanko.pdf_utils.misc import PdfError as PyHankoPdfError
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import async_validate_pdf_signature
    from pyhanko.sign.validation.errors import SignatureValidationError
    from pyhanko.sign.validation.status import SignatureCoverageLevel
    from pyhanko_certvalidator import ValidationContext

    def failed(problem: str) -> PdfSignatureReport:
        return PdfSignatureReport(False, False, "", None, False, False, problem)

    try:
        signatures = PdfFileReader(io.BytesIO(pdf), strict=False).embedded_regular_signatures
    except (PyHankoPdfError, ValueError, KeyError) as exc:
        return failed(f"the file is not a readable PDF: {exc}")
    chosen = [s for s in signatures if field_name is None or s.field_name == field_name][:1]
    if not chosen:
        return failed("the PDF has no signature" + (f" in field {field_name!r}" if field_name else ""))
    signature = chosen[0]

    context = ValidationContext(
        trust_roots=[asn1_certificate(c) for c in trust_anchors],
        allow_fetching=False,
        revocation_mode="soft-fail",
        moment=moment,
    )
    try:
        status = run_to_end(async_validate_pdf_signature(signature, context, context))
    except (SignatureValidationError, PyHankoPdfError, ValueError) as exc:
        return failed(f"the signature cannot be checked: {exc}")

    subject = x509.load_der_x509_certificate(status.signing_cert.dump()).subject.rfc4514_string()
    stamp = status.timestamp_validity
    timestamp_valid = stamp is not None and stamp.intact and stamp.valid and stamp.trusted
    whole = status.coverage == SignatureCoverageLevel.ENTIRE_FILE
    problems = []
    if not status.intact:
        problems.append("the signed content was changed after signing (its digest no longer matches)")
    elif not status.valid:
        problems.append("the signature value does not verify with the signer's certificate")
    elif not status.trusted:
        indication = status.trust_problem_indic.standard_name if status.trust_problem_indic else "no path"
        problems.append(
            f"the signer's certificate ({subject}) is not trusted by the given trust anchors ({indication})"
        )
    if stamp is None:
        problems.append("the signature carries no time-stamp")
    elif not timestamp_valid:
        problems.append("the signature's time-stamp does not verify or its TSA does not chain to a given trust anchor")
    if not whole:
        level = status.modification_level.name.lower().replace("_", " ") if status.modification_level else "unknown"
        problems.append(
            f"the file was extended after signing, so the signature does not cover it all ({level} changes)"
        )
    return PdfSignatureReport(
        intact=bool(status.intact),
        valid=bool(status.intact and status.valid and status.trusted),
        signer_subject=subject,
        signed_at=stamp.timestamp if stamp is not None else None,
        covers_whole_document=whole,
        timestamp_valid=timestamp_valid,
        problem="; ".join(problems) or None,
    )
