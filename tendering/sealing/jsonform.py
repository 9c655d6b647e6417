"""Strict reading of the canonical JSON documents of the format (manifest, price summary).

Writing uses ``archive.canonical`` (RFC 8785, no floats, integers within
±(2**53 - 1)); that module is framework-free, so a standalone client can use
it. Reading accepts only bytes that are already canonical: one document, one
spelling.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from archive import strict_json
from archive.canonical import canonical_json

__all__ = ["canonical_json", "parse_canonical"]


def parse_canonical(data: bytes, *, max_size: int, what: str, error: Callable[[str], Exception]) -> Any:
    """The JSON value of ``data``, which must be UTF-8, at most ``max_size`` bytes and canonical (RFC 8785)."""
    if not isinstance(data, (bytes, bytearray)):
        raise error(f"the {what} must be bytes, not {type(data).__name__}")
    try:
        value = strict_json.loads(bytes(data), what=f"the {what}", max_size=max_size)
    except strict_json.StrictJSONError as exc:
        raise error(str(exc)) from None
    try:
        canonical = canonical_json(value)
    except (TypeError, ValueError) as exc:
        raise error(f"the {what} cannot be canonicalized: {exc}") from None
    if canonical != bytes(data):
        at = next(
            (i for i, (a, b) in enumerate(zip(canonical, data, strict=False)) if a != b), min(len(canonical), len(data))
        )
        raise error(f"the {what} is not in canonical form (RFC 8785): it differs from its canonical bytes at byte {at}")
    return value
