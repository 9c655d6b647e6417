"""The session page's script shows only texts the server gave it in the reader's language.

frontend/js/pages/session-page.js writes every word through ``t(key)`` from the page's configuration
(frontend/views/session_messages.py, marked for gettext); a key it asks for that the server does not give
would show the key itself, and a Chinese literal in the script would stay Chinese in English.
"""

from __future__ import annotations

import re
from pathlib import Path

from django.conf import settings

from frontend.views.bids import _common_messages
from frontend.views.session_messages import session_page_messages

SCRIPTS = Path(settings.BASE_DIR) / "frontend" / "js"
SESSION_SCRIPTS = [SCRIPTS / "pages" / "session-page.js", SCRIPTS / "lib" / "pdf-viewer.js"]
CHINESE = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")


def without_comments(source: str) -> str:
    source = re.sub(r"/\*.*?\*/", "", source, flags=re.S)
    return re.sub(r"(^|[^:])//.*$", r"\1", source, flags=re.M)


def asked_keys(source: str) -> set[str]:
    """The message keys of every ``t(...)`` call: the string literals of its first argument (a key, or the
    keys a condition chooses between)."""
    keys: set[str] = set()
    for call in re.finditer(r"(?<![\w.])t\(", source):
        first = re.match(r"[^,)]*", source[call.end() :])
        assert first is not None
        keys.update(re.findall(r'"(\w+)"', first.group()))
    return keys


def test_every_key_the_session_script_asks_for_is_a_message_the_page_gives() -> None:
    given = {**_common_messages(), **session_page_messages()}
    asked = asked_keys(without_comments((SCRIPTS / "pages" / "session-page.js").read_text()))
    assert {"labelled", "rank_candidate", "ann_presence_off", "viewer_page"} <= asked  # the scan finds them
    assert not asked - given.keys(), sorted(asked - given.keys())


def test_the_session_scripts_hold_no_chinese_text_of_their_own() -> None:
    for script in SESSION_SCRIPTS:
        code = without_comments(script.read_text())
        found = [line.strip() for line in code.splitlines() if CHINESE.search(line)]
        assert not found, f"{script.name}: {found[:5]}"


def test_the_scan_sees_a_missing_key_and_a_chinese_literal() -> None:
    assert asked_keys('t(flag ? "a" : "b", { n }); t("c"); format(x); item.t("d")') == {"a", "b", "c"}
    assert CHINESE.search(without_comments("// 评标室\nconst x = `${a}：${b}`;"))
    assert not CHINESE.search(without_comments("// 评标室\n/* 专家 */ const url = `${scheme}://host`;"))
