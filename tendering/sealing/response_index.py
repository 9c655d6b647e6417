"""The bidder's response index (评审因素定位) and the required-materials check (一次性告知).

The index is the optional second member of the container,
``etender/response-index.json`` (docs/sealed-bid-format.md §3.8): canonical
JSON pointing each criterion, qualification item or required document of the
tender's method to a file of the bid and a page in it. It travels inside the
ciphertext, so nobody reads it before the opening.

``missing_documents`` is the check a bidder's client runs before sealing, on
its own machine: every document the method names must be pointed to by the
index at a file of the folder, or a file whose name contains the document's
name must be there. It sends nothing anywhere.
"""

from __future__ import annotations

import itertools
import json
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tendering.sealing.errors import ContainerError, ResponseIndexError
from tendering.sealing.jsonform import canonical_json, parse_canonical
from tendering.sealing.paths import BID_PREFIX as _BID_PREFIX
from tendering.sealing.paths import check_member_path

RESPONSE_INDEX_PATH = "etender/response-index.json"
RESPONSE_INDEX_FORMAT = "etender-response-index-v1"
MAX_RESPONSE_INDEX_SIZE = 1_048_576
MAX_POINTERS = 2000
MAX_PAGE = 100_000
ITEM_ID = re.compile(r"\A[A-Za-z0-9_-]{1,16}\Z")


@dataclass(frozen=True)
class Pointer:
    """One pointer: ``item`` (an id of the method) is answered at ``page`` of the file ``path`` (relative to the
    bid folder; the container stores the file at ``bid/`` + path)."""

    item: str
    path: str
    page: int

    def __post_init__(self) -> None:
        if not isinstance(self.item, str) or not ITEM_ID.match(self.item):
            raise ResponseIndexError(
                f"a pointer's item must be an id of 1 to 16 letters, digits, '-' or '_', got {self.item!r}"
            )
        if not isinstance(self.path, str) or not self.path:
            raise ResponseIndexError(f"the pointer of {self.item} has no file path")
        try:
            _check_path(self.path)
        except ContainerError as exc:
            raise ResponseIndexError(f"the pointer of {self.item}: {exc}") from None
        if not isinstance(self.page, int) or isinstance(self.page, bool) or not 1 <= self.page <= MAX_PAGE:
            raise ResponseIndexError(f"the pointer of {self.item}: the page must be an integer from 1 to {MAX_PAGE}")

    @property
    def member_path(self) -> str:
        """The file's path in the container."""
        return _BID_PREFIX + self.path

    def sort_key(self) -> tuple[bytes, bytes, int]:
        return self.item.encode("ascii"), self.path.encode("utf-8"), self.page

    def to_json(self) -> dict[str, Any]:
        return {"item": self.item, "page": self.page, "path": self.path}


def _check_path(path: str) -> None:
    check_member_path(_BID_PREFIX + path)


