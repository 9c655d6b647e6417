"""The platform data key: secrets kept at rest by the platform once it may hold them.

After the opening the platform holds what opens a bid (a released file key,
custodians' parts, the key of the evaluation copy). None of it exists before
the opening, and after it none of it is stored in the clear: each is sealed
with AES-256-GCM under the platform data key, with the purpose and the record
it belongs to as associated data, so a sealed value cannot be moved to another
record or used for another purpose.

A sealed value is ``0x01 ‖ key id (8) ‖ nonce (12) ‖ ciphertext ‖ tag (16)``;
the key id (the first 8 bytes of SHA-256 of the key) names the key that sealed
it. Keys rotate: the key in ``PLATFORM_DATA_KEY_FILE`` seals, and it or any key
in ``PLATFORM_DATA_KEY_RETIRED_FILES`` opens what it sealed, found by the key id.
``manage.py reseal_data_key`` seals every stored value again under the newest
key, after which the retired files can be removed (docs/operations.md, "Rotating
the data key"). The key files live outside the database's and the object
store's backups: a backup alone then opens nothing.

Production names the key in ``PLATFORM_DATA_KEY_FILE`` (32 random bytes, base64;
etender.E010 insists on it); the embedded default generates one beside the
development PKI on first use.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import os
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.dispatch import receiver
from django.test.signals import setting_changed

from config.private_files import locked_folder, write_private

VERSION = 0x01
KEY_SIZE = 32
KEY_ID_SIZE = 8
NONCE_SIZE = 12
OVERHEAD = 1 + KEY_ID_SIZE + NONCE_SIZE + 16
DEVELOPMENT_KEY_FILE = "data.key"


class VaultError(Exception):
    """A sealed value that does not open: another key, purpose or record, or modified."""


class UnknownDataKey(VaultError):
    """Sealed under a data key that is not configured (neither the current key nor a retired one)."""


class DataKey:
    def __init__(self, key: bytes, *, development: bool) -> None:
        if len(key) != KEY_SIZE:
            raise ImproperlyConfigured(f"The platform data key must be {KEY_SIZE} bytes, not {len(key)}.")
        self._aead = AESGCM(key)
        self.key_id = hashlib.sha256(key).digest()[:KEY_ID_SIZE]
        self.development = development

    def seal(self, purpose: str, data: bytes) -> bytes:
        nonce = os.urandom(NONCE_SIZE)
        head = bytes([VERSION]) + self.key_id
        return head + nonce + self._aead.encrypt(nonce, bytes(data), head + purpose.encode("utf-8"))

    def open(self, purpose: str, sealed: bytes) -> bytes:
        sealed = _checked(sealed)
        head = sealed[: 1 + KEY_ID_SIZE]
        if not hmac.compare_digest(head[1:], self.key_id):
            raise UnknownDataKey(f"sealed under data key {head[1:].hex()}, not under {self.key_id.hex()}")
        nonce = sealed[1 + KEY_ID_SIZE : 1 + KEY_ID_SIZE + NONCE_SIZE]
        try:
            return self._aead.decrypt(nonce, sealed[1 + KEY_ID_SIZE + NONCE_SIZE :], head + purpose.encode("utf-8"))
        except InvalidTag:
            raise VaultError(
                f"the sealed value does not open for {purpose!r}: modified, or sealed for another record"
            ) from None


class DataKeyring:
    """The configured data keys: the current one seals, each one opens what it sealed."""

    def __init__(self, current: DataKey, retired: list[DataKey] | tuple[DataKey, ...] = ()) -> None:
        self.current = current
        self._by_id: dict[bytes, DataKey] = {}
        for key in (current, *retired):
            if key.key_id in self._by_id:
                raise ImproperlyConfigured(
                    f"The data key {key.key_id.hex()} is configured twice (current and retired, or retired twice)."
                )
            self._by_id[key.key_id] = key

    @property
    def key_id(self) -> bytes:
        return self.current.key_id

    @property
    def development(self) -> bool:
        return self.current.development

    @property
    def key_ids(self) -> list[bytes]:
        """Every configured key's id, the current one first."""
        return list(self._by_id)

    def seal(self, purpose: str, data: bytes) -> bytes:
        return self.current.seal(purpose, data)

    def open(self, purpose: str, sealed: bytes) -> bytes:
        key_id = sealed_key_id(sealed)
        key = self._by_id.get(key_id)
        if key is None:
            raise UnknownDataKey(
                f"sealed under data key {key_id.hex()}, which is not configured: the current key is "
                f"{self.current.key_id.hex()}; add the old key's file to PLATFORM_DATA_KEY_RETIRED_FILES"
            )
        return key.open(purpose, sealed)

    def reseal(self, purpose: str, sealed: bytes) -> bytes | None:
        """The value sealed again under the current key, or None if it already is."""
        if hmac.compare_digest(sealed_key_id(sealed), self.current.key_id):
            return None
        return self.current.seal(purpose, self.open(purpose, sealed))


