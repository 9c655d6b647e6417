"""A legal hold blocks deletion of a version, whatever the retention, until it is released."""

from __future__ import annotations

import pytest

from archive.storage import ObjectLocked, ObjectNotFound, ObjectStore

pytestmark = pytest.mark.usefixtures("worm")


def test_a_legal_hold_blocks_delete_until_released(object_store: ObjectStore) -> None:
    stored = object_store.put("complaints/C-1/evidence.pdf", b"evidence")
    object_store.set_legal_hold(stored.key, stored.version_id, True)
    assert object_store.stat(stored.key, stored.version_id).legal_hold is True
    for bypass in (False, True):
        with pytest.raises(ObjectLocked):
            object_store.delete(stored.key, stored.version_id, bypass_governance=bypass)
    object_store.set_legal_hold(stored.key, stored.version_id, False)
    assert object_store.stat(stored.key, stored.version_id).legal_hold is False
    object_store.delete(stored.key, stored.version_id)
    with pytest.raises(ObjectNotFound):
        object_store.stat(stored.key, stored.version_id)


def test_a_legal_hold_given_to_put_protects_the_new_version(object_store: ObjectStore) -> None:
    stored = object_store.put("complaints/C-2/evidence.pdf", b"evidence", legal_hold=True)
    assert object_store.stat(stored.key, stored.version_id).legal_hold is True
    with pytest.raises(ObjectLocked):
        object_store.delete(stored.key, stored.version_id)