@dataclass(frozen=True)
class ResponseIndex:
    """1 to 2,000 pointers, sorted by item, then the UTF-8 bytes of the path, then page; none twice."""

    pointers: tuple[Pointer, ...]

    def __post_init__(self) -> None:
        if not isinstance(self.pointers, tuple) or not all(isinstance(p, Pointer) for p in self.pointers):
            raise ResponseIndexError("a response index holds a tuple of Pointer values")
        if not 1 <= len(self.pointers) <= MAX_POINTERS:
            raise ResponseIndexError(f"a response index has 1 to {MAX_POINTERS} pointers, not {len(self.pointers)}")
        keys = [p.sort_key() for p in self.pointers]
        for before, after in itertools.pairwise(keys):
            if before == after:
                raise ResponseIndexError(
                    f"the pointer of {after[0].decode()} to {after[1].decode()} page {after[2]} appears twice"
                )
            if before > after:
                raise ResponseIndexError(
                    "the pointers are not in order (by item, then the UTF-8 bytes of the path, then page)"
                )

    @classmethod
    def of(cls, pointers: Iterable[Pointer]) -> ResponseIndex:
        """The index of ``pointers`` in any order (sorted here)."""
        return cls(tuple(sorted(pointers, key=Pointer.sort_key)))

    def to_json(self) -> dict[str, Any]:
        return {"format": RESPONSE_INDEX_FORMAT, "pointers": [p.to_json() for p in self.pointers]}

    def canonical_bytes(self) -> bytes:
        data = canonical_json(self.to_json())
        if len(data) > MAX_RESPONSE_INDEX_SIZE:
            raise ResponseIndexError(f"the response index has {len(data)} bytes, more than {MAX_RESPONSE_INDEX_SIZE}")
        return data

    def check_paths(self, member_paths: Iterable[str]) -> None:
        """Refuse a pointer to a file that is not one of the container's (``member_paths``: ``bid/…``)."""
        unknown = sorted({p.member_path for p in self.pointers} - set(member_paths))
        if unknown:
            raise ResponseIndexError(
                f"the response index points to {len(unknown)} file(s) not in the bid: "
                + ", ".join(repr(path.removeprefix(_BID_PREFIX)) for path in unknown[:5])
            )


def parse_response_index(data: bytes) -> ResponseIndex:
    """The response index in ``data``: canonical JSON with exactly the fields of format v1, pointers in order."""
    value = parse_canonical(data, max_size=MAX_RESPONSE_INDEX_SIZE, what="response index", error=ResponseIndexError)
    _expect_fields(value, {"format", "pointers"}, "the response index")
    if value["format"] != RESPONSE_INDEX_FORMAT:
        raise ResponseIndexError(f"the response index's format must be {RESPONSE_INDEX_FORMAT!r}")
    pointers = value["pointers"]
    if not isinstance(pointers, list):
        raise ResponseIndexError("the response index's pointers must be a list")
    if len(pointers) > MAX_POINTERS:
        raise ResponseIndexError(f"a response index has 1 to {MAX_POINTERS} pointers, not {len(pointers)}")
    found = []
    for number, pointer in enumerate(pointers):
        _expect_fields(pointer, {"item", "path", "page"}, f"pointer {number}")
        found.append(Pointer(pointer["item"], pointer["path"], pointer["page"]))
    return ResponseIndex(tuple(found))


def _expect_fields(value: object, names: set[str], what: str) -> None:
    if not isinstance(value, dict):
        raise ResponseIndexError(f"{what} must be an object")
    missing = sorted(names - value.keys())
    unknown = sorted(value.keys() - names)
    if missing:
        raise ResponseIndexError(f"{what} lacks {', '.join(missing)}")
    if unknown:
        raise ResponseIndexError(f"{what} has unknown fields: {', '.join(unknown)}")


# -- the bidder's file: a template to fill in, read leniently into the canonical index --------------------------

NOTE_FIELDS = frozenset({"title", "kind"})


def method_items(method: Mapping[str, Any] | None) -> list[dict[str, str]]:
    """Every item a pointer may name, in the method's order: ``{"item", "kind", "title"}`` for each criterion,
    qualification item and required document (kind ``technical``/``commercial``, ``qualification``,
    ``document``). A method that is missing (None) names none."""
    if not isinstance(method, Mapping):
        return []
    items = []
    for criterion in _objects(method.get("criteria")):
        items.append(
            {
                "item": str(criterion.get("id", "")),
                "kind": str(criterion.get("kind", "")),
                "title": str(criterion.get("title", "")),
            }
        )
    for qualification in _objects(method.get("qualification")):
        items.append(
            {
                "item": str(qualification.get("id", "")),
                "kind": "qualification",
                "title": str(qualification.get("title", "")),
            }
        )
        for document in _objects(qualification.get("documents")):
            items.append(
                {"item": str(document.get("id", "")), "kind": "document", "title": str(document.get("name", ""))}
            )
    return [i for i in items if ITEM_ID.match(i["item"])]


