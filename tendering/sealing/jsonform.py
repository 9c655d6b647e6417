"""Strict reading of the canonical JSON documents of the format (manifest, price summary).

Writing uses ``archive.canonical`` (RFC 8785, no floats, integers within
±(2**53 - 1)); that module is framework-free, so a standalone client can use
it. Reading accepts only bytes that are already canonical: one document, one
spelling.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from archive.canonical import canonical_json

__all__ = ["canonical_json", "parse_canonical"]


class _Refused(ValueError):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _Refused(f"the key {key!r} appears twice in one object")
        result[key] = value
    return result


def _no_float(text: str) -> Any:
    raise _Refused(f"the number {text} is not an integer (amounts travel as decimal strings)")


def _no_constant(text: str) -> Any:
    raise _Refused(f"{text} is not JSON")


def parse_canonical(data: bytes, *, max_size: int, what: str, error: Callable[[str], Exception]) -> Any:
    """The JSON value of ``data``, which must be UTF-8, at most ``max_size`` bytes and canonical (RFC 8785)."""
    if not isinstance(data, (bytes, bytearray)):
        raise error(f"the {what} must be bytes, not {type(data).__name__}")
    if len(data) > max_size:
        raise error(f"the {what} has {len(data)} bytes, more than the {max_size} allowed")
    try:
        text = bytes(data).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error(f"the {what} is not UTF-8 (byte {exc.start})") from None
    try:
        value = json.loads(text, object_pairs_hook=_no_duplicates, parse_float=_no_float, parse_constant=_no_constant)
    except _Refused as exc:
        raise error(f"the {what} is refused: {exc}") from None
    except json.JSONDecodeError as exc:
        raise error(f"the {what} is not JSON: {exc.msg} at byte {exc.pos}") from None
    except RecursionError:
        raise error(f"the {what} is nested too deeply") from None
    except ValueError as exc:  # an integer of more digits than Python converts
        raise error(f"the {what} is refused: {exc}") from None
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
