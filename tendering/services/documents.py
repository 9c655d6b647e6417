"""Tender documents: upload into the object store, downloads, retention."""

from __future__ import annotations

import uuid
from pathlib import PurePath
from typing import IO, Any

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _

from accounts.errors import DomainError, InvalidInput, NotFound, WrongPhase
from accounts.models import User
from archive import cases
from archive.ledger import record
from archive.storage import get_object_store
from archive.streams import CountingReader
from config import clock
from tendering import object_keys, permissions
from tendering.models import Amendment, DocumentDownload, Phase, Tender, TenderDocument
from tendering.services.locks import lock_tender

# The first bytes each permitted type must start with: an extension alone proves nothing.
MAGIC = {
    "pdf": (b"%PDF-",),
    "docx": (b"PK\x03\x04",),
    "xlsx": (b"PK\x03\x04",),
    "zip": (b"PK\x03\x04", b"PK\x05\x06"),
    "doc": (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",),
    "xls": (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",),
}
CONTENT_TYPES = {
    "pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "zip": "application/zip",
    "doc": "application/msword",
    "xls": "application/vnd.ms-excel",
}


def _clean_name(name: str) -> str:
    base = PurePath(name.replace("\\", "/")).name.strip()
    if not base or base in {".", ".."} or len(base) > 255 or any(ord(ch) < 32 for ch in base):
        raise InvalidInput({"file": [_("文件名无效。")]})
    return base


def check_upload(name: str, size: int | None, head: bytes) -> tuple[str, str]:
    """Validate a document before it is stored; return (clean name, content type)."""
    clean = _clean_name(name)
    ext = clean.rsplit(".", 1)[-1].lower() if "." in clean else ""
    permitted = [t.lower() for t in settings.TENDER_DOCUMENT_TYPES]
    if ext not in permitted:
        raise InvalidInput(
            {"file": [_("不允许的文件类型“.%(ext)s”，允许：%(types)s。") % {"ext": ext, "types": ", ".join(permitted)}]}
        )
    if size == 0 or not head:
        raise InvalidInput({"file": [_("文件是空的。")]})
    if size is not None and size > settings.TENDER_DOCUMENT_MAX_BYTES:
        raise InvalidInput(
            {
                "file": [
                    _("文件过大：上限为 %(limit)d MiB。")
                    % {"limit": settings.TENDER_DOCUMENT_MAX_BYTES // (1024 * 1024)}
                ]
            }
        )
    magic = MAGIC.get(ext)
    if magic is not None and not head.startswith(magic):
        raise InvalidInput({"file": [_("文件内容与扩展名“.%(ext)s”不符。") % {"ext": ext}]})
    return clean, CONTENT_TYPES.get(ext, "application/octet-stream")


def _store(tender: Tender, name: str, stream: IO[bytes], size: int | None, content_type: str) -> Any:
    key = object_keys.tender_document(tender)
    limit = settings.TENDER_DOCUMENT_MAX_BYTES
    reader = CountingReader(
        stream,
        limit=limit,
        on_limit=lambda: InvalidInput(
            {"file": [_("文件过大：上限为 %(limit)d MiB。") % {"limit": limit // (1024 * 1024)}]}
        ),
    )
    stored = get_object_store().put(
        key, reader, length=size, content_type=content_type, metadata={"tender": tender.number}
    )
    if reader.count == 0:
        raise InvalidInput({"file": [_("文件是空的。")]})
    return stored


def _read_head(stream: IO[bytes]) -> bytes:
    head = stream.read(16)
    stream.seek(0)
    return head


@transaction.atomic
def add_document(
    actor: User, tender: Tender, name: str, stream: IO[bytes], size: int | None, *, amendment: Amendment | None = None
) -> TenderDocument:
    """Attach a document to a draft, or (through ``issue_amendment``) to a published tender."""
    tender = lock_tender(tender.pk)
    permissions.require_manage(actor, tender, _("您无权为此招标项目上传文件。"))
    if tender.published_at is not None and amendment is None:
        raise WrongPhase(_("招标项目已发布，新文件只能随澄清或修改发布。"))
    clean, content_type = check_upload(name, size, _read_head(stream))
    stored = _store(tender, clean, stream, size, content_type)
    document = TenderDocument.objects.create(
        tender=tender,
        amendment=amendment,
        name=clean,
        content_type=content_type,
        size=stored.size,
        sha256=stored.sha256,
        object_key=stored.key,
        version_id=stored.version_id or "",
        uploaded_by=actor,
        uploaded_at=clock.now(),
    )
    record(
        tender.case,
        "tendering.document.added",
        {
            "tender_id": tender.pk,
            "document_id": str(document.public_id),
            "name": document.name,
            "sha256": document.sha256,
            "size": document.size,
            "object_key": document.object_key,
            "version_id": document.version_id,
            "amendment": amendment.number if amendment else None,
        },
        actor,
    )
    if tender.published_at is not None:
        file_document(document, actor)
    return document


def file_document(document: TenderDocument, actor: Any) -> None:
    """File a published document in its tender's case (at publication, or as an amendment's document)."""
    cases.file_object(
        document.tender.case,
        f"tender/documents/{document.public_id}/{cases.safe_segment(document.name)}",
        object_key=document.object_key,
        version_id=document.version_id,
        sha256=document.sha256,
        size=document.size,
        content_type=document.content_type,
        actor=actor,
    )


@transaction.atomic
def withdraw_draft_document(actor: User, document: TenderDocument) -> None:
    tender = lock_tender(document.tender_id)
    permissions.require_manage(actor, tender, _("您无权删除此文件。"))
    if tender.published_at is not None:
        raise WrongPhase(_("已发布的招标文件不能删除，只能通过澄清或修改更正。"))
    TenderDocument.objects.filter(pk=document.pk).update(withdrawn_at=clock.now())
    record(
        tender.case,
        "tendering.document.withdrawn",
        {"document_id": str(document.public_id), "name": document.name},
        actor,
    )


def visible_documents(user: Any, tender: Tender) -> Any:
    return tender.documents.filter(withdrawn_at__isnull=True).select_related("amendment")


def document_for_download(user: Any, tender: Tender, public_id: str) -> TenderDocument:
    if not permissions.can_view(user, tender):
        raise NotFound(_("找不到该招标项目。"))
    try:
        uuid.UUID(str(public_id))
    except ValueError:
        raise NotFound(_("找不到该文件。")) from None
    document = visible_documents(user, tender).filter(public_id=public_id).first()
    if document is None:
        raise NotFound(_("找不到该文件。"))
    return document


@transaction.atomic
def record_download(user: Any, document: TenderDocument) -> DocumentDownload | None:
    """Each download by a logged-in user is recorded (amendment notices go to these users)."""
    if not user.is_authenticated:
        return None
    download = DocumentDownload.objects.create(
        document=document, user=user, organization=user.organization, downloaded_at=clock.now()
    )
    if permissions.is_bidder(user):
        record(
            document.tender.case,
            "tendering.document.downloaded",
            {
                "document_id": str(document.public_id),
                "sha256": document.sha256,
                "organization_id": user.organization_id,
            },
            user,
        )
    return download


def open_document(document: TenderDocument) -> Any:
    return get_object_store().open(document.object_key, document.version_id or None)


def require_phase(tender: Tender, *phases: Phase) -> None:
    phase = tender.phase(clock.now())
    if phase not in phases:
        raise WrongPhase(_("当前阶段为「%(phase)s」，不能进行此操作。") % {"phase": Phase(phase).label})


__all__ = ["DomainError", "add_document", "check_upload", "document_for_download", "record_download"]
