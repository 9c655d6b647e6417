"""get_object_store() builds the store the settings name, once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from archive.storage import (
    FilesystemObjectStore,
    MinioObjectStore,
    get_object_store,
    reset_object_store_cache,
)
from tests.fixtures.s3 import S3Server


def test_without_s3_endpoint_the_factory_gives_one_cached_filesystem_store(tmp_path: Path, settings: Any) -> None:
    settings.S3_ENDPOINT = ""
    settings.OBJECT_STORE_ROOT = tmp_path / "store"
    settings.OBJECT_STORE_PART_SIZE = 6 * 1024 * 1024
    reset_object_store_cache()
    try:
        store = get_object_store()
        assert isinstance(store, FilesystemObjectStore)
        assert store.root == tmp_path / "store" and store.part_size == 6 * 1024 * 1024
        assert (tmp_path / "store" / "objects").is_dir()  # ensure_bucket ran
        assert get_object_store() is store
    finally:
        reset_object_store_cache()


def test_with_s3_endpoint_the_factory_gives_a_minio_store_on_an_object_locked_bucket(
    s3_server: S3Server, settings: Any
) -> None:
    settings.S3_ENDPOINT = s3_server.endpoint
    settings.S3_ACCESS_KEY = s3_server.access_key
    settings.S3_SECRET_KEY = s3_server.secret_key
    settings.S3_SECURE = s3_server.secure
    settings.S3_BUCKET = "etender-factory-test"
    reset_object_store_cache()
    try:
        store = get_object_store()
        assert isinstance(store, MinioObjectStore)
        assert store.bucket == "etender-factory-test"
        assert store.client.get_bucket_versioning("etender-factory-test").status == "Enabled"
        assert get_object_store() is store
    finally:
        reset_object_store_cache()
