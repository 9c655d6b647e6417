"""The platform's object store: a versioned bucket with object lock (WORM).

``get_object_store()`` gives the configured store: ``MinioObjectStore`` when
``settings.S3_ENDPOINT`` is set (MinIO, Ceph RGW, any S3 server with object
lock), else the embedded ``FilesystemObjectStore`` under
``settings.OBJECT_STORE_ROOT``. Both follow the contract in ``base.ObjectStore``;
see docs/storage.md.
"""

from __future__ import annotations

import errno
import threading

from archive.storage.base import (
    DEFAULT_PART_SIZE,
    MIN_PART_SIZE,
    InvalidPart,
    ObjectInfo,
    ObjectLocked,
    ObjectNotFound,
    ObjectStore,
    PartInfo,
    Retention,
    RetentionMode,
    StorageError,
    StoredObject,
    StoreUnavailable,
    UploadNotFound,
    content_disposition,
    validate_key,
)
from archive.storage.filesystem import DownloadLink, DownloadLinkExpired, DownloadLinkInvalid, FilesystemObjectStore
from archive.storage.minio_store import MinioObjectStore

__all__ = [
    "DEFAULT_PART_SIZE",
    "MIN_PART_SIZE",
    "DownloadLink",
    "DownloadLinkExpired",
    "DownloadLinkInvalid",
    "FilesystemObjectStore",
    "InvalidPart",
    "MinioObjectStore",
    "ObjectInfo",
    "ObjectLocked",
    "ObjectNotFound",
    "ObjectStore",
    "PartInfo",
    "Retention",
    "RetentionMode",
    "StorageError",
    "StoreUnavailable",
    "StoredObject",
    "UploadNotFound",
    "content_disposition",
    "get_object_store",
    "is_store_outage",
    "reset_object_store_cache",
    "validate_key",
]

# The filesystem store's outages: the disk refuses writes or fails, not the request.
_OUTAGE_ERRNOS = {errno.EROFS, errno.ENOSPC, errno.EDQUOT, errno.EIO}


def is_store_outage(exc: BaseException) -> bool:
    """Whether ``exc`` (or what caused it) is the object store being unreachable or at fault: retry later (HTTP 503).

    The S3 backend's network errors reach callers as urllib3's (connection
    refused, timeouts, resets once minio's retries are spent) or minio's
    ``ServerError``; server faults as ``StoreUnavailable``; the filesystem
    store's as ``OSError``.
    """
    import urllib3.exceptions
    from minio.error import ServerError

    seen: BaseException | None = exc
    for _depth in range(8):
        if seen is None:
            return False
        if isinstance(seen, (StoreUnavailable, urllib3.exceptions.HTTPError, ServerError)):
            return True
        if isinstance(seen, OSError) and seen.errno in _OUTAGE_ERRNOS:
            return True
        seen = seen.__cause__
    return False


_lock = threading.Lock()
_store: ObjectStore | None = None


def _download_url(token: str) -> str:
    from django.urls import reverse

    return reverse("archive:object-download", args=[token])


def build_object_store() -> ObjectStore:
    """A new store from the settings (not cached, bucket not ensured)."""
    from django.conf import settings

    if settings.S3_ENDPOINT:
        return MinioObjectStore(
            settings.S3_ENDPOINT,
            settings.S3_ACCESS_KEY,
            settings.S3_SECRET_KEY,
            settings.S3_BUCKET,
            secure=settings.S3_SECURE,
            region=settings.S3_REGION,
            part_size=settings.OBJECT_STORE_PART_SIZE,
        )
    return FilesystemObjectStore(
        settings.OBJECT_STORE_ROOT,
        part_size=settings.OBJECT_STORE_PART_SIZE,
        signing_key=settings.SECRET_KEY,
        download_url=_download_url,
    )


def get_object_store() -> ObjectStore:
    """The configured object store, built once per process (its bucket ensured on first use)."""
    global _store
    store = _store
    if store is not None:
        return store
    with _lock:
        if _store is None:
            store = build_object_store()
            store.ensure_bucket()
            _store = store
        return _store


def reset_object_store_cache() -> None:
    """Forgets the cached store, so the next ``get_object_store()`` reads the settings again (tests)."""
    global _store
    with _lock:
        _store = None
