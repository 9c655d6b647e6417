"""A retention protects a version until its date, and no longer."""

from __future__ import annotations

import datetime as dt
import time

import pytest

from archive.storage import FilesystemObjectStore, ObjectLocked, ObjectNotFound, ObjectStore, RetentionMode
from config.clock import FrozenClock


def test_a_compliance_version_can_be_deleted_once_its_retention_has_expired_on_the_platform_clock(
    fs_store: FilesystemObjectStore, frozen_clock: FrozenClock
) -> None:
    stored = fs_store.put("expiry/report.pdf", b"report")
    fs_store.set_retention(
        stored.key, stored.version_id, RetentionMode.COMPLIANCE, frozen_clock() + dt.timedelta(days=1)
    )
    frozen_clock.advance(hours=23, minutes=59)
    with pytest.raises(ObjectLocked):
        fs_store.delete(stored.key, stored.version_id, bypass_governance=True)
    frozen_clock.advance(minutes=1, seconds=1)
    fs_store.delete(stored.key, stored.version_id)
    with pytest.raises(ObjectNotFound):
        fs_store.stat(stored.key, stored.version_id)


def test_an_expired_compliance_retention_may_be_set_anew_in_any_mode(
    fs_store: FilesystemObjectStore, frozen_clock: FrozenClock
) -> None:
    stored = fs_store.put("expiry/notice.pdf", b"notice")
    fs_store.set_retention(
        stored.key, stored.version_id, RetentionMode.COMPLIANCE, frozen_clock() + dt.timedelta(days=1)
    )
    frozen_clock.advance(days=2)
    fs_store.set_retention(
        stored.key, stored.version_id, RetentionMode.GOVERNANCE, frozen_clock() + dt.timedelta(hours=1)
    )
    assert fs_store.stat(stored.key, stored.version_id).retention_mode is RetentionMode.GOVERNANCE


@pytest.mark.usefixtures("worm")
def test_a_compliance_version_can_be_deleted_once_its_retention_has_expired(object_store: ObjectStore) -> None:
    """On S3 the server's real clock decides: a 2-second retention, then a bounded wait."""
    if isinstance(object_store, FilesystemObjectStore):
        pytest.skip("the filesystem store follows the platform clock: proved with a frozen clock above")
    stored = object_store.put("expiry/short.bin", b"short-lived")
    until = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=2)
    object_store.set_retention(stored.key, stored.version_id, RetentionMode.COMPLIANCE, until)
    with pytest.raises(ObjectLocked):
        object_store.delete(stored.key, stored.version_id, bypass_governance=True)
    for _attempt in range(40):  # at most ~10 s beyond the 2 s retention
        try:
            object_store.delete(stored.key, stored.version_id)
            break
        except ObjectLocked:
            time.sleep(0.25)
    else:
        pytest.fail("the version was still locked 10 s after its retention expired")
    with pytest.raises(ObjectNotFound):
        object_store.stat(stored.key, stored.version_id)
