"""The dossier (archive/dossier.py) and its offline check (archive/verify/dossier.py, ``python -m archive.verify
dossier``): a closed case verifies, and each kind of tampering is refused by name."""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import hashlib
import io
import json
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import bagit
import pytest
from cryptography.hazmat.primitives import serialization

from archive import cases, signing
from archive.canonical import canonical_json
from archive.dossier import DossierError, build_dossier, file_dossier, folder_name
from archive.ledger import entries_for_case
from archive.storage import ObjectLocked, RetentionMode, get_object_store
from archive.storage.base import Retention
from archive.verify.dossier import extract_all, verify_dossier
from config import clock
from tendering.services import amendments
from tests.fixtures.personas import PDF_BYTES

pytestmark = pytest.mark.django_db

REPO = Path(__file__).resolve().parents[2]
WITHOUT_DJANGO = (
    "import runpy, sys; sys.modules['django'] = None; sys.argv[0] = 'archive.verify'; "
    "runpy.run_module('archive.verify', run_name='__main__', alter_sys=True)"
)


@pytest.fixture
def ca_pem() -> bytes:
    return signing.development_ca()[1].public_bytes(serialization.Encoding.PEM)


@pytest.fixture
def closed(personas: Any, published_tender: Any, tmp_path: Path, django_capture_on_commit_callbacks: Any) -> Any:
    """A published tender with an amendment's document: two objects in its case, and its dossier built."""
    with django_capture_on_commit_callbacks(execute=True):
        amendments.issue_amendment(
            personas.tenderer, published_tender, "补充图纸。", [("补充图纸.pdf", io.BytesIO(PDF_BYTES + b"\n"), None)]
        )
    dossier = build_dossier(published_tender.case, tmp_path / "dossier.tar")
    return published_tender, dossier