def _objects(value: object) -> list[Mapping[str, Any]]:
    return [v for v in value if isinstance(v, Mapping)] if isinstance(value, list) else []


def index_template(method: Mapping[str, Any] | None, folder_files: Sequence[str]) -> dict[str, Any]:
    """A file for the bidder to fill: one pointer per item of the method, ``path`` guessed for a document
    (a file whose name contains its name) and empty otherwise, ``page`` 1; ``title``/``kind`` as notes."""
    pointers = []
    for item in method_items(method):
        guess = _named_file(item["title"], folder_files) if item["kind"] == "document" else None
        pointers.append({**item, "path": guess or "", "page": 1})
    return {"format": RESPONSE_INDEX_FORMAT, "pointers": pointers}


def read_pointer_file(data: bytes, method: Mapping[str, Any] | None = None) -> ResponseIndex | None:
    """The index the bidder wrote (a template of ``index_template``, filled in): JSON, pointers in any order,
    notes (``title``, ``kind``) ignored, pointers with an empty path left out. With ``method``, an item it
    does not name is refused. None when no pointer is filled."""
    try:
        value = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ResponseIndexError(f"the response index file is not JSON: {exc}") from None
    if not isinstance(value, dict) or value.get("format") != RESPONSE_INDEX_FORMAT:
        raise ResponseIndexError(f"the response index file must be an object of format {RESPONSE_INDEX_FORMAT!r}")
    if set(value) - {"format", "pointers"} or not isinstance(value.get("pointers"), list):
        raise ResponseIndexError("the response index file holds exactly format and a list of pointers")
    known = {i["item"] for i in method_items(method)} if method is not None else None
    pointers = []
    for number, entry in enumerate(value["pointers"]):
        if not isinstance(entry, dict) or set(entry) - {"item", "path", "page"} - NOTE_FIELDS:
            raise ResponseIndexError(f"pointer {number} must be an object of item, path and page")
        if entry.get("path", "") == "":
            continue
        if known is not None and entry.get("item") not in known:
            raise ResponseIndexError(
                f"pointer {number} names {entry.get('item')!r}, not an item of the tender's method"
            )
        item: Any = entry.get("item")
        path: Any = entry["path"]
        pointers.append(
            Pointer(item, unicodedata.normalize("NFC", path) if isinstance(path, str) else path, entry.get("page", 1))
        )
    return ResponseIndex.of(pointers) if pointers else None


# -- 一次性告知: the required materials, checked before sealing -----------------------------------------------------


def missing_documents(
    method: Mapping[str, Any] | None, folder_files: Iterable[str], index: ResponseIndex | None
) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """The (qualification item, document) pairs of ``method`` that the bid does not hold, in the method's order.

    ``folder_files`` are the bid's files relative to its folder (``资格/营业执照.pdf``). A document is held
    when the index points to it at one of these files, or when a file's name without its extension
    contains the document's name (compared in NFC, lower-cased). No method: nothing is required.
    """
    files = [unicodedata.normalize("NFC", f) for f in folder_files]
    present = set(files)
    pointed = {p.item for p in index.pointers if p.path in present} if index is not None else set()
    missing = []
    for qualification in _objects((method or {}).get("qualification")):
        for document in _objects(qualification.get("documents")):
            if document.get("id") in pointed:
                continue
            if _named_file(str(document.get("name", "")), files) is None:
                missing.append((dict(qualification), dict(document)))
    return missing


def _named_file(name: str, files: Sequence[str]) -> str | None:
    wanted = unicodedata.normalize("NFC", name).lower().strip()
    if not wanted:
        return None
    for path in files:
        base = path.rsplit("/", 1)[-1]
        stem = base.rsplit(".", 1)[0] if "." in base[1:] else base
        if wanted in unicodedata.normalize("NFC", stem).lower():
            return path
    return None
