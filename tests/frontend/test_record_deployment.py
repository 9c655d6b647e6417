"""Each deployment records the browser bundle's hash in the ledger: once per bundle, again only after a change."""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from archive import ledger
from archive.models import LedgerEntry
from frontend.deployment import DEPLOYMENT_ACTION, DEPLOYMENT_CASE, bundle_digest, served_bundle_sha256

pytestmark = pytest.mark.django_db


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    folder = tmp_path / "build"
    (folder / "chunks").mkdir(parents=True)
    (folder / "bid-page.js").write_bytes(b"export const sealed = true;\n")
    (folder / "bid-page.js.map").write_bytes(b'{"version":3}')
    (folder / "chunks" / "x509.js").write_bytes("// 证书\n".encode())
    return folder


def deployments() -> list[LedgerEntry]:
    return list(LedgerEntry.objects.filter(case=DEPLOYMENT_CASE, action=DEPLOYMENT_ACTION).order_by("seq"))


def run(folder: Path, *extra: str) -> str:
    out = io.StringIO()
    call_command("record_deployment", "--directory", str(folder), *extra, stdout=out)
    return out.getvalue()


def test_the_bundle_hash_is_what_sha256sum_of_the_sorted_listing_gives(bundle: Path) -> None:
    listing = subprocess.run(  # noqa: S602 - the shell pipeline docs/ documents, run on a test folder
        "find . -type f -printf '%P\\n' | LC_ALL=C sort | xargs -d '\\n' sha256sum",
        shell=True,
        cwd=bundle,
        check=True,
        capture_output=True,
    ).stdout
    digest = bundle_digest(bundle)
    assert digest.sha256 == hashlib.sha256(listing).hexdigest()
    assert dict(digest.files) == {
        "bid-page.js": hashlib.sha256(b"export const sealed = true;\n").hexdigest(),
        "bid-page.js.map": hashlib.sha256(b'{"version":3}').hexdigest(),
        "chunks/x509.js": hashlib.sha256("// 证书\n".encode()).hexdigest(),
    }
    assert served_bundle_sha256(bundle) == digest.sha256


def test_a_deployment_is_recorded_once_and_again_only_after_the_bundle_changed(bundle: Path) -> None:
    first = bundle_digest(bundle)
    assert f"{first.sha256} (3 files) recorded" in run(bundle, "--release", "v1.0")
    assert "already the last deployment recorded" in run(bundle)
    assert "already the last deployment recorded" in run(bundle, "--release", "v1.0-restart")
    [entry] = deployments()
    data = json.loads(entry.data)
    assert data == {
        "bundle_sha256": first.sha256,
        "files": [{"path": path, "sha256": sha} for path, sha in first.files],
        "version": "v1.0",
    }
    assert entry.actor is None

    (bundle / "bid-page.js").write_bytes(b"export const sealed = false; // the operator's change\n")
    changed = bundle_digest(bundle)
    assert changed.sha256 != first.sha256
    assert served_bundle_sha256(bundle) == changed.sha256
    run(bundle, "--release", "v1.1")
    assert [json.loads(e.data)["bundle_sha256"] for e in deployments()] == [first.sha256, changed.sha256]

    # Back to the first bundle is a deployment too: it differs from the last one recorded.
    (bundle / "bid-page.js").write_bytes(b"export const sealed = true;\n")
    run(bundle)
    assert [json.loads(e.data)["bundle_sha256"] for e in deployments()] == [first.sha256, changed.sha256, first.sha256]
    assert ledger.verify_ledger().ok


def test_it_refuses_a_missing_or_empty_bundle_and_records_nothing(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="no browser bundle at"):
        run(tmp_path / "absent")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CommandError, match="is empty"):
        run(tmp_path / "empty")
    assert deployments() == []
    assert served_bundle_sha256(tmp_path / "absent") == ""
