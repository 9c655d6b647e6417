"""The browser's sealing bundle as deployed: its hash, recorded in the ledger at each deployment.

The browser path can be no stronger than the JavaScript the platform serves:
an operator who changes the bundle changes what the pages check before they
seal. What this adds is that such a change leaves a trace nobody can erase:
each deployment appends the bundle's hash to the ledger
(``platform.deployment.recorded``), and the sealing pages show the hash of the
bundle they come with, so a bidder can compare the two, or rebuild the bundle
from the tagged sources and compare again.

The bundle's hash is SHA-256 of its listing: one line per file of
``frontend/static/frontend/build/``, sorted by relative path (POSIX, bytewise),
``<sha256 hex>  <relative path>\\n``, which is what this prints::

    (cd frontend/static/frontend/build && find . -type f -printf '%P\\n' | LC_ALL=C sort \\
        | xargs -d '\\n' sha256sum) | sha256sum
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction

from archive import ledger
from archive.models import LedgerEntry

BUILD_DIRECTORY = Path(settings.BASE_DIR) / "frontend" / "static" / "frontend" / "build"
DEPLOYMENT_CASE = "platform:deployments"
DEPLOYMENT_ACTION = "platform.deployment.recorded"
_CHUNK = 1 << 20


@dataclass(frozen=True)
class BundleDigest:
    files: tuple[tuple[str, str], ...]  # (relative path, SHA-256 hex), sorted by the path's bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256("".join(f"{digest}  {path}\n" for path, digest in self.files).encode()).hexdigest()


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def bundle_digest(directory: Path = BUILD_DIRECTORY) -> BundleDigest:
    """Every file's SHA-256 and the listing's; a FileNotFoundError when the bundle is not built."""
    if not directory.is_dir():
        raise FileNotFoundError(f"no browser bundle at {directory} (npm run build, make js)")
    files = sorted(
        ((path.relative_to(directory).as_posix(), path) for path in directory.rglob("*") if path.is_file()),
        key=lambda item: item[0].encode(),
    )
    if not files:
        raise FileNotFoundError(f"the browser bundle at {directory} is empty (npm run build, make js)")
    return BundleDigest(files=tuple((name, _file_sha256(path)) for name, path in files))


_served: dict[tuple[Any, ...], str] = {}


def served_bundle_sha256(directory: Path = BUILD_DIRECTORY) -> str:
    """The hash the pages show: of the bundle on disk now,
    computed again only when a file changed (or "" when none is built).
    """
    try:
        stamp = tuple(
            sorted((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in directory.rglob("*") if p.is_file())
        )
    except OSError:
        return ""
    known = _served.get(stamp)
    if known is not None:
        return known
    try:
        digest = bundle_digest(directory).sha256
    except (FileNotFoundError, OSError):
        return ""
    _served.clear()  # another thread may clear it too: this call answers from its own digest
    _served[stamp] = digest
    return digest


def last_recorded_deployment() -> LedgerEntry | None:
    return LedgerEntry.objects.filter(case=DEPLOYMENT_CASE, action=DEPLOYMENT_ACTION).order_by("-seq").first()


def deployment_context() -> dict[str, Any]:
    """What the pages that hold keys show of the bundle: its hash,
    and the ledger's last recorded deployment beside it.
    """
    served = served_bundle_sha256()
    last = last_recorded_deployment()
    recorded = None
    if last is not None:
        recorded = {
            "seq": last.seq,
            "recorded_at": last.recorded_at,
            "bundle_sha256": json.loads(last.data).get("bundle_sha256", ""),
        }
    return {
        "bundle_sha256": served,
        "recorded_deployment": recorded,
        "bundle_recorded": bool(served) and recorded is not None and recorded["bundle_sha256"] == served,
    }


def record_deployment(
    *, version: str = "", directory: Path = BUILD_DIRECTORY
) -> tuple[BundleDigest, LedgerEntry | None]:
    """Appends ``platform.deployment.recorded`` when the bundle differs from the last one recorded.

    Returns the digest and the new entry, or None when the ledger already has
    this bundle as its last deployment (a restart is not a deployment).
    Deployments racing each other are serialized on the ledger's head, so one
    bundle is recorded once.
    """
    digest = bundle_digest(directory)
    with transaction.atomic():
        ledger.lock_head()
        last = last_recorded_deployment()
        if last is not None and json.loads(last.data).get("bundle_sha256") == digest.sha256:
            return digest, None
        data = {
            "bundle_sha256": digest.sha256,
            "files": [{"path": path, "sha256": sha} for path, sha in digest.files],
            "version": version,
        }
        return digest, ledger.record(DEPLOYMENT_CASE, DEPLOYMENT_ACTION, data, None)
