"""Closing a case: its dossier (案卷包), built from the case file and the ledger, signed, time-stamped, stored.

``build_dossier(case, out)`` reads what the case holds (``archive.cases``: every object filed, each checked
against the SHA-256 it was filed with as it is copied out of the store) and the case's ledger segment, asks for
a fresh signed checkpoint of the ledger, and writes one tar file holding one BagIt bag (RFC 8493, made with
the ``bagit`` library):

    <case>/bagit.txt, bag-info.txt
    <case>/manifest-sha256.txt           every payload file's SHA-256 (bagit)
    <case>/dossier-signature.json        the platform's ECDSA signature over manifest-sha256.txt's hash, and
                                         an RFC 3161 time-stamp over that signature
    <case>/tagmanifest-sha256.txt        the tag files' SHA-256, the signature's included (bagit)
    <case>/data/case.json                the case's registry
    <case>/data/ledger/entries.json      the case's entries, each with its inclusion proof in the checkpoint
    <case>/data/ledger/checkpoint.json   the signed (and time-stamped) checkpoint
    <case>/data/ledger/earlier-checkpoints.json  the checkpoints signed while the case was open, each with
                                         its consistency proof to that one
    <case>/data/objects/<name>           each object, under the name it was filed as

``file_dossier`` stores that file under object-lock retention (the caller's, per procedure type). The offline
check is ``archive.verify.dossier`` (``python -m archive.verify dossier``); docs/dossier.md is the format.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import bagit
from cryptography.hazmat.primitives import serialization
from django.db import transaction
from django.db.models import QuerySet

from archive import cases, timestamps
from archive.canonical import canonical_json, format_timestamp
from archive.ledger import (
    LedgerError,
    checkpoint_document,
    consistency_proof_between,
    entries_for_case,
    entry_bytes,
    inclusion_proof_for,
    make_checkpoint,
    record,
)
from archive.models import CaseDossier, LedgerCheckpoint
from archive.signing import platform_signer
from archive.storage import get_object_store
from archive.storage.base import Retention, StoredObject, validate_key
from archive.verify.dossier import (
    DOSSIER_FORMAT,
    MANIFEST_FILE,
    SIGNATURE_FILE,
    SIGNATURE_FORMAT,
    signed_bytes,
)
from config import clock

COPY_CHUNK = 1 << 20
DOSSIER_FILED = "archive.case.dossier_filed"


class DossierError(Exception):
    """The case cannot be closed as it stands (an object differs from what was filed, nothing filed, ...)."""


@dataclass(frozen=True)
class Dossier:
    path: Path
    sha256: str
    size: int
    objects: int
    entries: int
    tree_size: int


def folder_name(case: str) -> str:
    """The bag's folder (and the dossier's file stem): ``tender:42`` gives ``tender-42``."""
    return cases.safe_segment(case.replace(":", "-"), fallback="case")


def build_dossier(case: str, out: Path) -> Dossier:
    """Write the dossier of ``case`` to ``out`` (a tar file) and describe it."""
    if not cases.objects_of(case).exists():
        raise DossierError(f"{case} has filed nothing: there is no case to close")
    checkpoint = make_checkpoint()
    size = checkpoint.tree_size
    # What the checkpoint covers, and nothing filed after it (its ledger entry is not in the tree either).
    objects = list(cases.objects_of(case).filter(ledger_seq__lte=size))
    rows = []
    for entry in entries_for_case(case).filter(seq__lte=size):
        proof = inclusion_proof_for(entry.seq, size)
        content = entry_bytes(entry)
        if proof["leaf_hash"] != entry.leaf_hash or hashlib.sha256(content).hexdigest() != entry.entry_hash:
            raise LedgerError(f"entry {entry.seq} no longer matches its hashes; run manage.py verify_ledger")
        rows.append(
            {
                "seq": entry.seq,
                "entry_hash": entry.entry_hash,
                "leaf_hash": entry.leaf_hash,
                "entry_bytes_b64": base64.b64encode(content).decode("ascii"),
                "inclusion_proof": proof["proof"],
            }
        )
    # Every checkpoint signed while the case was open, each with its consistency proof to this one: whoever
    # holds one of them (from a receipt, an earlier download) sees that this dossier's ledger extends it.
    first = rows[0]["seq"] if rows else size
    earlier = []
    for previous in LedgerCheckpoint.objects.filter(tree_size__gte=first, tree_size__lt=size).order_by("tree_size"):
        proof = consistency_proof_between(previous.tree_size, size)
        earlier.append(
            {
                "checkpoint": checkpoint_document(previous),
                "consistency": {"old_size": previous.tree_size, "new_size": size, "proof": proof["proof"]},
            }
        )
    with tempfile.TemporaryDirectory(prefix="etender-dossier-") as work:
        root = Path(work) / folder_name(case)  # bagit moves what the folder holds into data/
        for filed in objects:
            _copy_out(filed, root / "objects" / filed.name)
        _write_json(root / "case.json", {"format": DOSSIER_FORMAT, "case": case, "objects": _registry(objects)})
        _write_json(
            root / "ledger" / "entries.json",
            {"case": case, "tree_size": size, "root": checkpoint.root_hash, "entries": rows},
        )
        _write_json(root / "ledger" / "checkpoint.json", checkpoint_document(checkpoint))
        _write_json(root / "ledger" / "earlier-checkpoints.json", {"tree_size": size, "earlier": earlier})
        now = clock.now()
        bag = bagit.make_bag(
            str(root),
            bag_info={
                "Source-Organization": "电子招标投标交易平台",
                "External-Identifier": case,
                "Bagging-Date": now.date().isoformat(),
                "Bag-Software-Agent": f"etender archive.dossier (bagit {bagit.VERSION})",
            },
            checksums=["sha256"],
        )
        _sign(root, case, now)
        bag.save()  # the tag manifest again, now with the signature
        _pack(root, out)
    digest, length = _digest(out)
    return Dossier(out, digest, length, len(objects), len(rows), size)


def file_dossier(case: str, retention: Retention, actor: Any = None) -> tuple[Dossier, StoredObject]:
    """Build the case's dossier, store it under ``retention`` (COMPLIANCE for a closed case) at
    ``dossiers/<case>/<time>.tar`` and register it (``CaseDossier``, with the ledger entry
    ``archive.case.dossier_filed``). First, ``keep_case`` applies any retention a store outage left out; an
    object it still cannot keep stops the filing (``DossierError``), to be tried again."""
    missed = cases.keep_case(case)
    if missed:
        raise DossierError(f"{case}: the store could not keep {', '.join(missed)} under retention; try again")
    with tempfile.TemporaryDirectory(prefix="etender-dossier-out-") as work:
        stem = folder_name(case)
        dossier = build_dossier(case, Path(work) / f"{stem}.tar")
        key = f"dossiers/{stem}/{clock.now().astimezone(dt.UTC).strftime('%Y%m%dT%H%M%S%fZ')}.tar"
        validate_key(key)
        with dossier.path.open("rb") as stream:
            stored = get_object_store().put(
                key,
                stream,
                length=dossier.size,
                content_type="application/x-tar",
                metadata={"case": case, "sha256": dossier.sha256},
                retention=retention,
            )
        if stored.sha256 is not None and stored.sha256 != dossier.sha256:
            raise DossierError(f"the store hashed the dossier {stored.sha256}, it was built as {dossier.sha256}")
    with transaction.atomic():
        data = {
            "object_key": stored.key,
            "version_id": stored.version_id or "",
            "sha256": dossier.sha256,
            "size": dossier.size,
            "objects": dossier.objects,
            "tree_size": dossier.tree_size,
            "retention_mode": str(retention.mode),
            "retain_until": format_timestamp(retention.until),
        }
        entry = record(case, DOSSIER_FILED, data, actor)
        CaseDossier.objects.create(
            case=case,
            object_key=stored.key,
            version_id=stored.version_id or "",
            sha256=dossier.sha256,
            size=dossier.size,
            objects_count=dossier.objects,
            tree_size=dossier.tree_size,
            retention_mode=str(retention.mode),
            retain_until=retention.until,
            filed_at=entry.recorded_at,
            ledger_seq=entry.seq,
        )
    return dossier, stored


def dossiers_of(case: str) -> QuerySet[CaseDossier]:
    """The case's filed dossiers, the latest last."""
    return CaseDossier.objects.filter(case=case).order_by("ledger_seq")


