"""An opened bid's files, read straight out of the ciphertext accepted at the deadline.

The opening keeps no second copy of a bid. Its one pass (``decryption``,
``tendering.sealing.container.index_container``) leaves an index on the
bid (``BidOpening.files``): each file's path, size and SHA-256, where its
data begin in the container and which ciphertext segments hold them. A file,
or any byte range of it, is read here by a range read of only those segments
of the accepted object (``ObjectStore.open_range``), each authenticated at
its position with the bid's file key, which stays sealed under the platform
data key (``archive.vault``) and is opened for each read. Memory stays flat:
one segment at a time.

Before the index is used it is checked against the container's one canonical
form (each file's place follows from the price summary's size and the list
of paths and sizes, and the response index's size, to which the ledger's ``bid_opened`` entry commits), and a
whole file read is checked against its SHA-256 as it ends.

Only a bid that is ``opened`` in an opening whose record is published is
read: before that nobody sees anything of a bid's content (docs/opening.md §3).
Who may read it is the caller's to decide (the evaluation).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any

from django.utils.translation import gettext as _

from accounts.errors import InvalidInput, NotFound, WrongPhase
from archive.models import LedgerEntry
from archive.storage import get_object_store
from tendering.models import BidOpening, BidOpeningState
from tendering.sealing import Decryptor, parse_manifest
from tendering.sealing.container import IndexedFile, data_offsets, read_indexed_file
from tendering.sealing.jsonform import canonical_json
from tendering.sealing.stream import HEADER_SIZE, layout_for_ciphertext
from tendering.services.opening.key_seals import open_file_key


class BidIndexInvalid(Exception):
    """The stored index is not the container's canonical form, or a file read whole does not have its SHA-256:
    the platform's own records are wrong (never served)."""


def index_entry(indexed: IndexedFile, segment_size: int) -> dict[str, object]:
    """How one file of the index is kept in ``BidOpening.files``."""
    first, last = indexed.segments(segment_size)
    return {
        "path": indexed.path,
        "size": indexed.size,
        "sha256": indexed.sha256,
        "offset": indexed.offset,
        "segments": [first, last],
    }


def bid_file_index(bid_opening: BidOpening) -> list[IndexedFile]:
    """The opened bid's files, checked against the container's canonical form."""
    if bid_opening.state != BidOpeningState.OPENED or bid_opening.opening.record_published_at is None:
        raise WrongPhase(_("投标文件在开标记录公布后方可查阅。"), code="bid_files_not_revealed")
    files = [IndexedFile(f["path"], f["size"], f["offset"], f["sha256"]) for f in bid_opening.files]
    index = bid_opening.response_index
    expected = data_offsets(
        len(canonical_json(bid_opening.price_summary)),
        [(f.path, f.size) for f in files],
        None if index is None else len(canonical_json(index)),
    )
    segment_size = layout_for_ciphertext(bid_opening.bid.size).segment_size
    if [f.offset for f in files] != expected or [index_entry(f, segment_size) for f in files] != bid_opening.files:
        raise BidIndexInvalid(f"the index of bid {bid_opening.bid.public_id} is not its container's form")
    if len(bytes(bid_opening.ciphertext_header)) != HEADER_SIZE:
        raise BidIndexInvalid(f"bid {bid_opening.bid.public_id} has no ciphertext header")
    return files


def response_index(bid_opening: BidOpening) -> dict[str, Any] | None:
    """The bidder's response index (评审因素定位, docs/sealed-bid-format.md §3.8) as kept at the opening, or None
    when the bid has none; checked against the ledger's ``bid_opened`` entry, which commits to its SHA-256 (the
    row alone could be edited: the files' places only see a change of its padded size).

    Same gate as the files (``bid_files_not_revealed``). Raises ``BidIndexInvalid`` when the row and the
    ledger disagree. Pointers name items of the method and files of the bid; which pages a member sees is
    the caller's to decide.
    """
    bid_file_index(bid_opening)  # the gate, and the files' places (which follow from the index's size)
    found = bid_opening.response_index
    public_id = str(bid_opening.bid.public_id)
    entries = LedgerEntry.objects.filter(
        case=bid_opening.opening.tender.case, action="tendering.opening.bid_opened", data__contains=public_id
    ).order_by("seq")
    committed = [d for d in (json.loads(e.data) for e in entries) if d.get("bid_id") == public_id]
    if len(committed) != 1:
        raise BidIndexInvalid(f"bid {public_id} has {len(committed)} bid_opened entries in the ledger")
    expected = committed[0].get("response_index_sha256")
    actual = None if found is None else hashlib.sha256(canonical_json(found)).hexdigest()
    if actual != expected:
        raise BidIndexInvalid(f"the response index of bid {public_id} is not the one the ledger committed to")
    return found


def stream_bid_file(bid_opening: BidOpening, path: str, *, start: int = 0, end: int | None = None) -> Iterator[bytes]:
    """Bytes ``[start, end)`` (default: all) of the opened bid's file ``path``, decrypted out of the accepted
    ciphertext by segment ranges, in chunks of at most one segment.

    Refuses at once (nothing read): a bid not opened or an opening whose
    record is not published (``bid_files_not_revealed``), a path not in the
    bid (``no_such_file``), a range outside the file (``invalid_input``). A
    segment that does not authenticate raises ``SealingError`` and a whole
    file whose SHA-256 differs ``BidIndexInvalid``, as the stream reaches it.
    """
    files = {f.path: f for f in bid_file_index(bid_opening)}
    indexed = files.get(path)
    if indexed is None:
        raise NotFound(_("该投标文件中没有此文件。"), code="no_such_file")
    stop = indexed.size if end is None else end
    if not (isinstance(start, int) and isinstance(stop, int) and 0 <= start <= stop <= indexed.size):
        raise InvalidInput({"range": [_("所请求的字节范围超出文件大小。")]})
    return _stream(bid_opening, indexed, start, stop)


def _stream(bid_opening: BidOpening, indexed: IndexedFile, start: int, end: int) -> Iterator[bytes]:
    bid = bid_opening.bid
    manifest = parse_manifest(bytes(bid.manifest))
    decryptor = Decryptor(open_file_key(bid_opening), manifest.identity.stream_info())
    store = get_object_store()
    whole = start == 0 and end == indexed.size
    digest = hashlib.sha256() if whole else None

    def open_range(offset: int, length: int) -> Any:
        return store.open_range(bid.object_key, bid.version_id or None, offset, length)

    chunks = read_indexed_file(
        decryptor,
        bytes(bid_opening.ciphertext_header),
        layout_for_ciphertext(bid.size),
        indexed,
        open_range,
        start,
        end,
    )
    for view in chunks:
        if digest is not None:
            digest.update(view)
        yield bytes(view)
    if digest is not None and digest.hexdigest() != indexed.sha256:
        raise BidIndexInvalid(f"{indexed.path} of bid {bid.public_id} does not have the SHA-256 of its index")