def test_a_closed_case_gives_one_file_that_verifies_offline_with_every_object_and_ledger_entry(
    closed: Any, ca_pem: bytes, tmp_path: Path
) -> None:
    tender, dossier = closed
    filed = list(cases.objects_of(tender.case))
    assert len(filed) == 2
    assert (dossier.objects, dossier.entries) == (2, entries_for_case(tender.case).count())
    assert dossier.sha256 == hashlib.sha256(dossier.path.read_bytes()).hexdigest()

    result = verify_dossier(dossier.path, ca_pem)
    assert result.ok, result.reason
    assert (result.case, result.objects, result.entries) == (tender.case, 2, dossier.entries)

    # The bag is a BagIt bag bagit itself accepts, holding each object as filed, under its name.
    with unpacked(dossier.path) as root:
        bagit.Bag(str(root)).validate()
        for item in filed:
            assert hashlib.sha256((root / "data" / "objects" / item.name).read_bytes()).hexdigest() == item.sha256
        assert json.loads((root / "data" / "case.json").read_text())["case"] == tender.case

    # The command, from the verifier's modules alone (Django unimportable).
    (tmp_path / "ca.pem").write_bytes(ca_pem)
    ok = verifier(tmp_path, "dossier", str(dossier.path), "--ca", str(tmp_path / "ca.pem"))
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert ok.stdout.splitlines()[-1].startswith(f"OK: dossier of {tender.case}: 2 objects")
    dossier.path.write_bytes(dossier.path.read_bytes()[: dossier.size // 2])
    cut = verifier(tmp_path, "dossier", str(dossier.path), "--ca", str(tmp_path / "ca.pem"))
    assert cut.returncode == 1 and "FAILED:" in cut.stdout


def verifier(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": str(cwd), "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-c", WITHOUT_DJANGO, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@contextlib.contextmanager
def unpacked(path: Path) -> Iterator[Path]:
    folder = path.parent / f"unpacked-{path.stem}"
    shutil.rmtree(folder, ignore_errors=True)
    with tarfile.open(path) as archive:
        extract_all(archive, folder)
    (root,) = folder.iterdir()
    yield root
    shutil.rmtree(folder)


def repack(root: Path, out: Path, extra: Callable[[tarfile.TarFile], None] | None = None) -> None:
    with tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as archive:
        archive.add(root, arcname=root.name)
        if extra is not None:
            extra(archive)


def an_object(root: Path) -> Path:
    return sorted(p for p in (root / "data" / "objects").rglob("*") if p.is_file())[0]


def change_a_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def object_changed(root: Path) -> str:
    target = an_object(root)
    change_a_byte(target)
    return f"{target.relative_to(root)} was changed: its SHA-256 is"


def object_changed_and_rebagged(root: Path) -> str:
    change_a_byte(an_object(root))
    bagit.Bag(str(root)).save(manifests=True)  # the bag made consistent again: only the signature can tell
    return "manifest-sha256.txt was changed after the platform signed it"


def manifest_byte_changed(root: Path) -> str:
    manifest = root / "manifest-sha256.txt"
    text = manifest.read_text()
    manifest.write_text(("1" if text[0] != "1" else "2") + text[1:])
    return "manifest-sha256.txt was changed after the platform signed it"


def ledger_row_changed(root: Path) -> str:
    path = root / "data" / "ledger" / "entries.json"
    document = json.loads(path.read_text())
    row = document["entries"][0]
    entry = json.loads(base64.b64decode(row["entry_bytes_b64"]))
    entry["data"]["title"] = "另一个项目"
    row["entry_bytes_b64"] = base64.b64encode(canonical_json(entry)).decode("ascii")
    path.write_text(json.dumps(document, ensure_ascii=False))
    return f"ledger entry {row['seq']} (data/ledger/entries.json): the ledger entry's bytes do not hash to entry_hash"


def object_removed(root: Path) -> str:
    target = an_object(root)
    target.unlink()
    return f"{target.relative_to(root)} is missing: the bag's manifest names it"


def object_and_its_lines_removed(root: Path) -> str:
    target = an_object(root)
    name = str(target.relative_to(root / "data" / "objects"))
    target.unlink()
    registry = root / "data" / "case.json"
    document = json.loads(registry.read_text())
    document["objects"] = [o for o in document["objects"] if o["name"] != name]
    registry.write_text(json.dumps(document, ensure_ascii=False))
    bagit.Bag(str(root)).save(manifests=True)
    return "manifest-sha256.txt was changed after the platform signed it"


def object_added(root: Path) -> str:
    (root / "data" / "objects" / "extra.pdf").write_bytes(PDF_BYTES)
    return "data/objects/extra.pdf is not in the bag's manifest: it was added"


def checkpoint_changed(root: Path) -> str:
    path = root / "data" / "ledger" / "checkpoint.json"
    document = json.loads(path.read_text())
    document["body"]["tree_size"] += 1
    path.write_text(json.dumps(document))
    return "the checkpoint's signature does not verify"


def signature_changed(root: Path) -> str:
    path = root / "dossier-signature.json"
    document = json.loads(path.read_text())
    document["case"] = "tender:999999"
    path.write_text(json.dumps(document))
    return "the platform signature does not verify (the dossier's manifest was changed after signing"


@pytest.mark.parametrize(
    "tamper",
    [
        object_changed,
        object_changed_and_rebagged,
        manifest_byte_changed,
        ledger_row_changed,
        object_removed,
        object_and_its_lines_removed,
        object_added,
        checkpoint_changed,
        signature_changed,
    ],
)
def test_each_kind_of_tampering_is_refused_by_name(
    closed: Any, ca_pem: bytes, tmp_path: Path, tamper: Callable[[Path], str]
) -> None:
    _tender, dossier = closed
    with unpacked(dossier.path) as root:
        expected = tamper(root)
        repack(root, tmp_path / "tampered.tar")
    result = verify_dossier(tmp_path / "tampered.tar", ca_pem)
    assert not result.ok
    assert expected in result.reason, result.reason


def test_a_path_out_of_the_bag_a_link_or_a_second_bag_is_refused_before_anything_is_unpacked(
    closed: Any, ca_pem: bytes, tmp_path: Path
) -> None:
    _tender, dossier = closed

    def member(name: str, kind: bytes = tarfile.REGTYPE) -> Callable[[tarfile.TarFile], None]:
        def add(archive: tarfile.TarFile) -> None:
            info = tarfile.TarInfo(name)
            info.type = kind
            info.linkname = "/etc/passwd" if kind == tarfile.SYMTYPE else ""
            info.size = 0 if kind == tarfile.SYMTYPE else 1
            archive.addfile(info, None if kind == tarfile.SYMTYPE else io.BytesIO(b"x"))

        return add

    odd = [
        (member("../escaped.txt"), "a path outside its bag"),
        (member(f"{folder_name(_tender.case)}/data/objects/link", tarfile.SYMTYPE), "not a file or a folder"),
        (member("other-bag/bagit.txt"), "one bag folder"),
    ]
    for extra, expected in odd:
        with unpacked(dossier.path) as root:
            repack(root, tmp_path / "odd.tar", extra)
        result = verify_dossier(tmp_path / "odd.tar", ca_pem)
        assert not result.ok and expected in result.reason, result.reason
    assert not (tmp_path / "escaped.txt").exists()

    (tmp_path / "not.tar").write_bytes(b"%PDF-1.7 not a tar")
    assert "not a readable tar file" in verify_dossier(tmp_path / "not.tar", ca_pem).reason


def test_a_dossier_checked_against_another_ca_is_refused(closed: Any, tmp_path: Path) -> None:
    _tender, dossier = closed
    _key, other = signing._new_ca()
    result = verify_dossier(dossier.path, other.public_bytes(serialization.Encoding.PEM))
    assert not result.ok and "the platform certificate" in result.reason, result.reason


def test_a_store_that_no_longer_holds_what_was_filed_stops_the_build_naming_the_object(
    personas: Any, published_tender: Any, tmp_path: Path, monkeypatch: Any
) -> None:
    (filed,) = cases.objects_of(published_tender.case)
    store = get_object_store()
    real_open = store.open

    def changed(key: str, version_id: str | None = None) -> Any:
        if key == filed.object_key:
            return contextlib.nullcontext(io.BytesIO(PDF_BYTES[:-1] + b"?"))
        return real_open(key, version_id)

    monkeypatch.setattr(store, "open", changed)
    with pytest.raises(DossierError, match=filed.name):
        build_dossier(published_tender.case, tmp_path / "dossier.tar")
    assert not (tmp_path / "dossier.tar").exists()
    with pytest.raises(DossierError, match="filed nothing"):
        build_dossier("tender:999999", tmp_path / "none.tar")


def test_the_filed_dossier_is_stored_under_retention_and_the_store_refuses_to_delete_it(
    personas: Any, published_tender: Any, tmp_path: Path, ca_pem: bytes
) -> None:
    until = clock.now().replace(microsecond=0) + dt.timedelta(days=1)
    dossier, stored = file_dossier(published_tender.case, Retention(RetentionMode.GOVERNANCE, until))
    store = get_object_store()
    info = store.stat(stored.key, stored.version_id)
    assert info.retention_mode == RetentionMode.GOVERNANCE and info.retain_until is not None
    assert stored.key.startswith(f"dossiers/{folder_name(published_tender.case)}/")
    with pytest.raises(ObjectLocked):
        store.delete(stored.key, stored.version_id)
    with store.open(stored.key, stored.version_id) as stream:
        data = stream.read()
    assert hashlib.sha256(data).hexdigest() == dossier.sha256
    (tmp_path / "downloaded.tar").write_bytes(data)
    assert verify_dossier(tmp_path / "downloaded.tar", ca_pem).ok


def a_pdf(text: str) -> bytes:
    from reportlab.pdfgen import canvas

    buffer = io.BytesIO()
    page = canvas.Canvas(buffer)
    page.drawString(100, 750, text)
    page.save()
    return buffer.getvalue()


def file_pdf(case: str, name: str, pdf: bytes) -> None:
    from django.db import transaction

    stored = get_object_store().put(f"bench-{name.replace('/', '-')}", io.BytesIO(pdf), length=len(pdf))
    with transaction.atomic():
        cases.file_stored(
            case,
            name,
            stored,
            sha256=hashlib.sha256(pdf).hexdigest(),
            content_type="application/pdf",
            platform_signed=True,
        )


def test_a_pdf_the_platform_signed_checks_and_one_re_signed_with_another_key_is_named(
    published_tender: Any, tmp_path: Path, ca_pem: bytes, settings: Any
) -> None:
    from archive.pdf import sign_pdf

    case = published_tender.case
    file_pdf(case, "opening/opening-record.pdf", sign_pdf(a_pdf("record"), reason="开标记录表", location="平台"))
    sealed = build_dossier(case, tmp_path / "genuine.tar")
    result = verify_dossier(sealed.path, ca_pem)
    assert result.ok, result.reason
    assert "1 PDFs signed by the platform, each signature holding when the dossier was sealed" in result.passed

    # Someone with a key of their own (another CA) signs a report, and it is filed as the platform's.
    genuine_pki = settings.DEVELOPMENT_PKI_DIR
    settings.DEVELOPMENT_PKI_DIR = str(tmp_path / "another-pki")
    forged = sign_pdf(a_pdf("report"), reason="评标报告", location="平台")
    settings.DEVELOPMENT_PKI_DIR = genuine_pki
    file_pdf(case, "evaluation/evaluation-report.pdf", forged)
    dossier = build_dossier(case, tmp_path / "forged.tar")
    result = verify_dossier(dossier.path, ca_pem)
    assert not result.ok
    assert result.reason.startswith("object 'evaluation/evaluation-report.pdf'"), result.reason
    assert "its PDF signature does not hold" in result.reason and "not trusted" in result.reason, result.reason

    # An unsigned file filed as one the platform signed is named too.
    file_pdf("tender:777", "award/award-notice.pdf", a_pdf("notice"))
    unsigned = verify_dossier(build_dossier("tender:777", tmp_path / "unsigned.tar").path, ca_pem)
    assert not unsigned.ok
    assert unsigned.reason.startswith("object 'award/award-notice.pdf'") and "no signature" in unsigned.reason


def signed_checkpoint(size: int, root: str) -> dict[str, Any]:
    """A checkpoint document the platform's key signed (as an operator holding it could)."""
    from archive.canonical import checkpoint_body

    signer = signing.platform_signer()
    created_at = "2026-03-02T02:00:00.000000Z"
    signature = signer.sign(checkpoint_body(tree_size=size, root=root, created_at=created_at))
    return {
        "body": {"type": "etender-ledger-checkpoint-v1", "tree_size": size, "root": root, "created_at": created_at},
        "signature": base64.b64encode(signature).decode(),
        "certificate": signer.certificate_pem(),
    }


def test_the_dossiers_ledger_extends_each_checkpoint_signed_while_the_case_was_open_and_one_held_elsewhere(
    published_tender: Any, tmp_path: Path, ca_pem: bytes
) -> None:
    from archive.ledger import checkpoint_document, make_checkpoint, record

    case = published_tender.case
    early = checkpoint_document(make_checkpoint())  # signed while the case is open; a receipt's tree, say
    record(case, "tendering.question.asked", {"question": 1}, None)
    dossier = build_dossier(case, tmp_path / "dossier.tar")

    result = verify_dossier(dossier.path, ca_pem, held_checkpoints=[json.dumps(early).encode()])
    assert result.ok, result.reason
    size = early["body"]["tree_size"]
    assert f"the checkpoint of {size} entries held elsewhere is extended by this one" in result.passed
    (tmp_path / "ca.pem").write_bytes(ca_pem)
    (tmp_path / "early.json").write_text(json.dumps(early))
    ok = verifier(tmp_path, "dossier", str(dossier.path), "--ca", "ca.pem", "--checkpoint", "early.json")
    assert ok.returncode == 0, ok.stdout + ok.stderr

    # The platform's key signed another tree of the same size (the ledger rewritten after the regulator got
    # its checkpoint): the dossier does not extend what the regulator holds.
    fork = signed_checkpoint(size, "ab" * 32)
    refused = verify_dossier(dossier.path, ca_pem, held_checkpoints=[fork])
    assert not refused.ok
    assert refused.reason.startswith(f"the checkpoint of {size} entries held elsewhere does not extend"), refused.reason
    forked = verifier(tmp_path, "dossier", str(dossier.path), "--ca", "ca.pem", "--checkpoint", "fork.json")
    assert forked.returncode == 1  # (no such file: named, exit 1)
    (tmp_path / "fork.json").write_text(json.dumps(fork))
    forked = verifier(tmp_path, "dossier", str(dossier.path), "--ca", "ca.pem", "--checkpoint", "fork.json")
    assert forked.returncode == 1 and "does not extend to the dossier's ledger" in forked.stdout
    # One it has no proof from, and one whose certificate is another CA's, are named too.
    unknown = verify_dossier(dossier.path, ca_pem, held_checkpoints=[signed_checkpoint(1, "cd" * 32)])
    assert "carries no consistency proof from it" in unknown.reason, unknown.reason
    _key, other_ca = signing._new_ca()
    other = {**early, "certificate": other_ca.public_bytes(serialization.Encoding.PEM).decode()}
    strange = verify_dossier(dossier.path, ca_pem, held_checkpoints=[other])
    assert strange.reason.startswith(f"the checkpoint of {size} entries held elsewhere: "), strange.reason


def forge_checkpoint(size: int, root: str) -> None:
    from archive.models import LedgerCheckpoint

    forged = signed_checkpoint(size, root)
    LedgerCheckpoint.objects.create(
        tree_size=size,
        root_hash=root,
        created_at=dt.datetime(2026, 3, 2, 2, 0, tzinfo=dt.UTC),
        signature=forged["signature"],
        certificate_pem=forged["certificate"],
        certificate_fingerprint=signing.platform_signer().fingerprint,
    )


def test_a_latest_checkpoint_the_entries_no_longer_give_stops_the_build(published_tender: Any, tmp_path: Path) -> None:
    from archive.ledger import LedgerError, record, tree_size

    case = published_tender.case
    record(case, "tendering.question.asked", {"question": 1}, None)
    forge_checkpoint(tree_size(), "ef" * 32)  # the entries give another root: the platform will not sign on
    record(case, "tendering.question.answered", {"question": 1}, None)
    with pytest.raises(LedgerError, match="no longer match checkpoint"):
        build_dossier(case, tmp_path / "refused.tar")
    assert not (tmp_path / "refused.tar").exists()


def test_an_earlier_checkpoint_the_entries_no_longer_give_is_named_inside_the_dossier(
    published_tender: Any, tmp_path: Path, ca_pem: bytes
) -> None:
    from archive.ledger import make_checkpoint, record

    case = published_tender.case
    record(case, "tendering.question.asked", {"question": 1}, None)
    genuine = make_checkpoint()
    older = genuine.tree_size - 1
    forge_checkpoint(older, "ef" * 32)  # behind a genuine later one, as if signed before a rewrite
    record(case, "tendering.question.answered", {"question": 1}, None)
    dossier = build_dossier(case, tmp_path / "dossier.tar")
    result = verify_dossier(dossier.path, ca_pem)
    assert not result.ok
    assert result.reason.startswith(f"the earlier checkpoint of {older} entries"), result.reason
    assert "does not extend its tree" in result.reason, result.reason


def test_the_command_builds_a_dossier_to_a_file_and_stores_one_and_refuses_what_it_cannot_do(
    published_tender: Any, tmp_path: Path, ca_pem: bytes
) -> None:
    from django.core.management import CommandError, call_command

    out = io.StringIO()
    call_command(
        "build_dossier", published_tender.case, "--out", str(tmp_path / "d.tar"), "--store", "governance", stdout=out
    )
    assert verify_dossier(tmp_path / "d.tar", ca_pem).ok
    lines = out.getvalue().splitlines()
    assert lines[0].startswith(f"{tmp_path / 'd.tar'}: 1 objects") and "under GOVERNANCE retention" in lines[1]
    key = lines[1].split()[2]
    assert get_object_store().stat(key).retention_mode == RetentionMode.GOVERNANCE

    for arguments, message in (
        ([published_tender.case], "say where"),
        ([published_tender.case, "--out", str(tmp_path / "d.tar")], "exists already"),
        ([published_tender.case, "--out", str(tmp_path / "no" / "d.tar")], "does not"),
        (["tender:999999", "--out", str(tmp_path / "e.tar")], "filed nothing"),
    ):
        with pytest.raises(CommandError, match=message):
            call_command("build_dossier", *arguments, stdout=io.StringIO())
    assert not (tmp_path / "e.tar").exists()


def test_an_object_filed_while_the_dossier_is_built_waits_for_the_next_one_and_the_dossier_still_verifies(
    published_tender: Any, tmp_path: Path, ca_pem: bytes, monkeypatch: Any
) -> None:
    from archive import dossier as dossier_module

    case = published_tender.case
    real = dossier_module.make_checkpoint

    def and_then_a_filing() -> Any:
        checkpoint = real()
        file_pdf(case, "late/notice.pdf", a_pdf("late"))  # after the checkpoint: its entry is not in the tree
        return checkpoint

    monkeypatch.setattr(dossier_module, "make_checkpoint", and_then_a_filing)
    built = build_dossier(case, tmp_path / "dossier.tar")
    result = verify_dossier(built.path, ca_pem)
    assert result.ok and result.objects == 1, result.reason
    monkeypatch.setattr(dossier_module, "make_checkpoint", real)
    assert {f.name for f in cases.objects_of(case)} >= {"late/notice.pdf"}
