"""English is a full translation: every Chinese source string extracted from the code has one."""

import shutil
import subprocess
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import override_settings

CATALOGUE = Path(settings.BASE_DIR) / "locale" / "en" / "LC_MESSAGES" / "django.po"

# Where the code's strings are: every folder of the project but these (installed packages, bundles, run-time data).
NOT_SOURCE = {".git", ".venv", "node_modules", "locale", "var", "test-output", "build", "static", "staticfiles"}
SOURCE_SUFFIXES = (".py", ".html", ".txt")

requires_gettext = pytest.mark.skipif(
    shutil.which("msgattrib") is None or shutil.which("xgettext") is None, reason="GNU gettext is not installed"
)


def untranslated(catalogue: Path, flag: str) -> list[str]:
    """The entries of ``catalogue`` that msgattrib selects with ``flag``, without the header entry."""
    result = subprocess.run(
        ["msgattrib", flag, "--no-wrap", str(catalogue)], capture_output=True, text=True, check=True
    )
    # msgattrib always repeats the header entry (an empty msgid); anything more is a missing translation.
    blocks = [block for block in result.stdout.split("\n\n") if "msgid " in block]
    return blocks[1:]


@requires_gettext
@pytest.mark.parametrize("flag", ["--untranslated", "--only-fuzzy"])
def test_the_english_catalogue_has_no_missing_or_fuzzy_entry(flag):
    missing = untranslated(CATALOGUE, flag)
    assert not missing, f"{flag}: {missing[:5]}"


@requires_gettext
def test_every_string_in_the_code_is_in_the_english_catalogue(tmp_path, monkeypatch):
    """The strings are extracted from the code again, into a copy of the catalogue: none may come out untranslated.

    (The committed catalogue alone would not show a string marked in the code but never extracted.)"""
    # makemessages writes into any locale/ folder above the files it reads: it reads a copy of the sources.
    sources = tmp_path / "sources"
    for entry in Path(settings.BASE_DIR).iterdir():
        if entry.is_dir() and entry.name not in NOT_SOURCE:
            shutil.copytree(entry, sources / entry.name, ignore=not_source)
    copy = sources / "locale" / "en" / "LC_MESSAGES" / "django.po"
    copy.parent.mkdir(parents=True)
    shutil.copyfile(CATALOGUE, copy)
    monkeypatch.chdir(sources)
    with override_settings(LOCALE_PATHS=[str(sources / "locale")]):
        call_command("makemessages", locale=["en"], no_obsolete=True, verbosity=0)
    missing = untranslated(copy, "--untranslated")
    assert not missing, f"{len(missing)} strings of the code have no English, e.g. {missing[:5]}"
    assert len(copy.read_bytes()) >= len(CATALOGUE.read_bytes()) * 0.9, "the copy holds far fewer strings"


def not_source(folder: str, names: list[str]) -> set[str]:
    """shutil.copytree's ignore: the folders above and every file makemessages would not read."""
    return {
        name
        for name in names
        if name in NOT_SOURCE or (Path(folder, name).is_file() and not name.endswith(SOURCE_SUFFIXES))
    }
