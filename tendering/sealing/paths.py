"""The path of a bid file in the container (docs/sealed-bid-format.md §3.1): one rule for the container's
members and for the response index's pointers."""

from __future__ import annotations

import re
import unicodedata

from tendering.sealing.errors import ContainerError

BID_PREFIX = "bid/"
MAX_PATH_BYTES = 1024
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def check_member_path(path: str) -> str:
    """``path`` if it may name a bid file in the container: ``bid/`` and a clean relative path, NFC."""
    if not isinstance(path, str):
        raise ContainerError("a member path is a string")
    if not path.startswith(BID_PREFIX):
        raise ContainerError(f"bid files live under {BID_PREFIX!r}, not at {path!r}")
    try:
        encoded = path.encode("utf-8")
    except UnicodeEncodeError:
        raise ContainerError(f"the file name {path!r} is not valid Unicode text") from None
    if len(encoded) > MAX_PATH_BYTES:
        raise ContainerError(f"the path {path!r} is longer than {MAX_PATH_BYTES} bytes")
    if _CONTROL.search(path) or "\\" in path:
        raise ContainerError(f"the path {path!r} contains control characters or a backslash")
    if not unicodedata.is_normalized("NFC", path):
        raise ContainerError(f"the path {path!r} is not in Unicode normalization form C")
    for part in path.split("/")[1:]:
        if part in ("", ".", ".."):
            raise ContainerError(f"the path {path!r} has an empty, '.' or '..' component")
    return path
