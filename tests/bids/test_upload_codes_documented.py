"""docs/api.md names every code the upload path can answer, and the upload status's fields.

The codes are read from the services' source (every ``code="…"`` of
tendering/services/bids.py and sealed_format.py), so a new refusal there fails
this test until docs/api.md's table lists it; the status's fields come from the
API's own schema.
"""

from __future__ import annotations

import re
from pathlib import Path

from tendering.api_bids import UploadOut

REPO = Path(__file__).resolve().parents[2]
SERVICES = ("tendering/services/bids.py", "tendering/services/sealed_format.py")


def documented_rows() -> str:
    """The section of docs/api.md on sealed bids."""
    page = (REPO / "docs" / "api.md").read_text(encoding="utf-8")
    start = page.index("## Sealed bids")
    end = page.index("\n## ", start + 1)
    return page[start:end]


def raised_codes() -> set[str]:
    codes: set[str] = set()
    for name in SERVICES:
        codes.update(re.findall(r'\bcode="([a-z_]+)"', (REPO / name).read_text(encoding="utf-8")))
    return codes


def test_every_code_the_upload_path_raises_is_in_the_api_guide() -> None:
    codes = raised_codes()
    assert {"part_in_progress", "part_duplicated", "part_out_of_order", "hash_mismatch"} <= codes  # the reader works
    section = documented_rows()
    missing = sorted(code for code in codes if f"`{code}`" not in section)
    assert not missing, f"docs/api.md 'Sealed bids' does not list {missing}"
    # The outage's 503 is raised elsewhere (config/middleware.py) but answers parts and finalize too.
    assert "`store_unavailable`" in section


def test_every_field_of_the_upload_status_is_in_the_api_guide() -> None:
    fields = set(UploadOut.model_fields)
    assert {"part_window", "confirmed_parts", "part_sha256"} <= fields
    section = documented_rows()
    ids = {"upload_id", "bid_id", "tender_id", "size"}  # named in the prose around the table
    missing = sorted(name for name in fields - ids if f"`{name}`" not in section)
    assert not missing, f"docs/api.md 'Sealed bids' does not describe {missing}"
