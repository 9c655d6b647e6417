"""COMPLIANCE retention: nobody deletes, shortens or downgrades it before it expires; extending is allowed."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest

from archive.storage import ObjectLocked, ObjectStore, Retention, RetentionMode, StoredObject

pytestmark = pytest.mark.usefixtures("worm")
Later = Callable[..., dt.datetime]


@pytest.fixture
def dossier(object_store: ObjectStore, later: Later) -> StoredObject:
    stored = object_store.put("dossiers/T-1/dossier.zip", b"final dossier")
    object_store.set_retention(stored.key, stored.version_id, RetentionMode.COMPLIANCE, later())
    return stored


def test_the_retention_is_visible_on_the_version(
    object_store: ObjectStore, dossier: StoredObject, later: Later
) -> None:
    info = object_store.stat(dossier.key, dossier.version_id)
    assert info.retention_mode is RetentionMode.COMPLIANCE
    assert info.retain_until is not None
    assert abs((info.retain_until - later()).total_seconds()) < 30


def test_a_compliance_locked_version_cannot_be_deleted(object_store: ObjectStore, dossier: StoredObject) -> None:
    with pytest.raises(ObjectLocked):
        object_store.delete(dossier.key, dossier.version_id)
    with object_store.open(dossier.key, dossier.version_id) as f:
        assert f.read() == b"final dossier"


def test_a_compliance_locked_version_cannot_be_deleted_even_with_bypass(
    object_store: ObjectStore, dossier: StoredObject
) -> None:
    with pytest.raises(ObjectLocked):
        object_store.delete(dossier.key, dossier.version_id, bypass_governance=True)
    assert object_store.stat(dossier.key, dossier.version_id).size == len(b"final dossier")


def test_a_compliance_retention_cannot_be_shortened_even_with_bypass(
    object_store: ObjectStore, dossier: StoredObject, later: Later
) -> None:
    shorter = later(seconds=60)
    for bypass in (False, True):
        with pytest.raises(ObjectLocked):
            object_store.set_retention(
                dossier.key, dossier.version_id, RetentionMode.COMPLIANCE, shorter, bypass_governance=bypass
            )


def test_a_compliance_retention_cannot_be_downgraded_to_governance(
    object_store: ObjectStore, dossier: StoredObject, later: Later
) -> None:
    longer = later(seconds=600)
    for bypass in (False, True):
        with pytest.raises(ObjectLocked):
            object_store.set_retention(
                dossier.key, dossier.version_id, RetentionMode.GOVERNANCE, longer, bypass_governance=bypass
            )
    assert object_store.stat(dossier.key, dossier.version_id).retention_mode is RetentionMode.COMPLIANCE


def test_a_compliance_retention_can_be_extended(object_store: ObjectStore, dossier: StoredObject, later: Later) -> None:
    longer = later(seconds=600)
    object_store.set_retention(dossier.key, dossier.version_id, RetentionMode.COMPLIANCE, longer)
    info = object_store.stat(dossier.key, dossier.version_id)
    assert info.retain_until is not None
    assert abs((info.retain_until - longer).total_seconds()) < 1


def test_a_locked_version_can_still_be_hidden_by_a_delete_marker_but_not_destroyed(
    object_store: ObjectStore, dossier: StoredObject
) -> None:
    marker = object_store.delete(dossier.key)
    assert marker
    with object_store.open(dossier.key, dossier.version_id) as f:
        assert f.read() == b"final dossier"
    with pytest.raises(ObjectLocked):
        object_store.delete(dossier.key, dossier.version_id, bypass_governance=True)


def test_a_retention_given_to_put_protects_the_new_version(object_store: ObjectStore, later: Later) -> None:
    stored = object_store.put(
        "dossiers/T-2/manifest.json", b"{}", retention=Retention(RetentionMode.COMPLIANCE, later())
    )
    assert object_store.stat(stored.key, stored.version_id).retention_mode is RetentionMode.COMPLIANCE
    with pytest.raises(ObjectLocked):
        object_store.delete(stored.key, stored.version_id, bypass_governance=True)


def test_a_retention_date_in_the_past_is_refused(object_store: ObjectStore, later: Later) -> None:
    stored = object_store.put("dossiers/T-3/x", b"x")
    with pytest.raises(ValueError, match="future"):
        object_store.set_retention(stored.key, stored.version_id, RetentionMode.COMPLIANCE, later(seconds=-60))
