"""One list of error and close codes (tendering/room/codes.py): the browser's copy is written from it and agrees
with it, every code the hall's services raise is in it, and the command line names the same members."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tendering.room import codes
from tendering.room.codes import CloseCode, ErrorCode

ROOT = Path(__file__).resolve().parents[2]


def test_the_browsers_list_is_exactly_what_the_enums_write() -> None:
    assert codes.ES_MODULE.read_text(encoding="utf-8") == codes.es_module(), (
        "frontend/js/lib/room-codes.js is out of date: run `python -m tendering.room.codes`"
    )


def test_the_browsers_list_read_by_node_has_every_member_of_both_enums_and_no_other() -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("Node.js is not installed")
    script = (
        f"import({json.dumps(codes.ES_MODULE.as_uri())}).then((m) => "
        "console.log(JSON.stringify({errors: m.ErrorCode, closes: m.CloseCode, final: m.FINAL_CLOSES})))"
    )
    ran = subprocess.run([node, "--input-type=module", "-e", script], capture_output=True, text=True, check=True)
    found = json.loads(ran.stdout)
    assert found["errors"] == {code.name: code.value for code in ErrorCode}
    assert found["closes"] == {code.name: code.value for code in CloseCode}
    assert found["final"] == [4401, 4403, 4404]


def test_every_code_the_halls_services_raise_is_a_member_of_the_enum() -> None:
    services = ROOT / "tendering" / "services"
    sources = [*services.glob("opening/*.py"), *services.glob("opening.py"), services / "decryption.py"]
    raised = set()
    for source in sources:
        raised |= set(re.findall(r'code="([a-z_]+)"', source.read_text(encoding="utf-8")))
    assert len(raised) >= 15  # the scan found the services' codes
    assert raised - {code.value for code in ErrorCode} == set()


def test_the_command_line_matches_the_halls_codes_by_the_enums_names_never_by_a_string_of_its_own() -> None:
    client = ROOT / "tendering" / "client"
    hall_values = {code.value for code in ErrorCode}
    for source in [client / "opening.py", *sorted((client / "commands").glob("*.py"))]:
        text = source.read_text(encoding="utf-8")
        compared = set(re.findall(r'code\s*(?:==|!=|in)\s*\(?\s*"([a-z_]+)"', text))
        assert compared & hall_values == set(), f"{source.name} compares a hall code as a string"
    opening = (client / "commands" / "opening.py").read_text(encoding="utf-8")
    assert "from tendering.room.codes import ErrorCode" in opening
    used = set(re.findall(r"ErrorCode\.([A-Z_]+)", opening))
    assert used and used <= {code.name for code in ErrorCode}


def test_the_codes_the_frames_and_the_halls_events_import_neither_django_nor_channels() -> None:
    # The command line (no Django, an import-linter contract) imports the codes; a room's models are plain pydantic.
    script = (
        "import sys; import tendering.room.codes, tendering.room.protocol, tendering.room.groups, "
        "tendering.hall_protocol; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('django', 'channels', 'config')))"
    )
    ran = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True)
    assert ran.stdout.strip() == "[]"
