"""The case file (案卷): what each case holds, filed as it happens, kept under retention.

A generic records service: a case is the ledger's case (``tender:42``), and the apps that own the records
(``tendering``, ``evaluation``) file each record into it when they make it, inside the transaction that makes
it. This module imports neither of them. Filing an object

* registers the exact version and its SHA-256 under a name that is its path in the case (and, later, in the
  dossier): ``tender/documents/<id>/招标文件.pdf``, ``bids/<bid id>/bid.sealed``,
  ``opening/opening-record.pdf``, ``evaluation/evaluation-report.pdf``;
* appends a ledger entry ``archive.case.object_filed`` with the same name, key, version, size and hash, in
  the same transaction, so that the registry row and the ledger commit or roll back together and anyone can
  check a case's objects against the ledger alone;
* once the transaction commits, puts the version under GOVERNANCE retention for the records period
  (archive/storage/retention.py, counted from its filing) unless it is retained that long already. The
  store can be down at that moment: the failure is logged, and ``keep_case`` applies whatever is still
  missing when it runs again; the registry already holds what must be kept.

A name is filed once in a case: filing it again with the same version and hash returns the row already
there (a retried worker), with anything else it is refused (``ValueError``) and nothing changes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import logging
import re
from typing import Any

from django.db import transaction
from django.db.models import QuerySet

from archive.ledger import record
from archive.models import CaseObject
from archive.storage import get_object_store
from archive.storage.base import RetentionMode, StoredObject, normalize_until
from archive.storage.retention import records_retain_until

logger = logging.getLogger(__name__)

FILED = "archive.case.object_filed"
NAME_MAX_LENGTH = CaseObject._meta.get_field("name").max_length or 400
SEGMENT_MAX_LENGTH = 200
SHA256 = re.compile(r"\A[0-9a-f]{64}\Z")
_FORBIDDEN = re.compile(r"[\x00-\x1f\x7f\\:*?\"<>|]")


def check_name(name: str) -> str:
    """``name`` as a path in the case (segments joined by ``/``), or ``ValueError`` saying what is wrong.

    Unicode is welcome (document names are Chinese); empty segments, ``.`` and ``..``, control characters,
    backslashes and the characters that common file systems refuse are not, so that a dossier unpacks to
    the same names everywhere.
    """
    if not isinstance(name, str) or not name or len(name) > NAME_MAX_LENGTH:
        raise ValueError(f"a case object's name is 1 to {NAME_MAX_LENGTH} characters: {name!r}")
    for segment in name.split("/"):
        if not segment or segment in (".", "..") or segment != segment.strip():
            raise ValueError(f"a case object's name has an empty, dot or padded segment: {name!r}")
        if len(segment) > SEGMENT_MAX_LENGTH or _FORBIDDEN.search(segment):
            raise ValueError(f"a case object's name has a segment a file system would refuse: {name!r}")
    return name


def safe_segment(text: str, fallback: str = "file") -> str:
    """``text`` made into one segment ``check_name`` accepts: forbidden characters become ``_``, and a long one
    is cut to ``SEGMENT_MAX_LENGTH`` keeping its extension (a document's own name, say)."""
    cleaned = _FORBIDDEN.sub("_", text.replace("/", "_")).strip() or fallback
    if cleaned in (".", ".."):
        cleaned = fallback
    if len(cleaned) > SEGMENT_MAX_LENGTH:
        _stem, dot, ext = cleaned.rpartition(".")
        ext = ext if dot and len(ext) <= 10 else ""
        cleaned = cleaned[: SEGMENT_MAX_LENGTH - len(ext) - 1].rstrip() + ("." + ext if ext else "")
    return cleaned


def file_object(
    case: str,
    name: str,
    *,
    object_key: str,
    version_id: str,
    sha256: str,
    size: int,
    content_type: str,
    platform_signed: bool = False,
    actor: Any = None,
) -> CaseObject:
    """File one stored version in ``case`` as ``name``; called inside the transaction of the change.
    ``platform_signed``: a PDF the platform signed (PAdES), whose signature the dossier's check requires."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("a case object is filed inside the transaction that makes the record")
    check_name(name)
    if not isinstance(sha256, str) or not SHA256.fullmatch(sha256):
        raise ValueError(f"sha256 must be 64 lowercase hex digits: {sha256!r}")
    if not isinstance(size, int) or size < 0:
        raise ValueError(f"size must be a whole number of bytes: {size!r}")
    if not object_key:
        raise ValueError("a case object needs its object key")
    version = str(version_id or "")
    existing = CaseObject.objects.filter(case=case, name=name).first()
    if existing is not None:
        if (existing.object_key, existing.version_id, existing.sha256, existing.size, existing.platform_signed) == (
            object_key,
            version,
            sha256,
            size,
            platform_signed,
        ):
            return existing
        raise ValueError(f"{case} already holds {name!r} (another version): a filed object is never replaced")
    data = {
        "name": name,
        "object_key": object_key,
        "version_id": version,
        "sha256": sha256,
        "size": size,
        "content_type": content_type,
        "platform_signed": bool(platform_signed),
    }
    entry = record(case, FILED, data, actor)
    filed = CaseObject.objects.create(
        case=case,
        name=name,
        object_key=object_key,
        version_id=version,
        sha256=sha256,
        size=size,
        content_type=content_type,
        platform_signed=bool(platform_signed),
        filed_at=entry.recorded_at,
        ledger_seq=entry.seq,
    )
    transaction.on_commit(lambda: _keep_logged(filed))
    return filed


def file_stored(
    case: str,
    name: str,
    stored: StoredObject,
    *,
    sha256: str,
    content_type: str,
    platform_signed: bool = False,
    actor: Any = None,
) -> CaseObject:
    """``file_object`` for what a store's ``put`` just returned (its hash checked by the caller: ``sha256``)."""
    if stored.sha256 is not None and stored.sha256 != sha256:
        raise ValueError(f"{stored.key}: the store hashed {stored.sha256}, the filer says {sha256}")
    return file_object(
        case,
        name,
        object_key=stored.key,
        version_id=stored.version_id or "",
        sha256=sha256,
        size=stored.size,
        content_type=content_type,
        platform_signed=platform_signed,
        actor=actor,
    )


def file_bytes(
    case: str, name: str, data: bytes, *, object_key: str, content_type: str, actor: Any = None
) -> tuple[CaseObject, bool]:
    """File a record the platform holds as bytes (a bid's signed manifest, its receipt): put into the store
    at ``object_key``, then filed in a transaction of its own. Call it from the worker, outside the service's
    transactions: the put talks to the store, and no lock should wait on it. Idempotent: a name already
    filed with the same bytes is not put again. Returns the row and whether it was filed now."""
    check_name(name)
    digest = hashlib.sha256(data).hexdigest()
    existing = CaseObject.objects.filter(case=case, name=name).first()
    if existing is not None:
        if existing.sha256 != digest:
            raise ValueError(f"{case} already holds {name!r} with other bytes: a filed object is never replaced")
        return existing, False
    stored = get_object_store().put(object_key, io.BytesIO(data), length=len(data), content_type=content_type)
    with transaction.atomic():
        filed = file_stored(case, name, stored, sha256=digest, content_type=content_type, actor=actor)
    return filed, True


def objects_of(case: str) -> QuerySet[CaseObject]:
    """The case's objects in the order they were filed."""
    return CaseObject.objects.filter(case=case).order_by("ledger_seq")


def retain_until(filed: CaseObject) -> dt.datetime:
    """Until when a filed object is kept: the records period from its filing."""
    return normalize_until(records_retain_until(filed.filed_at))


def keep(filed: CaseObject) -> bool:
    """Put the filed version under GOVERNANCE retention until ``retain_until`` unless it is retained as long
    already (a longer retention, or COMPLIANCE, is never shortened). True when it had to be set."""
    store = get_object_store()
    wanted = retain_until(filed)
    info = store.stat(filed.object_key, filed.version_id or None)
    if info.retain_until is not None and normalize_until(info.retain_until) >= wanted:
        return False
    mode = info.retention_mode if info.retention_mode is not None else RetentionMode.GOVERNANCE
    store.set_retention(filed.object_key, filed.version_id or None, mode, wanted)
    return True


def _keep_logged(filed: CaseObject) -> None:
    try:
        keep(filed)
    except Exception:
        logger.exception("could not put %s (%s) under retention: keep_case applies it later", filed.name, filed.case)


def keep_case(case: str) -> list[str]:
    """Apply the retention each of the case's objects still lacks; the names that failed (logged)."""
    failed = []
    for filed in objects_of(case):
        try:
            keep(filed)
        except Exception:
            logger.exception("could not put %s (%s) under retention", filed.name, case)
            failed.append(filed.name)
    return failed
