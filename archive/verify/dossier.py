"""The dossier (案卷包) checked offline, without Django, a database or the network.

    python -m archive.verify dossier DOSSIER.tar --ca CA.pem [--tsa-ca TSA.pem]

A dossier is one tar file holding one BagIt bag (RFC 8493) that ``archive.dossier`` builds when a case is
closed (docs/dossier.md has the layout byte by byte). The checks, in this order, stop at the first that does
not hold and name it:

1. the file is a tar of one bag and nothing else (no links, no path out of the bag);
2. the bag is complete (every file its manifest names is there, nothing more in ``data/``);
3. the platform's signature over the payload manifest (``manifest-sha256.txt``) verifies, its certificate
   chains to ``--ca``, and its RFC 3161 time-stamp to ``--tsa-ca``;
4. the ledger's checkpoint in the bag is signed by the platform (and time-stamped); so is each checkpoint signed
   while the case was open (``earlier-checkpoints.json``), and the bag's checkpoint extends each (its
   consistency proof); and it extends each checkpoint the one checking holds from elsewhere
   (``--checkpoint``: a receipt's tree, an earlier dossier's);
5. every ledger entry of the case hashes to its ``entry_hash`` and ``leaf_hash``, belongs to the case, and is
   in the checkpoint's tree (its inclusion proof leads to the signed root);
6. every object of the case's registry (``data/case.json``) is in the bag, listed in the signed manifest with
   the SHA-256 and of the size the case filed, and the ledger's ``archive.case.object_filed`` entry for it says
   the same; every such entry has its object; nothing else sits under ``data/objects/``;
7. bagit's own validation: every file's SHA-256 against the manifests (the payload and the tag files), the
   one pass that reads every byte;
8. every PDF the platform signed (``platform_signed`` in the registry) carries a PAdES signature that holds,
   by a certificate that chains to ``--ca``, as of the time the dossier's time-stamp proves (so that a
   certificate that expired since does not fail a record it signed while valid).

It needs ``bagit``, ``pyhanko``, ``cryptography``, ``asn1crypto`` and ``rfc8785`` and the framework-free modules
``archive.canonical``, ``archive.merkle``, ``archive.strict_json``, ``archive.tsp`` and ``archive.verify``
(the receipt's checks, which this reuses).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import tarfile
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import bagit

from archive import merkle
from archive.verify import (
    Refused,
    _b64,
    _check_checkpoint,
    _check_entry,
    _check_platform_signature,
    _is_int,
    _json_object,
    _load_anchors,
    _load_chain,
    receipt_signed_bytes,
)
from archive.verify.pdf import check_pdf_signature

DOSSIER_FORMAT = "etender-dossier-v1"
SIGNATURE_FORMAT = "etender-dossier-signature-v1"
SIGNATURE_FILE = "dossier-signature.json"
MANIFEST_FILE = "manifest-sha256.txt"
CASE_FILE = "data/case.json"
ENTRIES_FILE = "data/ledger/entries.json"
CHECKPOINT_FILE = "data/ledger/checkpoint.json"
EARLIER_FILE = "data/ledger/earlier-checkpoints.json"
OBJECTS = "data/objects"
FILED_ACTION = "archive.case.object_filed"
SIGNATURE_FIELDS = ("format", "case", "manifest_sha256", "signed_at", "platform_certificate_chain")
FILED_FIELDS = ("name", "object_key", "version_id", "sha256", "size", "content_type", "platform_signed")
OBJECT_FIELDS = (*FILED_FIELDS, "filed_at", "ledger_seq")


@dataclass(frozen=True)
class DossierVerification:
    ok: bool
    reason: str
    case: str | None = None
    objects: int = 0
    entries: int = 0
    checkpoint_size: int | None = None
    passed: list[str] = field(default_factory=list)  # each check that held, in order


def signed_bytes(signature_document: dict[str, Any]) -> bytes:
    """What the platform signs: RFC 8785 of the signature document without ``signature`` and ``timestamp``
    (as for a receipt)."""
    return receipt_signed_bytes(signature_document)


def verify_dossier(
    dossier: Path,
    trusted_ca_pem: bytes | str,
    *,
    tsa_trusted_pem: bytes | str | None = None,
    held_checkpoints: Sequence[bytes | dict[str, Any]] = (),
) -> DossierVerification:
    """Check a dossier file offline; ``ok`` is False with the first thing that does not hold as ``reason``.

    ``held_checkpoints``: signed checkpoints the one checking holds from elsewhere (``checkpoint_document``
    JSON: a receipt's tree, an earlier dossier's): the dossier's ledger must extend each."""
    passed: list[str] = []
    case: str | None = None
    try:
        anchors = _load_anchors(trusted_ca_pem, "the trusted CA")
        tsa_anchors = anchors if tsa_trusted_pem is None else _load_anchors(tsa_trusted_pem, "the trusted TSA")
        with _unpacked(dossier) as root:
            passed.append("one bag, nothing outside it")
            bag = _complete_bag(root)
            passed.append("the bag is complete")
            signature_document, chain, sealed_at = _check_signature(root, anchors, tsa_anchors)
            case = signature_document["case"]
            passed.append("the platform's signature over the manifest, and its time-stamp")
            checkpoint = _json_object(_read(root, CHECKPOINT_FILE), CHECKPOINT_FILE)
            body = checkpoint.get("body")
            if not isinstance(body, dict):
                raise Refused(f"{CHECKPOINT_FILE} has no body")
            size, root_hash = body.get("tree_size"), body.get("root")
            _check_checkpoint(checkpoint, {"tree_size": size, "root": root_hash}, anchors, tsa_anchors, chain[1:])
            assert isinstance(size, int) and isinstance(root_hash, str)
            passed.append(f"the ledger's checkpoint of {size} entries")
            earlier = _check_earlier(root, checkpoint, size, anchors, tsa_anchors, chain[1:])
            passed.append(f"{len(earlier)} earlier checkpoints, each extended by this one")
            for held in held_checkpoints:
                held_size = _check_held(held, checkpoint, size, earlier, anchors, tsa_anchors, chain[1:])
                passed.append(f"the checkpoint of {held_size} entries held elsewhere is extended by this one")
            entries = _check_entries(root, case, size, root_hash)
            passed.append(f"{len(entries)} ledger entries of {case}, each in the checkpoint's tree")
            objects = _check_objects(root, bag, case, entries)
            passed.append(f"{objects} objects, each as the case filed it and the ledger recorded it")
            try:
                bag.validate(processes=1)
            except bagit.BagValidationError as exc:
                raise Refused(_bag_problem(exc)) from exc
            except bagit.BagError as exc:
                raise Refused(f"the bag does not validate: {exc}") from exc
            passed.append("every file's SHA-256 against the bag's manifests")
            pdfs = _check_pdfs(root, [*anchors, *tsa_anchors], sealed_at)
            passed.append(f"{pdfs} PDFs signed by the platform, each signature holding when the dossier was sealed")
    except Refused as refusal:
        return DossierVerification(False, str(refusal), case, passed=passed)
    return DossierVerification(True, "", case, objects, len(entries), size, passed)


