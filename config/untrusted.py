"""Checks of untrusted input shared by the API, the pages and the opening hall's socket.

PostgreSQL cannot store a NUL character in any text column (it fails the whole
statement), so a NUL that reaches a query is a crash, not a refusal. Every way
in refuses it first: the API for its query, path, form and JSON values
(``config.api``), the pages for their paths and query strings
(``config.middleware``), the hall for every field of a frame (``tendering.consumers``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.utils.translation import gettext as _

from accounts.errors import InvalidInput

NUL = "\x00"
# The longest field path or echoed value written back in an error: input is never echoed unbounded.
ECHO_MAX_CHARS = 64
# The most fields one error names: a list of thousands of bad items gets a readable answer, not a copy of itself.
FIELDS_MAX = 20


def bounded(text: str, limit: int = ECHO_MAX_CHARS) -> str:
    """``text`` cut to ``limit`` characters (marked with an ellipsis), for echoing input back."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def nul_paths(value: Any, root: str = "") -> list[str]:
    """Paths (``a.0.b``) of the strings and keys holding a NUL in a decoded JSON value, at most ``FIELDS_MAX``.

    Walks without recursion: a value as deep as the JSON decoder allows is walked
    as safely as a flat one.
    """
    found: list[str] = []
    stack: list[tuple[str, Any]] = [(root, value)]
    while stack and len(found) < FIELDS_MAX:
        path, item = stack.pop()
        children: Iterable[tuple[Any, Any]]
        if isinstance(item, str):
            if NUL in item:
                found.append(path or "request")
            continue
        if isinstance(item, dict):
            children = item.items()
        elif isinstance(item, (list, tuple)):
            children = enumerate(item)
        else:
            continue
        for key, child in children:
            name = bounded(str(key))
            if isinstance(key, str) and NUL in key:
                found.append(f"{path}.{name}" if path else name)
            stack.append((f"{path}.{name}" if path else name, child))
    return sorted(found)


def querydict_nul_paths(data: Any) -> list[str]:
    """The names of a QueryDict's (or MultiValueDict's) keys and values holding a NUL; for files, their names."""
    found: list[str] = []
    for key, values in data.lists():
        name = bounded(str(key))
        texts = [key, *(getattr(v, "name", v) for v in values)]
        if any(isinstance(t, str) and NUL in t for t in texts):
            found.append(name)
    return sorted(found)[:FIELDS_MAX]


def nul_refused_message() -> str:
    return _("不得包含空字符（U+0000）。")


def refuse_nul(paths: list[str]) -> None:
    """Raise the API's 422 ``invalid_input`` naming ``paths`` (from ``nul_paths``), if there are any."""
    if paths:
        raise InvalidInput({path: [nul_refused_message()] for path in paths}, _("请求内容不符合要求，请检查各字段。"))
