"""The client's folder: ``$ETENDER_HOME`` (default ``~/.config/etender``).

::

    config.json          url, username, token (0600)
    trust.pem            the platform's trust anchors, pinned at login
    tsa-trust.pem        the time-stamp authority's, pinned at login
    platform.pem         the platform's certificate at login (informative)
    keys/<purpose>-<name>.key.pem   private keys, PKCS#8 encrypted with a passphrase (0600)
    keys/<purpose>-<name>.pub.pem   their public keys (SPKI PEM)

The folder is created 0700 and every secret file 0600, written atomically
(a temporary file in the same folder, then a rename).
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tendering.client.transport import ClientError

CONFIG_FILE = "config.json"
TRUST_FILE = "trust.pem"
TSA_TRUST_FILE = "tsa-trust.pem"
PLATFORM_CERT_FILE = "platform.pem"


def home_folder(override: str | os.PathLike[str] | None = None) -> Path:
    """``--home``, else ``$ETENDER_HOME``, else ``~/.config/etender`` (``$XDG_CONFIG_HOME`` if set)."""
    if override:
        return Path(override).expanduser()
    if os.environ.get("ETENDER_HOME"):
        return Path(os.environ["ETENDER_HOME"]).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "etender"


def ensure_private_folder(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    with contextlib.suppress(OSError):  # a folder the user made, on a file system without modes
        folder.chmod(0o700)
    return folder


def write_atomic(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder, created with ``mode``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(prefix="." + path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(descriptor, mode)
        with os.fdopen(descriptor, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def write_json(path: Path, value: Any, mode: int = 0o600) -> None:
    write_atomic(path, (json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True) + "\n").encode(), mode)


def read_json(path: Path, what: str) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise
    except (OSError, ValueError) as exc:
        raise ClientError(f"cannot read {what} {path}: {exc}") from None


@dataclass
class Config:
    """What ``etender login`` stores; ``url`` and ``token`` can come from options or the environment instead."""

    folder: Path
    url: str = ""
    username: str = ""
    token: str = ""

    @property
    def path(self) -> Path:
        return self.folder / CONFIG_FILE

    @classmethod
    def load(cls, folder: Path) -> Config:
        config = cls(folder)
        try:
            data = read_json(config.path, "the configuration")
        except FileNotFoundError:
            return config
        if not isinstance(data, dict):
            raise ClientError(f"{config.path} is not a JSON object: remove it and log in again")
        config.url = str(data.get("url") or "")
        config.username = str(data.get("username") or "")
        config.token = str(data.get("token") or "")
        return config

    def save(self) -> None:
        ensure_private_folder(self.folder)
        write_json(self.path, {"url": self.url, "username": self.username, "token": self.token})

    # --- pinned trust anchors -------------------------------------------------------

    @property
    def trust_path(self) -> Path:
        return self.folder / TRUST_FILE

    @property
    def tsa_trust_path(self) -> Path:
        return self.folder / TSA_TRUST_FILE

    def pinned_trust(self) -> tuple[bytes, bytes | None] | None:
        """The pinned (platform anchors, TSA anchors or None for the same), or None if nothing is pinned."""
        try:
            anchors = self.trust_path.read_bytes()
        except FileNotFoundError:
            return None
        try:
            tsa: bytes | None = self.tsa_trust_path.read_bytes()
        except FileNotFoundError:
            tsa = None
        return anchors, tsa

    def pin_trust(self, anchors: str, tsa_anchors: str, platform_certificate: str) -> None:
        ensure_private_folder(self.folder)
        write_atomic(self.trust_path, anchors.encode("ascii"), 0o644)
        if tsa_anchors:
            write_atomic(self.tsa_trust_path, tsa_anchors.encode("ascii"), 0o644)
        else:
            self.tsa_trust_path.unlink(missing_ok=True)
        write_atomic(self.folder / PLATFORM_CERT_FILE, platform_certificate.encode("ascii"), 0o644)
