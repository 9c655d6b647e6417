"""The embedded default: an object store in a folder, with S3's versioning and object lock.

It behaves like the S3 backend (same contract suite): versions and delete
markers, GOVERNANCE/COMPLIANCE retention and legal holds enforced against the
platform clock (``config.clock``), multipart uploads, metadata, and presigned
download URLs (signed and expiring, served by the ``archive:object-download``
view). It is for development, tests and single-machine demos: WORM here is only
as strong as the file permissions of ``root`` (anyone with shell access can
delete files), which is why production runs MinIO.

Layout under ``root``::

    objects/<2 hex>/<sha256 of key>/index.json   key, versions newest first (JSON)
    objects/<2 hex>/<sha256 of key>/v/<version>  one file per version
    objects/<2 hex>/<sha256 of key>/.lock        flock while the index changes
    uploads/<upload id>/upload.json              key, content type, metadata
    uploads/<upload id>/<part>.part, .json       parts and their ETag and size
    tmp/                                         files being written

Every write goes to ``tmp/`` first, is fsynced, then moved into place with
``os.replace`` (and the directory fsynced), so readers see a version completely
or not at all; the index is replaced the same way under the key's lock, so
several processes (Daphne, workers) can share one root.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import json
import os
import re
import secrets
import shutil
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, cast

from django.core import signing

from archive.storage.base import (
    DEFAULT_CONTENT_TYPE,
    DEFAULT_PART_SIZE,
    MAX_PART_LENGTH,
    MIN_PART_SIZE,
    InvalidPart,
    MiB,
    ObjectInfo,
    ObjectLocked,
    ObjectNotFound,
    ObjectStore,
    PartInfo,
    RangeReader,
    Retention,
    RetentionMode,
    Source,
    StorageError,
    StoredObject,
    UploadNotFound,
    as_readable,
    iter_stream,
    multipart_etag,
    new_md5,
    normalize_until,
    sorted_parts,
    validate_expires,
    validate_key,
    validate_metadata,
    validate_part_number,
    validate_range,
)
from archive.streams import CountingReader
from config import clock

DOWNLOAD_SALT = "archive.storage.filesystem.download"
_VERSION_ID = re.compile(r"^[0-9a-f]{32}$")
_UPLOAD_ID = re.compile(r"^[A-Za-z0-9_-]{32}$")


class DownloadLinkInvalid(StorageError):
    """A download token whose signature does not verify (altered, or signed with another key)."""


class DownloadLinkExpired(DownloadLinkInvalid):
    """A download token whose signature verifies but whose time is over."""


@dataclass(frozen=True)
class DownloadLink:
    """What a verified download token grants."""

    key: str
    version_id: str | None
    filename: str | None
    expires_at: dt.datetime


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat()


def _parse_iso(value: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value) if value else None


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class FilesystemObjectStore(ObjectStore):
    """An object store in the folder ``root`` (created by ``ensure_bucket``)."""

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        part_size: int = DEFAULT_PART_SIZE,
        signing_key: str | None = None,
        download_url: Callable[[str], str] | None = None,
    ) -> None:
        """``signing_key`` and ``download_url`` (token -> URL of the download view) enable presigned URLs."""
        self.root = Path(root)
        self.part_size = part_size
        self._signing_key = signing_key
        self._download_url = download_url

    def __repr__(self) -> str:
        return f"FilesystemObjectStore({str(self.root)!r})"

    # --- paths and the index ----------------------------------------------------

    def _key_dir(self, key: str) -> Path:
        digest = hashlib.sha256(key.encode("utf-8")).hexdigest()
        return self.root / "objects" / digest[:2] / digest

    def _tmp_file(self) -> Path:
        return self.root / "tmp" / f"{secrets.token_hex(16)}.tmp"

    def _write_file_atomically(self, target: Path, data: bytes) -> None:
        tmp = self._tmp_file()
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
        _fsync_dir(target.parent)

    @contextlib.contextmanager
    def _locked(self, key_dir: Path) -> Iterator[None]:
        key_dir.mkdir(parents=True, exist_ok=True)
        with open(key_dir / ".lock", "a+b") as lock:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock.fileno(), fcntl.LOCK_UN)

    @staticmethod
    def _read_index(key_dir: Path) -> dict[str, Any] | None:
        try:
            data: dict[str, Any] = json.loads((key_dir / "index.json").read_text("utf-8"))
        except FileNotFoundError:
            return None
        return data

    def _write_index(self, key_dir: Path, index: dict[str, Any]) -> None:
        self._write_file_atomically(key_dir / "index.json", json.dumps(index, ensure_ascii=False).encode("utf-8"))

    def _versions(self, key: str) -> list[dict[str, Any]]:
        index = self._read_index(self._key_dir(key))
        return list(index["versions"]) if index else []

    @staticmethod
    def _find(versions: list[dict[str, Any]], key: str, version_id: str | None) -> dict[str, Any]:
        """The version record (latest if no id); ObjectNotFound for delete markers and unknown ids."""
        if version_id is None:
            if not versions or versions[0]["delete_marker"]:
                raise ObjectNotFound(f"{key}: no such key")
            return versions[0]
        for record in versions:
            if record["version_id"] == version_id:
                if record["delete_marker"]:
                    raise ObjectNotFound(f"{key}: version {version_id} is a delete marker")
                return record
        raise ObjectNotFound(f"{key}: no such version {version_id}")

    @staticmethod
    def _new_version_id() -> str:
        return f"{time.time_ns():016x}{secrets.token_hex(8)}"

    @staticmethod
    def _in_force(record: dict[str, Any], now: dt.datetime) -> RetentionMode | None:
        until = _parse_iso(record.get("retain_until"))
        if record.get("retention_mode") and until is not None and until > now:
            return RetentionMode(record["retention_mode"])
        return None

    def _add_version(self, key: str, data_file: Path, record: dict[str, Any]) -> None:
        key_dir = self._key_dir(key)
        with self._locked(key_dir):
            versions_dir = key_dir / "v"
            versions_dir.mkdir(exist_ok=True)
            os.replace(data_file, versions_dir / record["version_id"])
            _fsync_dir(versions_dir)
            index = self._read_index(key_dir) or {"key": key, "versions": []}
            index["versions"].insert(0, record)
            self._write_index(key_dir, index)

    def _update_version(self, key: str, version_id: str | None, change: Callable[[dict[str, Any]], None]) -> None:
        key_dir = self._key_dir(key)
        if not (key_dir / "index.json").exists():
            raise ObjectNotFound(f"{key}: no such key")
        with self._locked(key_dir):
            index = self._read_index(key_dir) or {"key": key, "versions": []}
            record = self._find(index["versions"], key, version_id)
            change(record)
            self._write_index(key_dir, index)

    # --- the interface ------------------------------------------------------------

    def ensure_bucket(self) -> None:
        for sub in ("objects", "uploads", "tmp"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)

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
        meta = validate_metadata(metadata)
        if length is not None and length < 0:
            raise ValueError("length must not be negative")
        if retention is not None and retention.until <= clock.now():
            raise ValueError("the retain-until date must be in the future")
        sha, md5 = hashlib.sha256(), new_md5()
        source = CountingReader(as_readable(stream), sha, md5)
        tmp = self._tmp_file()
        try:
            with open(tmp, "wb") as f:
                for chunk in iter_stream(source, length):
                    f.write(chunk)
                f.flush()
                os.fsync(f.fileno())
            stored = StoredObject(key, self._new_version_id(), source.count, sha.hexdigest(), md5.hexdigest())
            self._add_version(key, tmp, self._record(stored, content_type, meta, retention, legal_hold))
        finally:
            tmp.unlink(missing_ok=True)
        return stored

    def _record(
        self,
        stored: StoredObject,
        content_type: str,
        metadata: dict[str, str],
        retention: Retention | None,
        legal_hold: bool,
    ) -> dict[str, Any]:
        return {
            "version_id": stored.version_id,
            "delete_marker": False,
            "size": stored.size,
            "sha256": stored.sha256,
            "etag": stored.etag,
            "content_type": content_type or DEFAULT_CONTENT_TYPE,
            "metadata": metadata,
            "last_modified": _iso(clock.now()),
            "retention_mode": retention.mode.value if retention else None,
            "retain_until": _iso(retention.until) if retention else None,
            "legal_hold": bool(legal_hold),
        }

    def _data_path(self, key: str, version_id: str | None) -> tuple[dict[str, Any], Path]:
        validate_key(key)
        if version_id is not None and not _VERSION_ID.match(version_id):
            raise ObjectNotFound(f"{key}: no such version {version_id}")
        record = self._find(self._versions(key), key, version_id)
        return record, self._key_dir(key) / "v" / record["version_id"]

    @contextlib.contextmanager
    def open(self, key: str, version_id: str | None = None) -> Iterator[BinaryIO]:
        _, path = self._data_path(key, version_id)
        try:
            f = open(path, "rb")  # noqa: SIM115 (closed below, after the caller's block)
        except FileNotFoundError as exc:  # deleted between the index read and here
            raise ObjectNotFound(f"{key}: no such version {version_id}") from exc
        with f:
            yield f

    @contextlib.contextmanager
    def open_range(self, key: str, version_id: str | None, offset: int, length: int) -> Iterator[BinaryIO]:
        validate_range(offset, length)
        with self.open(key, version_id) as f:
            f.seek(offset)
            yield cast(BinaryIO, RangeReader(f, length))

    def stat(self, key: str, version_id: str | None = None) -> ObjectInfo:
        record, _ = self._data_path(key, version_id)
        is_latest = self._versions(key)[0]["version_id"] == record["version_id"]
        mode = record.get("retention_mode")
        return ObjectInfo(
            key=key,
            version_id=record["version_id"],
            size=record["size"],
            content_type=record["content_type"],
            last_modified=_parse_iso(record["last_modified"]),
            metadata=dict(record["metadata"]),
            retention_mode=RetentionMode(mode) if mode else None,
            retain_until=_parse_iso(record.get("retain_until")),
            legal_hold=bool(record.get("legal_hold")),
            etag=record.get("etag"),
            is_latest=is_latest,
        )

    def list_versions(self, prefix: str = "") -> list[ObjectInfo]:
        objects = self.root / "objects"
        found: list[tuple[str, list[dict[str, Any]]]] = []
        if objects.is_dir():
            for shard in os.scandir(objects):
                if not shard.is_dir():
                    continue
                for entry in os.scandir(shard.path):
                    index = self._read_index(Path(entry.path))
                    if index and index["versions"] and index["key"].startswith(prefix):
                        found.append((index["key"], index["versions"]))
        result: list[ObjectInfo] = []
        for key, versions in sorted(found, key=lambda item: item[0]):
            for position, record in enumerate(versions):
                result.append(
                    ObjectInfo(
                        key=key,
                        version_id=record["version_id"],
                        size=record["size"],
                        content_type=None,
                        last_modified=_parse_iso(record["last_modified"]),
                        etag=record.get("etag"),
                        is_latest=position == 0,
                        is_delete_marker=record["delete_marker"],
                    )
                )
        return result

    def delete(self, key: str, version_id: str | None = None, *, bypass_governance: bool = False) -> str | None:
        validate_key(key)
        key_dir = self._key_dir(key)
        if version_id is None:
            marker = {
                "version_id": self._new_version_id(),
                "delete_marker": True,
                "size": 0,
                "last_modified": _iso(clock.now()),
            }
            with self._locked(key_dir):
                index = self._read_index(key_dir) or {"key": key, "versions": []}
                index["versions"].insert(0, marker)
                self._write_index(key_dir, index)
            return str(marker["version_id"])
        if not _VERSION_ID.match(version_id) or not (key_dir / "index.json").exists():
            return None
        with self._locked(key_dir):
            index = self._read_index(key_dir) or {"key": key, "versions": []}
            records = [r for r in index["versions"] if r["version_id"] == version_id]
            if not records:
                return None
            record = records[0]
            if record.get("legal_hold"):
                raise ObjectLocked(f"{key} version {version_id} is under a legal hold")
            mode = self._in_force(record, clock.now())
            if mode is RetentionMode.COMPLIANCE or (mode is RetentionMode.GOVERNANCE and not bypass_governance):
                raise ObjectLocked(
                    f"{key} version {version_id} is retained ({mode.value}) until {record['retain_until']}"
                )
            index["versions"] = [r for r in index["versions"] if r["version_id"] != version_id]
            self._write_index(key_dir, index)
            (key_dir / "v" / version_id).unlink(missing_ok=True)
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
        mode = RetentionMode(mode)
        until = normalize_until(until)
        now = clock.now()
        if until <= now:
            raise ValueError("the retain-until date must be in the future")
        if version_id is not None and not _VERSION_ID.match(version_id):
            raise ObjectNotFound(f"{key}: no such version {version_id}")

        def change(record: dict[str, Any]) -> None:
            current = self._in_force(record, now)
            current_until = _parse_iso(record.get("retain_until"))
            if current is not None and current_until is not None:
                weaker = until < current_until or mode is not current
                if current is RetentionMode.COMPLIANCE and weaker:
                    raise ObjectLocked(
                        f"{key}: a COMPLIANCE retention until {current_until.isoformat()} "
                        "cannot be shortened or changed"
                    )
                if current is RetentionMode.GOVERNANCE and weaker and not bypass_governance:
                    raise ObjectLocked(f"{key}: changing a GOVERNANCE retention this way needs bypass_governance")
            record["retention_mode"] = mode.value
            record["retain_until"] = _iso(until)

        self._update_version(key, version_id, change)

    def set_legal_hold(self, key: str, version_id: str | None, on: bool) -> None:
        validate_key(key)
        if version_id is not None and not _VERSION_ID.match(version_id):
            raise ObjectNotFound(f"{key}: no such version {version_id}")

        def change(record: dict[str, Any]) -> None:
            record["legal_hold"] = bool(on)

        self._update_version(key, version_id, change)

    # --- presigned downloads --------------------------------------------------------

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
        if self._signing_key is None or self._download_url is None:
            raise StorageError("this filesystem store was built without signing_key/download_url")
        expires_at = clock.now() + expires
        payload = {"k": key, "v": version_id, "f": filename, "e": int(expires_at.timestamp())}
        token = signing.dumps(payload, key=self._signing_key, salt=DOWNLOAD_SALT, compress=True)
        return self._download_url(token)

    def verify_download_token(self, token: str) -> DownloadLink:
        """The link a token grants; DownloadLinkInvalid if altered, DownloadLinkExpired if too old."""
        if self._signing_key is None:
            raise DownloadLinkInvalid("this store does not issue download links")
        try:
            payload = signing.loads(token, key=self._signing_key, salt=DOWNLOAD_SALT)
            link = DownloadLink(
                key=validate_key(payload["k"]),
                version_id=payload["v"],
                filename=payload["f"],
                expires_at=dt.datetime.fromtimestamp(int(payload["e"]), tz=dt.UTC),
            )
        except (signing.BadSignature, KeyError, TypeError, ValueError) as exc:
            raise DownloadLinkInvalid("the download link is not valid") from exc
        if clock.now() >= link.expires_at:
            raise DownloadLinkExpired(f"the download link expired at {link.expires_at.isoformat()}")
        return link

    # --- multipart ----------------------------------------------------------------

    def _upload_dir(self, key: str, upload_id: str) -> tuple[Path, dict[str, Any]]:
        validate_key(key)
        if not isinstance(upload_id, str) or not _UPLOAD_ID.match(upload_id):
            raise UploadNotFound(f"no such upload {upload_id!r}")
        upload_dir = self.root / "uploads" / upload_id
        try:
            info: dict[str, Any] = json.loads((upload_dir / "upload.json").read_text("utf-8"))
        except FileNotFoundError as exc:
            raise UploadNotFound(f"no such upload {upload_id!r}") from exc
        if info["key"] != key:
            raise UploadNotFound(f"upload {upload_id!r} is not for {key!r}")
        return upload_dir, info

    def start_multipart(
        self, key: str, content_type: str = DEFAULT_CONTENT_TYPE, *, metadata: Mapping[str, str] | None = None
    ) -> str:
        validate_key(key)
        meta = validate_metadata(metadata)
        upload_id = secrets.token_urlsafe(24)
        staging = self.root / "uploads" / f".{upload_id}"
        staging.mkdir(parents=True)
        info = {
            "key": key,
            "content_type": content_type or DEFAULT_CONTENT_TYPE,
            "metadata": meta,
            "initiated": _iso(clock.now()),
        }
        (staging / "upload.json").write_text(json.dumps(info, ensure_ascii=False), "utf-8")
        os.replace(staging, self.root / "uploads" / upload_id)
        return upload_id

    def upload_part(self, key: str, upload_id: str, part_number: int, data: Source, length: int) -> PartInfo:
        upload_dir, _ = self._upload_dir(key, upload_id)
        validate_part_number(part_number)
        if not isinstance(length, int) or not 0 < length <= MAX_PART_LENGTH:
            raise ValueError(f"a part is 1 byte to {MAX_PART_LENGTH // MiB} MiB long")
        md5 = new_md5()  # the ETag, as S3 computes it
        sha256 = hashlib.sha256()
        tmp = self._tmp_file()
        try:
            with open(tmp, "wb") as f:
                for chunk in iter_stream(CountingReader(as_readable(data), md5, sha256), length):
                    f.write(chunk)
                f.flush()
                os.fsync(f.fileno())
            part = PartInfo(part_number, md5.hexdigest(), length, sha256.hexdigest())
            name = f"{part_number:05d}"
            try:
                os.replace(tmp, upload_dir / f"{name}.part")
                self._write_file_atomically(upload_dir / f"{name}.json", json.dumps(part.__dict__).encode())
            except FileNotFoundError as exc:  # aborted or completed meanwhile
                raise UploadNotFound(f"no such upload {upload_id!r}") from exc
        finally:
            tmp.unlink(missing_ok=True)
        return part

    def list_parts(self, key: str, upload_id: str) -> list[PartInfo]:
        upload_dir, _ = self._upload_dir(key, upload_id)
        parts: list[PartInfo] = []
        for meta in sorted(upload_dir.glob("*.json")):
            if meta.name == "upload.json":
                continue
            with contextlib.suppress(FileNotFoundError):
                parts.append(PartInfo(**json.loads(meta.read_text())))
        return parts

    def complete_multipart(
        self,
        key: str,
        upload_id: str,
        parts: Sequence[PartInfo],
        *,
        retention: Retention | None = None,
        legal_hold: bool = False,
    ) -> StoredObject:
        upload_dir, info = self._upload_dir(key, upload_id)
        wanted = sorted_parts(parts)
        if retention is not None and retention.until <= clock.now():
            raise ValueError("the retain-until date must be in the future")
        uploaded = {p.part_number: p for p in self.list_parts(key, upload_id)}
        for i, part in enumerate(wanted):
            have = uploaded.get(part.part_number)
            if have is None or have.etag != part.etag.strip('"'):
                raise InvalidPart(f"part {part.part_number} was not uploaded with ETag {part.etag}")
            if i < len(wanted) - 1 and have.size < MIN_PART_SIZE:
                raise InvalidPart(f"part {part.part_number} is smaller than {MIN_PART_SIZE // MiB} MiB")
        # Claim the upload: a concurrent complete or abort now finds nothing.
        claimed = self.root / "uploads" / f".done-{upload_id}-{secrets.token_hex(4)}"
        try:
            os.replace(upload_dir, claimed)
        except FileNotFoundError as exc:
            raise UploadNotFound(f"no such upload {upload_id!r}") from exc
        sha, size, tmp = hashlib.sha256(), 0, self._tmp_file()
        try:
            with open(tmp, "wb") as out:
                for part in wanted:
                    with open(claimed / f"{part.part_number:05d}.part", "rb") as f:
                        hashed = CountingReader(f, sha)
                        shutil.copyfileobj(hashed, out, MiB)
                        size += hashed.count
                out.flush()
                os.fsync(out.fileno())
            etag = multipart_etag([uploaded[p.part_number].etag for p in wanted])
            stored = StoredObject(key, self._new_version_id(), size, sha.hexdigest(), etag)
            record = self._record(stored, info["content_type"], info["metadata"], retention, legal_hold)
            self._add_version(key, tmp, record)
        except BaseException:
            # Put the upload back so that the caller can retry or abort it.
            with contextlib.suppress(OSError):
                os.replace(claimed, upload_dir)
            raise
        finally:
            tmp.unlink(missing_ok=True)
        shutil.rmtree(claimed, ignore_errors=True)
        return stored

    def abort_multipart(self, key: str, upload_id: str) -> None:
        upload_dir, _ = self._upload_dir(key, upload_id)
        doomed = self.root / "uploads" / f".aborted-{upload_id}-{secrets.token_hex(4)}"
        try:
            os.replace(upload_dir, doomed)
        except FileNotFoundError as exc:
            raise UploadNotFound(f"no such upload {upload_id!r}") from exc
        shutil.rmtree(doomed, ignore_errors=True)
