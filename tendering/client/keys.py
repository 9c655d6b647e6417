"""The bidder's P-256 keys, made on this machine, private halves encrypted at rest.

A key has a purpose (``signing``: signs the manifest; ``encryption``: the
bidder's own envelope is sealed to it) and a name (default ``default``). Its
private key is PKCS#8 PEM encrypted with a passphrase
(``BestAvailableEncryption``: AES-256-CBC under a scrypt- or PBKDF2-derived
key, as the installed OpenSSL chooses), mode 0600; its public key is SPKI PEM
beside it. The platform only ever receives the public key.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tendering.client.config import ensure_private_folder, write_atomic
from tendering.client.transport import ClientError
from tendering.sealing import fingerprint, spki_der

PURPOSES = ("signing", "encryption")
DEFAULT_NAME = "default"
MIN_PASSPHRASE = 8
_NAME = re.compile(r"\A[A-Za-z0-9][A-Za-z0-9._-]{0,39}\Z")


class PassphraseError(ClientError):
    """A passphrase that does not open the key, or none given where one is needed."""


@dataclass(frozen=True)
class LocalKey:
    purpose: str
    name: str
    private_path: Path
    public_path: Path

    def public_key(self) -> ec.EllipticCurvePublicKey:
        return load_public_pem(self.public_path)

    def fingerprint(self) -> str:
        return fingerprint(self.public_key())

    def public_pem(self) -> str:
        return self.public_path.read_text(encoding="ascii")

    def private_key(self, passphrase: bytes) -> ec.EllipticCurvePrivateKey:
        return load_private_key(self.private_path, passphrase)


def check_name(name: str) -> str:
    if not _NAME.match(name):
        raise ClientError(
            f"a key name is 1-40 letters, digits, '.', '_' or '-' (starting with a letter or digit), not {name!r}"
        )
    return name


def check_purpose(purpose: str) -> str:
    if purpose not in PURPOSES:
        raise ClientError(f"a key's purpose is signing or encryption, not {purpose!r}")
    return purpose


def keys_folder(home: Path) -> Path:
    return home / "keys"


def local_key(home: Path, purpose: str, name: str = DEFAULT_NAME) -> LocalKey:
    check_purpose(purpose)
    check_name(name)
    folder = keys_folder(home)
    return LocalKey(purpose, name, folder / f"{purpose}-{name}.key.pem", folder / f"{purpose}-{name}.pub.pem")


def existing_key(home: Path, purpose: str, name: str = DEFAULT_NAME) -> LocalKey:
    key = local_key(home, purpose, name)
    if not key.private_path.exists() or not key.public_path.exists():
        raise ClientError(
            f"no local {purpose} key named {name!r} in {keys_folder(home)}: "
            f"make one with `etender keys generate --purpose {purpose} --name {name}`"
        )
    return key


def local_keys(home: Path) -> list[LocalKey]:
    """The key pairs in the keys folder (both halves present), by purpose then name."""
    found = []
    folder = keys_folder(home)
    for purpose in PURPOSES:
        for path in sorted(folder.glob(f"{purpose}-*.pub.pem")):
            name = path.name[len(purpose) + 1 : -len(".pub.pem")]
            if _NAME.match(name):
                key = local_key(home, purpose, name)
                if key.private_path.exists():
                    found.append(key)
    return found


def ensure_new(home: Path, purpose: str, name: str) -> LocalKey:
    """The paths of a key that does not exist yet; refuses to overwrite one."""
    key = local_key(home, purpose, name)
    if key.private_path.exists() or key.public_path.exists():
        raise ClientError(
            f"a {purpose} key named {name!r} already exists ({key.private_path}); choose another --name "
            "(keys are never overwritten: a registered key may still be needed to open a bid)"
        )
    return key


def generate_key(home: Path, purpose: str, name: str, passphrase: bytes) -> LocalKey:
    """A new P-256 key pair; refuses to overwrite an existing one or to use a short passphrase."""
    ensure_new(home, purpose, name)
    check_passphrase(passphrase)
    return store_key(home, purpose, name, ec.generate_private_key(ec.SECP256R1()), passphrase)


def store_key(home: Path, purpose: str, name: str, private: ec.EllipticCurvePrivateKey, passphrase: bytes) -> LocalKey:
    """``private`` written as the key ``purpose``/``name``, encrypted with ``passphrase``; never overwrites one."""
    key = ensure_new(home, purpose, name)
    check_passphrase(passphrase)
    encrypted = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(passphrase),
    )
    public = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    ensure_private_folder(home)
    ensure_private_folder(keys_folder(home))
    write_atomic(key.private_path, encrypted, 0o600)
    write_atomic(key.public_path, public, 0o644)
    return key


def purpose_from_file_name(path: Path) -> str:
    """``signing`` or ``encryption`` from a name ending ``-signing.pem`` / ``-encryption.pem`` (the demo's keys)."""
    for purpose in PURPOSES:
        if path.name.endswith(f"-{purpose}.pem"):
            return purpose
    raise ClientError(f"give --purpose signing or --purpose encryption: {path.name} does not say which key it is")


def is_encrypted_pem(data: bytes) -> bool:
    return b"-----BEGIN ENCRYPTED PRIVATE KEY-----" in data or b"Proc-Type: 4,ENCRYPTED" in data


def private_key_from_pem(data: bytes, passphrase: bytes, what: str) -> ec.EllipticCurvePrivateKey:
    """A P-256 private key from PEM (PKCS#8 or SEC1; encrypted ones with ``passphrase``) made elsewhere."""
    if b"PRIVATE KEY-----" not in data:
        raise ClientError(f"{what} is not a PEM private key (-----BEGIN PRIVATE KEY-----)")
    if is_encrypted_pem(data) and not passphrase:
        raise PassphraseError(f"{what} is encrypted: give its passphrase")
    try:
        key = serialization.load_pem_private_key(data, password=passphrase if is_encrypted_pem(data) else None)
    except (ValueError, TypeError):
        raise ClientError(f"{what} cannot be read as a PEM private key (wrong passphrase, or damaged)") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise ClientError(f"{what} does not hold a P-256 key: the platform takes P-256 keys only")
    return key


def check_passphrase(passphrase: bytes) -> None:
    if len(passphrase) < MIN_PASSPHRASE:
        raise PassphraseError(f"the passphrase must have at least {MIN_PASSPHRASE} characters")


def load_private_key(path: Path, passphrase: bytes) -> ec.EllipticCurvePrivateKey:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ClientError(f"cannot read the key file {path}: {exc.strerror}") from None
    if b"ENCRYPTED PRIVATE KEY" not in data:
        raise ClientError(f"{path} is not an encrypted private key (PKCS#8): refusing to use a key stored in the clear")
    if not passphrase:
        raise PassphraseError(f"the key file {path} needs its passphrase")
    try:
        key = serialization.load_pem_private_key(data, password=passphrase)
    except (ValueError, TypeError):
        raise PassphraseError(f"wrong passphrase for the key file {path} (or the file is damaged)") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise ClientError(f"{path} does not hold a P-256 key")
    return key


def load_public_pem(path: Path) -> ec.EllipticCurvePublicKey:
    try:
        key = serialization.load_pem_public_key(path.read_bytes())
    except OSError as exc:
        raise ClientError(f"cannot read the public key file {path}: {exc.strerror}") from None
    except ValueError:
        raise ClientError(f"{path} is not a PEM public key") from None
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        raise ClientError(f"{path} does not hold a P-256 public key")
    return key


def public_key_from_pem(pem: str, what: str) -> ec.EllipticCurvePublicKey:
    try:
        key = serialization.load_pem_public_key(pem.encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        raise ClientError(f"{what} is not a PEM public key") from None
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        raise ClientError(f"{what} is not a P-256 public key")
    spki_der(key)
    return key


def loose_permissions(path: Path) -> bool:
    """Whether a private key file can be read by others than its owner."""
    try:
        return bool(os.stat(path).st_mode & (stat.S_IRWXG | stat.S_IRWXO))
    except OSError:
        return False