# --- The checks ----------------------------------------------------------------------------------------------------


@contextmanager
def _unpacked(dossier: Path) -> Iterator[Path]:
    """The dossier's bag, extracted into a temporary folder: only regular files and folders under one top
    folder, none with a path that leaves it."""
    try:
        archive = tarfile.open(dossier, mode="r:")  # noqa: SIM115 (closed by the ``with`` below)
    except (OSError, tarfile.TarError) as exc:
        raise Refused(f"the dossier is not a readable tar file ({exc})") from exc
    with archive, tempfile.TemporaryDirectory(prefix="etender-dossier-") as folder:
        tops = set()
        try:
            members = archive.getmembers()
        except tarfile.TarError as exc:
            raise Refused(f"the dossier's tar file is damaged or cut short ({exc})") from exc
        for member in members:
            path = PurePosixPath(member.name)
            if path.is_absolute() or ".." in path.parts or not path.parts:
                raise Refused(f"the dossier holds {member.name!r}, a path outside its bag")
            if not (member.isfile() or member.isdir()):
                raise Refused(f"the dossier holds {member.name!r}, which is not a file or a folder")
            tops.add(path.parts[0])
        if len(tops) != 1:
            raise Refused(f"the dossier must hold one bag folder, not {sorted(tops)}")
        try:
            extract_all(archive, folder)
        except (OSError, tarfile.TarError) as exc:
            raise Refused(f"the dossier could not be unpacked ({exc})") from exc
        yield Path(folder) / tops.pop()


def extract_all(archive: tarfile.TarFile, folder: str | Path) -> None:
    """Unpack ``archive`` into ``folder``, with tarfile's ``data`` filter where this Python has it (3.11.4 and
    later; the machines' Debian Python 3.11.2 has not). The verifier checks every member before (regular files
    and folders under one top folder only), so without the filter nothing leaves the folder either."""
    if hasattr(tarfile, "data_filter"):
        archive.extractall(folder, filter="data")
    else:  # pragma: no cover - the Python of the machines that lack the filter
        archive.extractall(folder)  # noqa: S202 (every member was checked by _unpacked)


