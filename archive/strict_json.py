"""The one strict JSON reader: what the platform reads from others (manifests, statements, receipts,
ledger entries, checkpoints) has one meaning or is refused.

Framework-free (like ``archive.canonical``), so the offline verifier, the sealed-bid format and the
bidder's client share it. Refused, with a message that says why:

- bytes that are not UTF-8, or more of them than ``max_size``;
- an object with the same key twice (two readers could take different values);
- ``NaN``, ``Infinity`` and ``-Infinity`` (not JSON);
- any number with a fraction or an exponent, unless ``floats=True`` (amounts travel as decimal
  strings), and integers of more digits than Python converts;
- nesting deeper than the decoder's stack, and anything that is not JSON.
"""

from __future__ import annotations

import json
from typing import Any, Literal

Reason = Literal["not_utf8", "too_large", "duplicate_key", "float", "constant", "too_deep", "not_json"]


class StrictJSONError(ValueError):
    """The document was refused: ``reason`` says which rule, ``detail`` what broke it (without naming the
    document), ``str()`` both in words; ``position`` (and ``line``, ``column`` for a syntax error) where."""

    def __init__(
        self,
        reason: Reason,
        message: str,
        *,
        detail: str = "",
        position: int | None = None,
        line: int | None = None,
        column: int | None = None,
    ) -> None:
        super().__init__(message)
        self.reason: Reason = reason
        self.detail = detail or message
        self.position = position
        self.line = line
        self.column = column


class _Refused(ValueError):
    def __init__(self, reason: Reason, message: str) -> None:
        super().__init__(message)
        self.reason: Reason = reason


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _Refused("duplicate_key", f"the key {key!r} appears twice")
        result[key] = value
    return result


def _no_float(text: str) -> Any:
    raise _Refused("float", f"the number {text} is not an integer")


def _no_constant(text: str) -> Any:
    raise _Refused("constant", f"{text} is not JSON")


def loads(
    data: bytes | bytearray | str, *, what: str = "the document", max_size: int | None = None, floats: bool = False
) -> Any:
    """The JSON value of ``data``, or ``StrictJSONError`` naming ``what`` and the rule it broke."""
    if isinstance(data, str):
        text = data
        size = len(data.encode("utf-8", "surrogatepass"))
    elif isinstance(data, (bytes, bytearray)):
        size = len(data)
        if max_size is None or size <= max_size:
            try:
                text = bytes(data).decode("utf-8")
            except UnicodeDecodeError as exc:
                raise StrictJSONError(
                    "not_utf8",
                    f"{what} is not UTF-8 ({exc.reason} at byte {exc.start})",
                    detail=str(exc.reason),
                    position=exc.start,
                ) from None
    else:
        raise TypeError(f"{what} must be bytes or text, not {type(data).__name__}")
    if max_size is not None and size > max_size:
        raise StrictJSONError("too_large", f"{what} has {size} bytes, more than the {max_size} allowed")
    try:
        return json.loads(
            text,
            object_pairs_hook=_no_duplicates,
            parse_float=float if floats else _no_float,
            parse_constant=_no_constant,
        )
    except _Refused as exc:
        raise StrictJSONError(exc.reason, f"{what} is refused: {exc}", detail=str(exc)) from None
    except json.JSONDecodeError as exc:
        raise StrictJSONError(
            "not_json",
            f"{what} is not JSON: {exc.msg} at position {exc.pos}",
            detail=exc.msg,
            position=exc.pos,
            line=exc.lineno,
            column=exc.colno,
        ) from None
    except RecursionError:
        raise StrictJSONError("too_deep", f"{what} is nested too deeply", detail="nested too deeply") from None
    except ValueError as exc:  # an integer of more digits than Python converts
        raise StrictJSONError("not_json", f"{what} is refused: {exc}", detail=str(exc)) from None