def sealed_key_id(sealed: bytes) -> bytes:
    """The id of the data key a value was sealed under (VaultError if it is not a sealed value)."""
    return _checked(sealed)[1 : 1 + KEY_ID_SIZE]


def _checked(sealed: bytes) -> bytes:
    sealed = bytes(sealed)
    if len(sealed) < OVERHEAD or sealed[0] != VERSION:
        raise VaultError("not a value sealed by the platform data key")
    return sealed


@functools.cache
def data_key() -> DataKeyring:
    if settings.PLATFORM_DATA_KEY_FILE:
        current = DataKey(_read_key(Path(settings.PLATFORM_DATA_KEY_FILE)), development=False)
    else:
        current = _development_key(Path(settings.DEVELOPMENT_PKI_DIR))
    retired = [
        DataKey(_read_key(Path(name), "PLATFORM_DATA_KEY_RETIRED_FILES"), development=False)
        for name in settings.PLATFORM_DATA_KEY_RETIRED_FILES
    ]
    return DataKeyring(current, retired)


def seal(purpose: str, data: bytes) -> bytes:
    return data_key().seal(purpose, data)


def open_sealed(purpose: str, sealed: bytes) -> bytes:
    return data_key().open(purpose, sealed)


def reseal(purpose: str, sealed: bytes) -> bytes | None:
    """``sealed`` sealed again under the current data key, or None if it already is."""
    return data_key().reseal(purpose, sealed)


def reset_data_key_cache() -> None:
    data_key.cache_clear()


@receiver(setting_changed)
def _reset_on_setting_changed(setting: str, **kwargs: Any) -> None:
    if setting in {"PLATFORM_DATA_KEY_FILE", "PLATFORM_DATA_KEY_RETIRED_FILES", "DEVELOPMENT_PKI_DIR"}:
        reset_data_key_cache()


def _read_key(path: Path, variable: str = "PLATFORM_DATA_KEY_FILE") -> bytes:
    try:
        text = path.read_bytes().strip()
    except OSError as exc:
        raise ImproperlyConfigured(f"{variable}: {path} cannot be read: {exc}") from exc
    try:
        key = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ImproperlyConfigured(
            f"{variable}: {path} must hold 32 random bytes in base64 (openssl rand -base64 32)."
        ) from None
    if len(key) != KEY_SIZE:
        raise ImproperlyConfigured(
            f"{variable}: {path} holds {len(key)} bytes; the data key is {KEY_SIZE} (openssl rand -base64 32)."
        )
    return key


def _development_key(directory: Path) -> DataKey:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / DEVELOPMENT_KEY_FILE
    with locked_folder(directory):
        if not path.exists():
            write_private(path, base64.b64encode(os.urandom(KEY_SIZE)) + b"\n")
    return DataKey(_read_key(path), development=True)
