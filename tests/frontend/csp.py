"""What every page's Content-Security-Policy must say, and that its HTML keeps to it."""

from __future__ import annotations

import re
from typing import Any

# An attribute that runs script or styles an element inline: CSP refuses both.
INLINE_ATTRIBUTE = re.compile(r"<[a-zA-Z][^>]*\s(on[a-z]+|style)\s*=", re.S)
SCRIPT_TAG = re.compile(r"<script\b([^>]*)>", re.S)


def policy(response: Any) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    directives: dict[str, list[str]] = {}
    for part in header.split(";"):
        name, *values = part.split()
        directives[name] = values
    return directives


def assert_strict_policy(response: Any, *, own_scripts: bool = True) -> None:
    """No inline script or style, no eval: only the platform's own files, each script with this response's nonce."""
    directives = policy(response)
    assert directives["default-src"] == ["'none'"]
    script_src = directives["script-src"]
    assert "'self'" in script_src
    assert not {"'unsafe-inline'", "'unsafe-eval'", "'unsafe-hashes'", "*", "data:", "blob:"} & set(script_src), (
        script_src
    )
    assert set(script_src) - {"'self'", "'wasm-unsafe-eval'"} <= {v for v in script_src if v.startswith("'nonce-")}
    assert directives["style-src"] == ["'self'"]
    assert directives["worker-src"] == ["'self'"]
    assert directives["connect-src"] == ["'self'"]
    assert directives["object-src"] == ["'none'"]
    assert directives["base-uri"] == ["'none'"]
    assert directives["frame-ancestors"] == ["'none'"]
    assert directives["form-action"] == ["'self'"]
    html = response.content.decode()
    assert not INLINE_ATTRIBUTE.search(html), INLINE_ATTRIBUTE.search(html)
    nonces = [v.removeprefix("'nonce-").removesuffix("'") for v in script_src if v.startswith("'nonce-")]
    for attributes in SCRIPT_TAG.findall(html) if own_scripts else []:
        if 'type="application/json"' in attributes:
            continue  # data, never executed
        assert re.search(r'\ssrc="/static/', attributes), f"an inline or foreign script: <script{attributes}>"
        found = re.search(r'\snonce="([^"]+)"', attributes)
        assert found and nonces == [found.group(1)], f"<script{attributes}> lacks the response's nonce {nonces}"


def executable_scripts(response: Any) -> list[str]:
    return [a for a in SCRIPT_TAG.findall(response.content.decode()) if 'type="application/json"' not in a]