def _complete_bag(root: Path) -> bagit.Bag:
    """The bag, every file its manifest names present and no other under ``data/`` (the sizes and hashes are
    checked later, after the checks that can name what changed: an object, a ledger entry)."""
    try:
        bag = bagit.Bag(str(root))
        missing, added = bag.compare_manifests_with_fs()
    except bagit.BagError as exc:
        raise Refused(f"the dossier is not a BagIt bag: {exc}") from exc
    if missing:
        raise Refused(f"{sorted(missing)[0]} is missing: the bag's manifest names it")
    if added:
        raise Refused(f"{sorted(added)[0]} is not in the bag's manifest: it was added")
    if "sha256" not in bag.algorithms:
        raise Refused("the bag has no SHA-256 manifest")
    return bag


def _bag_problem(exc: bagit.BagValidationError) -> str:
    details = list(exc.details or [])
    if not details:
        return f"the bag does not validate: {exc.message}"
    first = details[0]
    if isinstance(first, bagit.ChecksumMismatch):
        return f"{first.path} was changed: its SHA-256 is {first.found}, the bag's manifest says {first.expected}"
    if isinstance(first, bagit.FileMissing):
        return f"{first.path} is missing: the bag's manifest names it"
    if isinstance(first, bagit.UnexpectedFile):
        return f"{first.path} is not in the bag's manifest: it was added"
    return f"the bag does not validate: {first}"


def _read(root: Path, name: str) -> bytes:
    try:
        return (root / name).read_bytes()
    except OSError as exc:
        raise Refused(f"the dossier has no readable {name}") from exc


def _check_signature(
    root: Path, anchors: list[Any], tsa_anchors: list[Any]
) -> tuple[dict[str, Any], list[Any], dt.datetime]:
    document = _json_object(_read(root, SIGNATURE_FILE), SIGNATURE_FILE)
    if sorted(document) != sorted((*SIGNATURE_FIELDS, "signature", "timestamp")):
        fields = ", ".join((*SIGNATURE_FIELDS, "signature", "timestamp"))
        raise Refused(f"{SIGNATURE_FILE} must have exactly the fields {fields}")
    if document["format"] != SIGNATURE_FORMAT:
        raise Refused(f"{SIGNATURE_FILE} is of format {document['format']!r}, not {SIGNATURE_FORMAT!r}")
    if not isinstance(document["case"], str) or not document["case"]:
        raise Refused(f"{SIGNATURE_FILE} names no case")
    chain_pems = document["platform_certificate_chain"]
    if not isinstance(chain_pems, list) or not chain_pems or not all(isinstance(p, str) for p in chain_pems):
        raise Refused(f"{SIGNATURE_FILE} carries no platform certificate chain")
    chain = _load_chain(chain_pems)
    signature = _b64(document["signature"], "dossier signature")
    sealed_at = _check_platform_signature(document, chain, anchors, signature, tsa_anchors, what="dossier's manifest")
    manifest = hashlib.sha256(_read(root, MANIFEST_FILE)).hexdigest()
    if manifest != document["manifest_sha256"]:
        raise Refused(
            f"{MANIFEST_FILE} was changed after the platform signed it (its SHA-256 is {manifest}, "
            f"the signature is over {document['manifest_sha256']})"
        )
    return document, chain, sealed_at


def _check_pdfs(root: Path, anchors: list[Any], moment: dt.datetime) -> int:
    """Each PDF the platform signed (``platform_signed`` in the registry) carries a PAdES signature that holds,
    by a certificate chaining to the given anchors, as of ``moment`` (when the dossier's time-stamp shows it
    existed: a certificate that expired since does not make an archived record fail)."""
    document = _json_object(_read(root, CASE_FILE), CASE_FILE)
    checked = 0
    for item in document["objects"]:
        if item["platform_signed"] is not True:
            continue
        path = PurePosixPath(OBJECTS, item["name"])
        report = check_pdf_signature((root / str(path)).read_bytes(), anchors, moment=moment)
        if not report.valid or report.problem:
            raise Refused(f"object {item['name']!r} ({path}): its PDF signature does not hold: {report.problem}")
        checked += 1
    return checked


