"""GOVERNANCE retention: it holds unless the caller explicitly bypasses it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest

from archive.storage import ObjectLocked, ObjectNotFound, ObjectStore, RetentionMode, StoredObject

pytestmark = pytest.mark.usefixtures("worm")
Later = Callable[..., dt.datetime]


@pytest.fixture
def record(object_store: ObjectStore, later: Later) -> StoredObject:
    stored = object_store.put("records/T-1/opening.pdf", b"opening record")
    object_store.set_retention(stored.key, stored.version_id, RetentionMode.GOVERNANCE, later())
    return stored


def test_a_governance_locked_version_cannot_be_deleted_without_bypass(
    object_store: ObjectStore, record: StoredObject
) -> None:
    with pytest.raises(ObjectLocked):
        object_store.delete(record.key, record.version_id)
    assert object_store.stat(record.key, record.version_id).retention_mode is RetentionMode.GOVERNANCE


def test_a_governance_locked_version_can_be_deleted_with_bypass(
    object_store: ObjectStore, record: StoredObject
) -> None:
    object_store.delete(record.key, record.version_id, bypass_governance=True)
    with pytest.raises(ObjectNotFound):
        object_store.stat(record.key, record.version_id)


def test_a_governance_retention_cannot_be_shortened_without_bypass(
    object_store: ObjectStore, record: StoredObject, later: Later
) -> None:
    with pytest.raises(ObjectLocked):
        object_store.set_retention(record.key, record.version_id, RetentionMode.GOVERNANCE, later(seconds=30))


def test_a_governance_retention_can_be_shortened_with_bypass(
    object_store: ObjectStore, record: StoredObject, later: Later
) -> None:
    shorter = later(seconds=30)
    object_store.set_retention(record.key, record.version_id, RetentionMode.GOVERNANCE, shorter, bypass_governance=True)
    info = object_store.stat(record.key, record.version_id)
    assert info.retain_until is not None
    assert abs((info.retain_until - shorter).total_seconds()) < 1


def test_a_governance_retention_can_be_extended_without_bypass(
    object_store: ObjectStore, record: StoredObject, later: Later
) -> None:
    object_store.set_retention(record.key, record.version_id, RetentionMode.GOVERNANCE, later(seconds=600))
    with pytest.raises(ObjectLocked):
        object_store.delete(record.key, record.version_id)


def test_a_governance_retention_becomes_compliance_only_with_bypass(
    object_store: ObjectStore, record: StoredObject, later: Later
) -> None:
    longer = later(seconds=600)
    with pytest.raises(ObjectLocked):
        object_store.set_retention(record.key, record.version_id, RetentionMode.COMPLIANCE, longer)
    object_store.set_retention(record.key, record.version_id, RetentionMode.COMPLIANCE, longer, bypass_governance=True)
    with pytest.raises(ObjectLocked):
        object_store.delete(record.key, record.version_id, bypass_governance=True)
