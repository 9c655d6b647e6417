"""English is a full translation: every Chinese source string extracted from the code has one."""

import shutil
import subprocess
from pathlib import Path

import pytest
from django.conf import settings

CATALOGUE = Path(settings.BASE_DIR) / "locale" / "en" / "LC_MESSAGES" / "django.po"


@pytest.mark.skipif(shutil.which("msgattrib") is None, reason="gettext's msgattrib is not installed")
@pytest.mark.parametrize("flag", ["--untranslated", "--only-fuzzy"])
def test_the_english_catalogue_has_no_missing_or_fuzzy_entry(flag):
    result = subprocess.run(
        ["msgattrib", flag, "--no-wrap", str(CATALOGUE)], capture_output=True, text=True, check=True
    )
    # msgattrib always repeats the header entry (an empty msgid); anything more is a missing translation.
    blocks = [block for block in result.stdout.split("\n\n") if "msgid " in block]
    assert len(blocks) <= 1, f"{flag}: {blocks[1:6]}"
