"""Canonical JSON (RFC 8785, JCS) and the byte forms the ledger hashes and signs.

Framework-free, so that an offline verifier can import it without Django.

The ledger accepts a strict subset of JSON values, so that the same record can
only ever be written one way: objects with string keys, arrays, strings,
booleans, null and integers within ±(2**53 - 1). Floats are refused (money and
quantities travel as decimal strings), and so are bytes (base64 them), datetimes
(ISO 8601 strings, see ``format_timestamp``) and every other type: the caller
converts explicitly instead of this module guessing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import rfc8785

# JSON numbers are IEEE 754 doubles for most readers; larger integers lose digits.
MAX_SAFE_INTEGER = 2**53 - 1

# prev of the first entry: no entry came before it.
GENESIS_HASH = "0" * 64

CHECKPOINT_TYPE = "etender-ledger-checkpoint-v1"


def canonical_json(obj: Any) -> bytes:
    """The RFC 8785 canonical UTF-8 bytes of ``obj``.

    Raises ``TypeError`` for a value the ledger does not accept (float, bytes,
    datetime, non-string key, any other type) and ``ValueError`` for an integer
    outside ±(2**53 - 1) or a string that is not valid Unicode text; the message
    names where in ``obj`` the value sits (``$.items[2].price``).
    """
    try:
        return rfc8785.dumps(_plain(obj, "$"))
    except rfc8785.CanonicalizationError as exc:  # lone surrogates, mostly
        raise ValueError(f"cannot canonicalize: {exc}") from exc


def _plain(obj: Any, path: str) -> Any:
    """A copy of ``obj`` made only of dict, list, str, int, bool and None."""
    if obj is None or isinstance(obj, bool):
        return obj
    if isinstance(obj, int):
        if not -MAX_SAFE_INTEGER <= obj <= MAX_SAFE_INTEGER:
            raise ValueError(f"{path}: integer {obj} is outside ±(2**53 - 1); send it as a decimal string")
        return int(obj)
    if isinstance(obj, str):
        # str subclasses (Django's TextChoices members) become their plain value.
        return str.__str__(obj)
    if isinstance(obj, float):
        raise TypeError(
            f"{path}: float {obj!r} is not accepted (ambiguous); send numbers as integers or decimal strings"
        )
    if isinstance(obj, Mapping):
        plain: dict[str, Any] = {}
        for key, value in obj.items():
            if not isinstance(key, str):
                raise TypeError(f"{path}: object key {key!r} is a {type(key).__name__}; keys must be strings")
            plain[str.__str__(key)] = _plain(value, f"{path}.{key}")
        return plain
    if isinstance(obj, (list, tuple)):
        return [_plain(item, f"{path}[{i}]") for i, item in enumerate(obj)]
    if isinstance(obj, (bytes, bytearray, memoryview)):
        raise TypeError(f"{path}: bytes are not JSON; encode them (base64 or hex) into a string")
    if isinstance(obj, (dt.datetime, dt.date, dt.time)):
        raise TypeError(f"{path}: {type(obj).__name__} is not JSON; convert it to an ISO 8601 string")
    raise TypeError(f"{path}: {type(obj).__name__} is not a JSON type the ledger accepts")


def format_timestamp(moment: dt.datetime) -> str:
    """UTC, microseconds, ``Z``: ``2026-03-02T01:00:00.000000Z``. One spelling per instant."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("timestamps must be timezone-aware")
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def ledger_entry_bytes(
    *,
    seq: int,
    case: str,
    action: str,
    actor_id: int | None,
    actor: str,
    recorded_at: str,
    data: Mapping[str, Any],
    prev: str,
) -> bytes:
    """The bytes an entry's ``entry_hash`` and Merkle leaf are computed over (docs/ledger.md)."""
    return canonical_json(
        {
            "seq": seq,
            "case": case,
            "action": action,
            "actor_id": actor_id,
            "actor": actor,
            "recorded_at": recorded_at,
            "data": data,
            "prev": prev,
        }
    )


_DATA_SLOT = "\u0000etender-data\u0000"


def ledger_entry_bytes_with_data_json(
    *,
    seq: int,
    case: str,
    action: str,
    actor_id: int | None,
    actor: str,
    recorded_at: str,
    data_json: bytes,
    prev: str,
) -> bytes:
    """``ledger_entry_bytes`` for data that is already canonical JSON bytes, without canonicalizing it again.

    The envelope is canonicalized with a placeholder string in the data's place
    (JCS sorts the keys; the placeholder cannot occur in an encoded string) and
    the data's bytes are spliced in. The verifier uses it after checking that the
    stored data is canonical.
    """
    envelope = canonical_json(
        {
            "seq": seq,
            "case": case,
            "action": action,
            "actor_id": actor_id,
            "actor": actor,
            "recorded_at": recorded_at,
            "data": _DATA_SLOT,
            "prev": prev,
        }
    )
    slot = canonical_json(_DATA_SLOT)
    if envelope.count(slot) != 1:
        raise ValueError("an entry field holds the data placeholder")
    return envelope.replace(slot, data_json)


def checkpoint_body(*, tree_size: int, root: str, created_at: str) -> bytes:
    """The bytes the platform signs for a checkpoint (docs/ledger.md)."""
    return canonical_json({"type": CHECKPOINT_TYPE, "tree_size": tree_size, "root": root, "created_at": created_at})