def _check_earlier(
    root: Path,
    checkpoint: dict[str, Any],
    size: int,
    anchors: list[Any],
    tsa_anchors: list[Any],
    intermediates: Sequence[Any],
) -> dict[int, str]:
    """The checkpoints signed while the case was open: each signed by the platform, and extended by the
    dossier's (its consistency proof). Their roots by size."""
    document = _json_object(_read(root, EARLIER_FILE), EARLIER_FILE)
    items = document.get("earlier")
    if document.get("tree_size") != size or not isinstance(items, list):
        raise Refused(f"{EARLIER_FILE} is not for the checkpoint of {size} entries")
    roots: dict[int, str] = {}
    for item in items:
        earlier = item.get("checkpoint") if isinstance(item, dict) else None
        body = earlier.get("body") if isinstance(earlier, dict) else None
        if (
            not isinstance(earlier, dict)
            or not isinstance(body, dict)
            or not _is_int(body.get("tree_size"))
            or not isinstance(body.get("root"), str)
        ):
            raise Refused(f"{EARLIER_FILE} holds something that is not a checkpoint")
        old_size, old_root = body["tree_size"], body["root"]
        where = f"the earlier checkpoint of {old_size} entries ({EARLIER_FILE})"
        try:
            _check_checkpoint(earlier, {"tree_size": old_size, "root": old_root}, anchors, tsa_anchors, intermediates)
            later = {**checkpoint, "consistency": item.get("consistency")}
            _check_checkpoint(
                later, {"tree_size": old_size, "root": old_root}, anchors, tsa_anchors, intermediates, "its"
            )
        except Refused as refusal:
            raise Refused(f"{where}: {refusal}") from refusal
        roots[old_size] = old_root
    return roots


def _check_held(
    held: bytes | dict[str, Any],
    checkpoint: dict[str, Any],
    size: int,
    earlier: dict[int, str],
    anchors: list[Any],
    tsa_anchors: list[Any],
    intermediates: Sequence[Any],
) -> int:
    """A checkpoint held elsewhere: signed by the platform, and the dossier's ledger extends it (the same
    root at its size: the dossier's own checkpoint or one of its earlier ones)."""
    document = dict(held) if isinstance(held, dict) else _json_object(held, "the checkpoint held")
    body = document.get("body")
    if not isinstance(body, dict) or not _is_int(body.get("tree_size")) or not isinstance(body.get("root"), str):
        raise Refused("the checkpoint held is not a checkpoint")
    held_size: int = body["tree_size"]
    held_root: str = body["root"]
    where = f"the checkpoint of {held_size} entries held elsewhere"
    try:
        _check_checkpoint(document, {"tree_size": held_size, "root": held_root}, anchors, tsa_anchors, intermediates)
    except Refused as refusal:
        raise Refused(f"{where}: {refusal}") from refusal
    known = {**earlier, size: checkpoint["body"]["root"]}
    if held_size > size:
        raise Refused(f"{where} is newer than the dossier's ({size} entries): ask for a dossier built since")
    if held_size not in known:
        raise Refused(
            f"{where}: the dossier carries no consistency proof from it (it was not signed while the case was open)"
        )
    if known[held_size] != held_root:
        raise Refused(
            f"{where} does not extend to the dossier's ledger: the dossier's tree of {held_size} entries has another "
            "root (the ledger was rewritten after that checkpoint was signed: a fork)"
        )
    return held_size


def _check_entries(root: Path, case: str, size: int, root_hash: str) -> dict[int, dict[str, Any]]:
    """The case's ledger entries, by seq, each checked against its hashes and the checkpoint's root."""
    document = _json_object(_read(root, ENTRIES_FILE), ENTRIES_FILE)
    if document.get("case") != case:
        raise Refused(f"{ENTRIES_FILE} is the ledger of {document.get('case')!r}, not of {case!r}")
    if document.get("tree_size") != size or document.get("root") != root_hash:
        raise Refused(f"{ENTRIES_FILE}'s proofs are not for the checkpoint's tree of {size} entries")
    rows = document.get("entries")
    if not isinstance(rows, list) or not rows:
        raise Refused(f"{ENTRIES_FILE} holds no entries")
    entries: dict[int, dict[str, Any]] = {}
    previous = 0
    for row in rows:
        if not isinstance(row, dict) or not _is_int(row.get("seq")):
            raise Refused(f"{ENTRIES_FILE} holds a row that is not a ledger entry")
        seq = row["seq"]
        where = f"ledger entry {seq} ({ENTRIES_FILE})"
        if seq <= previous or seq > size:
            raise Refused(f"{where} is out of order or beyond the checkpoint's {size} entries")
        previous = seq
        try:
            entry, content = _check_entry(row)
        except Refused as refusal:
            raise Refused(f"{where}: {refusal}") from refusal
        except (KeyError, TypeError) as exc:
            raise Refused(f"{where} lacks a field ({exc})") from exc
        if entry["case"] != case:
            raise Refused(f"{where} belongs to {entry['case']!r}, not to {case!r}")
        proof = row.get("inclusion_proof")
        if not isinstance(proof, list) or not all(isinstance(node, str) for node in proof):
            raise Refused(f"{where} has no inclusion proof")
        try:
            nodes = [bytes.fromhex(node) for node in proof]
        except ValueError as exc:
            raise Refused(f"{where}'s inclusion proof is not hex") from exc
        if not merkle.verify_inclusion(merkle.leaf_hash(content), seq - 1, size, nodes, bytes.fromhex(root_hash)):
            raise Refused(f"{where} is not in the signed tree: its inclusion proof does not lead to the root")
        entries[seq] = entry
    return entries


