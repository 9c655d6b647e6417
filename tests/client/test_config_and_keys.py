"""The client's folder and keys: private files 0600, private keys encrypted, passphrases checked."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tendering.client import keys
from tendering.client.config import Config, home_folder
from tendering.client.keys import PassphraseError
from tendering.client.transport import ClientError

PASSPHRASE = b"correct horse battery"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# --- refusals first -------------------------------------------------------------------------------------


def test_a_wrong_passphrase_is_refused_clearly(tmp_path: Path) -> None:
    key = keys.generate_key(tmp_path, "signing", "default", PASSPHRASE)
    with pytest.raises(PassphraseError, match=r"wrong passphrase for the key file .*signing-default\.key\.pem"):
        key.private_key(b"wrong horse battery")


def test_the_private_key_cannot_be_used_without_its_passphrase(tmp_path: Path) -> None:
    key = keys.generate_key(tmp_path, "encryption", "office", PASSPHRASE)
    with pytest.raises(PassphraseError, match="needs its passphrase"):
        key.private_key(b"")
    pem = key.private_path.read_bytes()
    with pytest.raises(TypeError):  # what any program holding only the file meets
        serialization.load_pem_private_key(pem, password=None)


def test_a_short_passphrase_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    with pytest.raises(PassphraseError, match="at least 8 characters"):
        keys.generate_key(tmp_path, "signing", "default", b"1234567")
    assert keys.local_keys(tmp_path) == []


def test_an_existing_key_is_never_overwritten(tmp_path: Path) -> None:
    first = keys.generate_key(tmp_path, "signing", "default", PASSPHRASE)
    before = first.private_path.read_bytes()
    with pytest.raises(ClientError, match="already exists"):
        keys.generate_key(tmp_path, "signing", "default", PASSPHRASE)
    assert first.private_path.read_bytes() == before


def test_a_key_stored_in_the_clear_is_refused(tmp_path: Path) -> None:
    key = keys.local_key(tmp_path, "signing", "default")
    key.private_path.parent.mkdir(parents=True)
    private = ec.generate_private_key(ec.SECP256R1())
    key.private_path.write_bytes(
        private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    with pytest.raises(ClientError, match="refusing to use a key stored in the clear"):
        key.private_key(PASSPHRASE)


@pytest.mark.parametrize("name", ["", "../evil", "a/b", "-x", "x" * 41, "名字"])
def test_key_names_that_could_escape_the_keys_folder_are_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(ClientError, match="a key name is"):
        keys.local_key(tmp_path, "signing", name)


def test_a_missing_key_names_the_command_that_makes_it(tmp_path: Path) -> None:
    with pytest.raises(ClientError, match="etender keys generate --purpose encryption --name default"):
        keys.existing_key(tmp_path, "encryption")


# --- what works ---------------------------------------------------------------------------------------------


def test_the_config_file_and_folder_are_private(tmp_path: Path) -> None:
    home = tmp_path / "etender"
    config = Config(home, url="https://ztb.example.cn", username="wanglei", token="etk_secret")
    config.save()
    assert mode(home) == 0o700
    assert mode(config.path) == 0o600
    again = Config.load(home)
    assert (again.url, again.username, again.token) == ("https://ztb.example.cn", "wanglei", "etk_secret")
    config.token = ""
    config.save()
    assert "etk_secret" not in config.path.read_text()
    assert mode(config.path) == 0o600


def test_the_home_folder_comes_from_the_option_then_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("ETENDER_HOME", str(tmp_path / "env"))
    assert home_folder(tmp_path / "option") == tmp_path / "option"
    assert home_folder() == tmp_path / "env"
    monkeypatch.delenv("ETENDER_HOME")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert home_folder() == tmp_path / "xdg" / "etender"


def test_a_generated_key_is_encrypted_private_and_opens_with_its_passphrase(tmp_path: Path) -> None:
    key = keys.generate_key(tmp_path, "signing", "default", PASSPHRASE)
    assert key.private_path.read_bytes().startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    assert mode(key.private_path) == 0o600 and mode(key.public_path) == 0o644
    assert mode(tmp_path / "keys") == 0o700
    private = key.private_key(PASSPHRASE)
    assert private.public_key() == key.public_key()
    assert len(key.fingerprint()) == 64
    assert [(k.purpose, k.name) for k in keys.local_keys(tmp_path)] == [("signing", "default")]


def test_the_pinned_trust_anchors_are_read_back(tmp_path: Path) -> None:
    config = Config(tmp_path)
    assert config.pinned_trust() is None
    config.pin_trust("CA PEM\n", "", "PLATFORM PEM\n")
    assert config.pinned_trust() == (b"CA PEM\n", None)
    config.pin_trust("CA PEM\n", "TSA PEM\n", "PLATFORM PEM\n")
    assert config.pinned_trust() == (b"CA PEM\n", b"TSA PEM\n")