# --- Writing -------------------------------------------------------------------------------------------------------


def _registry(objects: list[Any]) -> list[dict[str, Any]]:
    return [
        {
            "name": o.name,
            "object_key": o.object_key,
            "version_id": o.version_id,
            "sha256": o.sha256,
            "size": o.size,
            "content_type": o.content_type,
            "platform_signed": o.platform_signed,
            "filed_at": format_timestamp(o.filed_at),
            "ledger_seq": o.ledger_seq,
        }
        for o in objects
    ]


def _copy_out(filed: Any, target: Path) -> None:
    """The filed version, copied out of the store and checked against the hash and size it was filed with."""
    target.parent.mkdir(parents=True, exist_ok=True)
    digest, length = hashlib.sha256(), 0
    with get_object_store().open(filed.object_key, filed.version_id or None) as stream, target.open("wb") as out:
        while chunk := stream.read(COPY_CHUNK):
            digest.update(chunk)
            length += len(chunk)
            out.write(chunk)
    if digest.hexdigest() != filed.sha256 or length != filed.size:
        raise DossierError(
            f"{filed.case} {filed.name}: the store holds {length} bytes with SHA-256 {digest.hexdigest()}, "
            f"the case filed {filed.size} bytes with {filed.sha256}"
        )


def _write_json(path: Path, value: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(json.dumps(value, ensure_ascii=False, indent=1, sort_keys=True).encode("utf-8") + b"\n")


def _sign(root: Path, case: str, now: dt.datetime) -> None:
    signer = platform_signer()
    manifest = (root / MANIFEST_FILE).read_bytes()
    body = {
        "format": SIGNATURE_FORMAT,
        "case": case,
        "manifest_sha256": hashlib.sha256(manifest).hexdigest(),
        "signed_at": format_timestamp(now),
        "platform_certificate_chain": [
            c.public_bytes(serialization.Encoding.PEM).decode("ascii") for c in signer.chain
        ],
    }
    signature = signer.sign(signed_bytes(body))
    document = {
        **body,
        "signature": base64.b64encode(signature).decode("ascii"),
        "timestamp": base64.b64encode(timestamps.timestamp(signature)).decode("ascii"),
    }
    (root / SIGNATURE_FILE).write_bytes(canonical_json(document))


def _pack(root: Path, out: Path) -> None:
    """One tar file (POSIX pax, UTF-8 names), members sorted, owners and times fixed: the same bag packs to
    the same bytes."""
    mtime = int(clock.now().timestamp())
    with tarfile.open(out, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for path in [root, *sorted(root.rglob("*"))]:
            info = archive.gettarinfo(str(path), arcname=str(path.relative_to(root.parent)))
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            info.mtime = mtime
            info.mode = 0o755 if path.is_dir() else 0o644
            if path.is_file():
                with path.open("rb") as stream:
                    archive.addfile(info, stream)
            else:
                archive.addfile(info)


def _digest(path: Path) -> tuple[str, int]:
    digest, length = hashlib.sha256(), 0
    with path.open("rb") as stream:
        while chunk := stream.read(COPY_CHUNK):
            digest.update(chunk)
            length += len(chunk)
    return digest.hexdigest(), length


__all__ = ["DOSSIER_FILED", "Dossier", "DossierError", "build_dossier", "dossiers_of", "file_dossier", "folder_name"]
