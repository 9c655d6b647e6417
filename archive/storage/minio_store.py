"""The production backend: one bucket of an S3 server with object lock, through the ``minio`` client.

Tested against Ceph RGW 16.2 (the test session's own server), MinIO (set
``S3_ENDPOINT`` for the tests) and moto (no WORM). Notes on the S3 servers:

* Lock headers sent with a multipart upload are ignored by RGW and moto, so
  retention and legal hold are always applied explicitly after the upload.
  Between the upload and that call the version is briefly unprotected; a bucket
  default retention rule closes that gap where it matters.
* minio-py 7.2.20's ``get_object_retention`` fails on RGW's nanosecond dates: the
  lock state is read from the ``x-amz-object-lock-*`` headers of HEAD instead.
* Requests that minio-py has no public method for (delete or retention change
  with ``x-amz-bypass-governance-retention``, listing versions in server order)
  go through its request executor ``Minio._execute``, like its own methods do.
* Metadata values are percent-encoded outside printable ASCII (HTTP headers
  carry ASCII) and decoded on the way back.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import io
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, BinaryIO, NoReturn, cast
from urllib.parse import unquote_plus

from minio import Minio
from minio import time as minio_time
from minio.credentials import Credentials
from minio.datatypes import Part
from minio.error import MinioException, S3Error
from minio.helpers import md5sum_hash
from minio.retention import Retention as MinioRetention
from minio.xml import marshal

from archive.storage.base import (
    DEFAULT_CONTENT_TYPE,
    DEFAULT_PART_SIZE,
    MAX_PART_LENGTH,
    InvalidPart,
    MiB,
    ObjectInfo,
    ObjectLocked,
    ObjectNotFound,
    ObjectStore,
    PartInfo,
    Readable,
    Retention,
    RetentionMode,
    Source,
    StorageError,
    StoredObject,
    StoreUnavailable,
    UploadNotFound,
    as_readable,
    content_disposition,
    decode_metadata_value,
    encode_metadata_value,
    normalize_until,
    read_exactly,
    read_part,
    sorted_parts,
    validate_expires,
    validate_key,
    validate_metadata,
    validate_part_number,
    validate_range,
)

_S3_NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"
_BYPASS = {"x-amz-bypass-governance-retention": "true"}
_NOT_FOUND = {"NoSuchKey", "NoSuchVersion", "NoSuchObject", "MethodNotAllowed", "InvalidArgument"}
_LOCKED = {"AccessDenied", "InvalidRequest", "ObjectLocked"}
_NO_UPLOAD = {"NoSuchUpload", "NoSuchKey"}
# The server's own faults, not the request's: the same request may succeed later.
_UNAVAILABLE = {
    "InternalError",
    "ServiceUnavailable",
    "SlowDown",
    "RequestTimeout",
    "XMinioServerNotInitialized",
    "XMinioStorageFull",
}
_FRACTION = re.compile(r"\.(\d+)")


def parse_s3_datetime(value: str | None) -> dt.datetime | None:
    """An ISO 8601 date from S3, with any number of fraction digits (RGW sends nanoseconds)."""
    if not value:
        return None
    value = _FRACTION.sub(lambda m: "." + (m.group(1) + "000000")[:6], value.strip(), count=1)
    moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _raise(exc: S3Error, what: str, mapping: Mapping[str, type[StorageError]]) -> NoReturn:
    error = mapping.get(exc.code or "", StoreUnavailable if exc.code in _UNAVAILABLE else StorageError)
    raise error(f"{what}: {exc.code}: {exc.message or ''}".rstrip(": ")) from exc


class _Client(Minio):
    """minio-py, except that a body whose SHA-256 the caller already computed is not hashed again.

    minio-py hashes every body it sends for the SigV4 signature (over http) or
    MD5s it (over https). A part upload has hashed its bytes once as they were
    read (``read_part``); it passes that digest as ``x-amz-content-sha256``, the
    signature covers it, and the S3 server checks the received bytes against it
    (``XAmzContentSHA256Mismatch`` otherwise), over http and https alike.
    """

    def _build_headers(
        self,
        host: str,
        headers: dict[str, Any] | None = None,
        body: bytes | None = None,
        creds: Credentials | None = None,
    ) -> tuple[dict[str, Any], dt.datetime]:
        given = (headers or {}).get("x-amz-content-sha256")
        if not given or creds is None:
            return cast(tuple[dict[str, Any], dt.datetime], super()._build_headers(host, headers, body, creds))
        headers = dict(headers or {})
        headers["Host"] = host
        headers["User-Agent"] = self._user_agent
        if body:
            headers["Content-Length"] = str(len(body))
        if creds.session_token:
            headers["X-Amz-Security-Token"] = creds.session_token
        date = minio_time.utcnow()
        headers["x-amz-date"] = minio_time.to_amz_date(date)
        return headers, date


class MinioObjectStore(ObjectStore):
    """A bucket on an S3 server (MinIO, Ceph RGW, AWS) with object lock enabled."""

    def __init__(
        self,
        endpoint: str,
        access_key: str,
        secret_key: str,
        bucket: str,
        secure: bool = True,
        region: str = "us-east-1",
        *,
        part_size: int = DEFAULT_PART_SIZE,
    ) -> None:
        """``endpoint`` is ``host:port``; an ``http://`` or ``https://`` prefix overrides ``secure``."""
        if endpoint.startswith(("http://", "https://")):
            secure = endpoint.startswith("https://")
            endpoint = endpoint.split("://", 1)[1].rstrip("/")
        self.endpoint = endpoint
        self.bucket = bucket
        self.secure = secure
        self.part_size = part_size
        self._client = _Client(endpoint, access_key=access_key, secret_key=secret_key, secure=secure, region=region)

    def __repr__(self) -> str:
        scheme = "https" if self.secure else "http"
        return f"MinioObjectStore({scheme}://{self.endpoint}/{self.bucket})"

    @property
    def client(self) -> Minio:
        """The underlying minio client (for tests and administration)."""
        return self._client

    def _execute(self, method: str, key: str | None, **kwargs: Any) -> Any:
        return self._client._execute(method, self.bucket, key, **kwargs)

    # --- bucket --------------------------------------------------------------------

    def ensure_bucket(self) -> None:
        try:
            if not self._client.bucket_exists(self.bucket):
                try:
                    self._client.make_bucket(self.bucket, object_lock=True)
                except S3Error as exc:
                    if exc.code not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                        raise
            config = self._client.get_object_lock_config(self.bucket)
            versioning = self._client.get_bucket_versioning(self.bucket)
        except S3Error as exc:
            if exc.code == "ObjectLockConfigurationNotFoundError":
                raise StorageError(
                    f"bucket {self.bucket} exists without object lock: WORM cannot be guaranteed"
                ) from exc
            _raise(exc, f"bucket {self.bucket}", {})
        if config is None or versioning.status != "Enabled":
            raise StorageError(f"bucket {self.bucket} has no object lock or versioning is not enabled")

    # --- writing -------------------------------------------------------------------

    @staticmethod
    def _headers(content_type: str, metadata: Mapping[str, str]) -> dict[str, str | list[str] | tuple[str]]:
        headers: dict[str, str | list[str] | tuple[str]] = {"Content-Type": content_type or DEFAULT_CONTENT_TYPE}
        for name, value in metadata.items():
            headers[f"x-amz-meta-{name}"] = encode_metadata_value(value)
        return headers

    def put(
        self,
        key: str,
        stream: Source,
        *,
        length: int | None = None,
        content_type: str = DEFAULT_CONTENT_TYPE,
        metadata: Mapping[str, str] | None = None,
        retention: Retention | None = None,
        legal_hold: bool = False,
    ) -> StoredObject:
        validate_key(key)
        headers = self._headers(content_type, validate_metadata(metadata))
        if length is not None and length < 0:
            raise ValueError("length must not be negative")
        source = as_readable(stream)
        sha = hashlib.sha256()
        part = self._next_part(source, length, 0, b"")
        sha.update(part)
        total = len(part)
        peek = b"" if (length is not None and total >= length) else source.read(1)
        if not peek:
            if length is not None and total < length:
                raise ValueError(f"stream ended {length - total} bytes before the announced length {length}")
            try:
                result = self._client._put_object(self.bucket, key, part, headers)
            except S3Error as exc:
                _raise(exc, f"put {key}", {})
            stored = StoredObject(key, self._version(result.version_id, key), total, sha.hexdigest(), result.etag)
        else:
            first, part = [part], b""  # hand the only reference over, so that the part can be freed early
            stored = self._put_multipart(key, source, length, headers, sha, first, peek)
        self._protect(stored, retention, legal_hold)
        return stored

    def _next_part(self, source: Readable, length: int | None, done: int, prefix: bytes) -> bytes:
        size = self.part_size if length is None else min(self.part_size, length - done)
        return read_exactly(source, size, prefix)

    def _put_multipart(
        self,
        key: str,
        source: Readable,
        length: int | None,
        headers: dict[str, str | list[str] | tuple[str]],
        sha: Any,
        first: list[bytes],
        peek: bytes,
    ) -> StoredObject:
        try:
            upload_id = self._client._create_multipart_upload(self.bucket, key, dict(headers))
        except S3Error as exc:
            _raise(exc, f"put {key}", {})
        try:
            parts: list[Part] = []
            part = first.pop()
            total, number = len(part), 1
            while True:
                parts.append(Part(number, self._client._upload_part(self.bucket, key, part, None, upload_id, number)))
                part = b""  # free it before reading the next one
                if not peek:
                    break
                number += 1
                part = self._next_part(source, length, total, peek)
                sha.update(part)
                total += len(part)
                peek = b"" if (length is not None and total >= length) else source.read(1)
            if length is not None and total < length:
                raise ValueError(f"stream ended {length - total} bytes before the announced length {length}")
            result = self._client._complete_multipart_upload(self.bucket, key, upload_id, parts)
        except BaseException as exc:
            with contextlib.suppress(MinioException, OSError):
                self._client._abort_multipart_upload(self.bucket, key, upload_id)
            if isinstance(exc, S3Error):
                _raise(exc, f"put {key}", {})
            raise
        version_id = self._version(result.version_id, key)
        etag = result.etag or self.stat(key, version_id).etag
        return StoredObject(key, version_id, total, sha.hexdigest(), etag)

    @staticmethod
    def _version(version_id: str | None, key: str) -> str:
        if not version_id:
            raise StorageError(f"put {key}: the server returned no version id (bucket not versioned?)")
        return version_id

    def _protect(self, stored: StoredObject, retention: Retention | None, legal_hold: bool) -> None:
        if retention is not None:
            self.set_retention(stored.key, stored.version_id, retention.mode, retention.until)
        if legal_hold:
            self.set_legal_hold(stored.key, stored.version_id, True)

    # --- reading -------------------------------------------------------------------

    @contextlib.contextmanager
    def open(self, key: str, version_id: str | None = None) -> Iterator[BinaryIO]:
        validate_key(key)
        try:
            response = self._client.get_object(self.bucket, key, version_id=version_id)
        except S3Error as exc:
            _raise(exc, f"get {key} {version_id or ''}", dict.fromkeys(_NOT_FOUND, ObjectNotFound))
        try:
            yield cast(BinaryIO, response)
        finally:
            response.close()
            response.release_conn()

    @contextlib.contextmanager
    def open_range(self, key: str, version_id: str | None, offset: int, length: int) -> Iterator[BinaryIO]:
        validate_key(key)
        validate_range(offset, length)
        if length == 0:  # S3 has no empty range: say only whether the version is there
            self.stat(key, version_id)
            yield cast(BinaryIO, io.BytesIO(b""))
            return
        try:
            response = self._client.get_object(self.bucket, key, offset=offset, length=length, version_id=version_id)
        except S3Error as exc:
            if exc.code == "InvalidRange":  # from at or past the end: nothing there, as a file read would say
                self.stat(key, version_id)
                yield cast(BinaryIO, io.BytesIO(b""))
                return
            what = f"get {key} {version_id or ''} bytes {offset}+{length}"
            _raise(exc, what, dict.fromkeys(_NOT_FOUND, ObjectNotFound))
        try:
            yield cast(BinaryIO, response)
        finally:
            response.close()
            response.release_conn()

    def stat(self, key: str, version_id: str | None = None) -> ObjectInfo:
        validate_key(key)
        try:
            obj = self._client.stat_object(self.bucket, key, version_id=version_id)
        except S3Error as exc:
            _raise(exc, f"stat {key} {version_id or ''}", dict.fromkeys(_NOT_FOUND, ObjectNotFound))
        headers = obj.metadata or {}
        lower = {name.lower(): value for name, value in headers.items()}
        if lower.get("x-amz-delete-marker") == "true":
            raise ObjectNotFound(f"stat {key} {version_id or ''}: a delete marker")
        mode = lower.get("x-amz-object-lock-mode")
        metadata = {
            name[len("x-amz-meta-") :]: decode_metadata_value(value)
            for name, value in lower.items()
            if name.startswith("x-amz-meta-")
        }
        return ObjectInfo(
            key=key,
            version_id=obj.version_id,
            size=obj.size or 0,
            content_type=obj.content_type,
            last_modified=obj.last_modified,
            metadata=metadata,
            retention_mode=RetentionMode(mode.upper()) if mode else None,
            retain_until=parse_s3_datetime(lower.get("x-amz-object-lock-retain-until-date")),
            legal_hold=lower.get("x-amz-object-lock-legal-hold", "").upper() == "ON",
            etag=obj.etag,
            is_latest=version_id is None,
        )

    def list_versions(self, prefix: str = "") -> list[ObjectInfo]:
        found: list[ObjectInfo] = []
        key_marker: str | None = None
        version_marker: str | None = None
        while True:
            query: dict[str, str | list[str] | tuple[str]] = {
                "versions": "",
                "prefix": prefix,
                "max-keys": "1000",
                "encoding-type": "url",
            }
            if key_marker:
                query["key-marker"] = key_marker
            if version_marker:
                query["version-id-marker"] = version_marker
            try:
                response = self._execute("GET", None, query_params=query)
            except S3Error as exc:
                _raise(exc, f"list versions {prefix}", {})
            root = ET.fromstring(response.data.decode())  # noqa: S314 (our S3 server's answer)
            url_encoded = (root.findtext(f"{_S3_NS}EncodingType") or "").lower() == "url"
            for element in root:
                tag = element.tag.removeprefix(_S3_NS)
                if tag not in ("Version", "DeleteMarker"):
                    continue
                key = element.findtext(f"{_S3_NS}Key") or ""
                if url_encoded:
                    key = unquote_plus(key)
                etag = element.findtext(f"{_S3_NS}ETag")
                found.append(
                    ObjectInfo(
                        key=key,
                        version_id=element.findtext(f"{_S3_NS}VersionId"),
                        size=int(element.findtext(f"{_S3_NS}Size") or 0),
                        content_type=None,
                        last_modified=parse_s3_datetime(element.findtext(f"{_S3_NS}LastModified")),
                        etag=etag.strip('"') if etag else None,
                        is_latest=(element.findtext(f"{_S3_NS}IsLatest") or "").lower() == "true",
                        is_delete_marker=tag == "DeleteMarker",
                    )
                )
            if (root.findtext(f"{_S3_NS}IsTruncated") or "").lower() != "true":
                break
            key_marker = root.findtext(f"{_S3_NS}NextKeyMarker")
            version_marker = root.findtext(f"{_S3_NS}NextVersionIdMarker")
            if key_marker and url_encoded:
                key_marker = unquote_plus(key_marker)
            if not key_marker:
                break
        # Servers list each key's versions newest first; some (moto) put delete
        # markers after all versions, so order by latest, then time (stable sort).
        epoch = dt.datetime.min.replace(tzinfo=dt.UTC)
        found.sort(key=lambda o: o.last_modified or epoch, reverse=True)
        found.sort(key=lambda o: not o.is_latest)
        found.sort(key=lambda o: o.key)
        return found

    # --- deleting and locking ----------------------------------------------------------

    def delete(self, key: str, version_id: str | None = None, *, bypass_governance: bool = False) -> str | None:
        validate_key(key)
        headers = dict(_BYPASS) if bypass_governance else {}
        query = {"versionId": version_id} if version_id else {}
        try:
            response = self._execute("DELETE", key, headers=headers, query_params=query)
        except S3Error as exc:
            if version_id and exc.code in ("NoSuchVersion", "NoSuchKey"):
                return None
            _raise(exc, f"delete {key} {version_id or ''}", dict.fromkeys(_LOCKED, ObjectLocked))
        if version_id is None:
            return cast(str | None, response.headers.get("x-amz-version-id"))
        return None

    def set_retention(
        self,
        key: str,
        version_id: str | None,
        mode: RetentionMode,
        until: dt.datetime,
        *,
        bypass_governance: bool = False,
    ) -> None:
        validate_key(key)
        body = marshal(MinioRetention(RetentionMode(mode).value, normalize_until(until)))
        headers: dict[str, str | list[str] | tuple[str]] = {"Content-MD5": cast(str, md5sum_hash(body))}
        if bypass_governance:
            headers.update(_BYPASS)
        query: dict[str, str | list[str] | tuple[str]] = {"retention": ""}
        if version_id:
            query["versionId"] = version_id
        try:
            self._execute("PUT", key, body=body, headers=headers, query_params=query)
        except S3Error as exc:
            if exc.code == "InvalidArgument":
                raise ValueError(f"retention of {key}: {exc.message}") from exc
            mapping: dict[str, type[StorageError]] = dict.fromkeys(_NOT_FOUND, ObjectNotFound)
            mapping.update(dict.fromkeys(_LOCKED, ObjectLocked))
            _raise(exc, f"retention of {key} {version_id or ''}", mapping)

    def set_legal_hold(self, key: str, version_id: str | None, on: bool) -> None:
        validate_key(key)
        try:
            if on:
                self._client.enable_object_legal_hold(self.bucket, key, version_id)
            else:
                self._client.disable_object_legal_hold(self.bucket, key, version_id)
        except S3Error as exc:
            _raise(exc, f"legal hold of {key} {version_id or ''}", dict.fromkeys(_NOT_FOUND, ObjectNotFound))

    def presigned_get_url(
        self,
        key: str,
        version_id: str | None = None,
        *,
        expires: dt.timedelta = dt.timedelta(minutes=10),
        filename: str | None = None,
    ) -> str:
        validate_key(key)
        validate_expires(expires)
        response_headers: dict[str, str | list[str] | tuple[str]] = {}
        if filename:
            response_headers["response-content-disposition"] = content_disposition(filename)
        return self._client.presigned_get_object(
            self.bucket, key, expires=expires, response_headers=response_headers or None, version_id=version_id
        )

    # --- multipart ----------------------------------------------------------------

    def start_multipart(
        self, key: str, content_type: str = DEFAULT_CONTENT_TYPE, *, metadata: Mapping[str, str] | None = None
    ) -> str:
        validate_key(key)
        headers = self._headers(content_type, validate_metadata(metadata))
        try:
            return self._client._create_multipart_upload(self.bucket, key, headers)
        except S3Error as exc:
            _raise(exc, f"start upload of {key}", {})

    def upload_part(self, key: str, upload_id: str, part_number: int, data: Source, length: int) -> PartInfo:
        validate_key(key)
        validate_part_number(part_number)
        if not isinstance(length, int) or not 0 < length <= MAX_PART_LENGTH:
            raise ValueError(f"a part is 1 byte to {MAX_PART_LENGTH // MiB} MiB long")
        try:
            payload, sha256 = read_part(as_readable(data), length)
        except ValueError as exc:
            raise ValueError(f"part {part_number}: {exc}") from None
        headers: dict[str, str | list[str] | tuple[str]] = {"x-amz-content-sha256": sha256}
        try:
            etag = self._client._upload_part(self.bucket, key, cast(bytes, payload), headers, upload_id, part_number)
        except S3Error as exc:
            _raise(exc, f"upload part {part_number} of {key}", dict.fromkeys(_NO_UPLOAD, UploadNotFound))
        return PartInfo(part_number, etag.strip('"'), length, sha256)

    def list_parts(self, key: str, upload_id: str) -> list[PartInfo]:
        validate_key(key)
        parts: list[PartInfo] = []
        marker: str | None = None
        while True:
            try:
                result = self._client._list_parts(self.bucket, key, upload_id, part_number_marker=marker)
            except S3Error as exc:
                _raise(exc, f"parts of upload {upload_id} of {key}", dict.fromkeys(_NO_UPLOAD, UploadNotFound))
            parts.extend(PartInfo(p.part_number, p.etag.strip('"'), p.size or 0) for p in result.parts)
            if not result.is_truncated or not result.next_part_number_marker:
                break
            marker = result.next_part_number_marker
        return sorted(parts, key=lambda p: p.part_number)

    def complete_multipart(
        self,
        key: str,
        upload_id: str,
        parts: Sequence[PartInfo],
        *,
        retention: Retention | None = None,
        legal_hold: bool = False,
    ) -> StoredObject:
        validate_key(key)
        wanted = [Part(p.part_number, p.etag.strip('"')) for p in sorted_parts(parts)]
        try:
            result = self._client._complete_multipart_upload(self.bucket, key, upload_id, wanted)
        except S3Error as exc:
            mapping: dict[str, type[StorageError]] = dict.fromkeys(_NO_UPLOAD, UploadNotFound)
            mapping.update(dict.fromkeys(("InvalidPart", "InvalidPartOrder", "EntityTooSmall"), InvalidPart))
            _raise(exc, f"complete upload {upload_id} of {key}", mapping)
        version_id = self._version(result.version_id, key)
        info = self.stat(key, version_id)
        stored = StoredObject(key, version_id, info.size, None, result.etag or info.etag)
        self._protect(stored, retention, legal_hold)
        return stored

    def abort_multipart(self, key: str, upload_id: str) -> None:
        validate_key(key)
        try:
            self._client._abort_multipart_upload(self.bucket, key, upload_id)
        except S3Error as exc:
            _raise(exc, f"abort upload {upload_id} of {key}", dict.fromkeys(_NO_UPLOAD, UploadNotFound))