def _check_objects(root: Path, bag: bagit.Bag, case: str, entries: dict[int, dict[str, Any]]) -> int:
    manifest = {PurePosixPath(key).as_posix(): value for key, value in bag.entries.items()}
    document = _json_object(_read(root, CASE_FILE), CASE_FILE)
    if document.get("format") != DOSSIER_FORMAT or document.get("case") != case:
        raise Refused(f"{CASE_FILE} is not the registry of {case!r} in format {DOSSIER_FORMAT!r}")
    objects = document.get("objects")
    if not isinstance(objects, list):
        raise Refused(f"{CASE_FILE} has no list of objects")
    filed_entries = {seq: e for seq, e in entries.items() if e["action"] == FILED_ACTION}
    seen: set[str] = set()
    for item in objects:
        if not isinstance(item, dict) or sorted(item) != sorted(OBJECT_FIELDS):
            raise Refused(f"{CASE_FILE} holds an object without exactly the fields {', '.join(OBJECT_FIELDS)}")
        name = item["name"]
        where = f"object {name!r}"
        path = PurePosixPath(OBJECTS, name) if isinstance(name, str) else None
        if path is None or ".." in path.parts or name in seen:
            raise Refused(f"{CASE_FILE} names {where} twice or outside the objects folder")
        seen.add(name)
        entry = filed_entries.pop(item["ledger_seq"], None) if _is_int(item["ledger_seq"]) else None
        if entry is None:
            raise Refused(f"{where}: the ledger segment has no {FILED_ACTION} entry {item['ledger_seq']} for it")
        recorded = {k: entry["data"].get(k) for k in FILED_FIELDS}
        if recorded != {k: item[k] for k in FILED_FIELDS}:
            raise Refused(f"{where}: the case's registry differs from what ledger entry {item['ledger_seq']} recorded")
        file = root / str(path)
        if not file.is_file():
            raise Refused(f"{where} is missing from the dossier ({path})")
        # Against the signed manifest (check 3): that every file matches the manifest is bagit's pass at the
        # end, which reads each byte once.
        listed = manifest.get(str(path), {}).get("sha256")
        if listed != item["sha256"] or file.stat().st_size != item["size"]:
            raise Refused(
                f"{where} ({path}) is not what the case filed: the signed manifest says SHA-256 {listed} and the "
                f"file has {file.stat().st_size} bytes, the case filed {item['size']} bytes with {item['sha256']}"
            )
    if filed_entries:
        seq, entry = next(iter(sorted(filed_entries.items())))
        raise Refused(
            f"object {entry['data'].get('name')!r} was filed (ledger entry {seq}) but is not in the dossier's registry"
        )
    extra = sorted(
        str(PurePosixPath(p.relative_to(root)))
        for p in (root / OBJECTS).rglob("*")
        if p.is_file() and str(PurePosixPath(p.relative_to(root / OBJECTS))) not in seen
    )
    if extra:
        raise Refused(f"{extra[0]} is in the dossier but the case never filed it")
    return len(objects)


def describe(result: DossierVerification) -> str:
    """The lines the command prints for a result."""
    if not result.ok:
        return "\n".join([*(f"ok: {line}" for line in result.passed), f"FAILED: {result.reason}"])
    lines = [f"ok: {line}" for line in result.passed]
    lines.append(
        f"OK: dossier of {result.case}: {result.objects} objects and {result.entries} ledger entries, "
        f"in the signed tree of {result.checkpoint_size} entries"
    )
    return "\n".join(lines)


__all__ = ["DOSSIER_FORMAT", "DossierVerification", "describe", "extract_all", "signed_bytes", "verify_dossier"]
