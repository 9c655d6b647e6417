"""``etender keys import``: a key made elsewhere (the demo's) kept as a generated one; the split CLI's commands."""

from __future__ import annotations

import argparse
import os
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from frontend.demo import _write_private_key
from tendering.client import keys as keystore
from tendering.client.cli import build_parser, main
from tendering.sealing import fingerprint

PASSPHRASE = "import passphrase 2026"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        status = main(list(argv))
    except SystemExit as exc:
        status = int(exc.code or 0)
    out, err = capsys.readouterr()
    return status, out, err


@pytest.fixture(autouse=True)
def client_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for name in ("ETENDER_URL", "ETENDER_TOKEN", "ETENDER_PASSWORD", "ETENDER_SOURCE_PASSPHRASE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ETENDER_PASSPHRASE", PASSPHRASE)
    monkeypatch.setenv("ETENDER_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def keys_in(home: Path) -> list[str]:
    folder = keystore.keys_folder(home)
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


# --- refusals ------------------------------------------------------------------------------------------------


def test_a_file_that_is_not_a_private_key_is_refused_and_nothing_is_stored(
    capsys: pytest.CaptureFixture[str], client_home: Path, tmp_path: Path
) -> None:
    public = tmp_path / "bidder1-signing.pem"
    key = ec.generate_private_key(ec.SECP256R1())
    public.write_bytes(
        key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    status, _, err = run(capsys, "keys", "import", str(public))
    assert status == 1
    assert "is not a PEM private key" in err
    assert keys_in(client_home) == []


def test_a_key_on_another_curve_is_refused_and_nothing_is_stored(
    capsys: pytest.CaptureFixture[str], client_home: Path, tmp_path: Path
) -> None:
    other = tmp_path / "bidder1-encryption.pem"
    other.write_bytes(
        ec.generate_private_key(ec.SECP384R1()).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    status, _, err = run(capsys, "keys", "import", str(other))
    assert status == 1
    assert "does not hold a P-256 key" in err
    assert keys_in(client_home) == []


def test_a_file_whose_name_does_not_say_the_purpose_needs_the_purpose_option(
    capsys: pytest.CaptureFixture[str], client_home: Path, tmp_path: Path
) -> None:
    source = _write_private_key(tmp_path, "bidder1", "signing").private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    (tmp_path / "key.pem").write_bytes(source)
    status, _, err = run(capsys, "keys", "import", str(tmp_path / "key.pem"))
    assert status == 1
    assert "give --purpose signing or --purpose encryption" in err
    assert keys_in(client_home) == []


def test_an_existing_key_is_never_overwritten_by_an_import(
    capsys: pytest.CaptureFixture[str], client_home: Path, tmp_path: Path
) -> None:
    keystore.generate_key(client_home, "signing", keystore.DEFAULT_NAME, PASSPHRASE.encode())
    before = {name: (keystore.keys_folder(client_home) / name).read_bytes() for name in keys_in(client_home)}
    _write_private_key(tmp_path, "bidder1", "signing")
    status, _, err = run(capsys, "keys", "import", str(tmp_path / "bidder1-signing.pem"))
    assert status == 1
    assert "already exists" in err
    assert {name: (keystore.keys_folder(client_home) / name).read_bytes() for name in keys_in(client_home)} == before


def test_an_encrypted_file_without_its_passphrase_is_refused(
    capsys: pytest.CaptureFixture[str], client_home: Path, tmp_path: Path
) -> None:
    source = tmp_path / "custodian1-encryption.pem"
    source.write_bytes(
        ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"the source's own"),
        )
    )
    wrong = tmp_path / "wrong.txt"
    wrong.write_text("not the source's passphrase\n")
    status, _, err = run(capsys, "keys", "import", str(source), "--source-passphrase-file", str(wrong))
    assert status == 1
    assert "wrong passphrase, or damaged" in err
    assert keys_in(client_home) == []


# --- what works ----------------------------------------------------------------------------------------------


def test_a_demo_key_is_imported_encrypted_under_the_new_passphrase_with_its_fingerprint(
    capsys: pytest.CaptureFixture[str], client_home: Path, tmp_path: Path
) -> None:
    # The very file `make run`'s demo writes (frontend/demo.py): var/demo-keys/<username>-<purpose>.pem.
    demo = _write_private_key(tmp_path, "bidder1", "signing")
    source = tmp_path / "bidder1-signing.pem"
    original = source.read_bytes()
    status, out, err = run(capsys, "keys", "import", str(source), "--name", "demo")
    assert status == 0, err
    assert f"fingerprint {fingerprint(demo.public_key())}" in out
    assert "holds the private key in the clear" in err
    key = keystore.existing_key(client_home, "signing", "demo")
    assert b"ENCRYPTED PRIVATE KEY" in key.private_path.read_bytes()
    assert stat.S_IMODE(os.stat(key.private_path).st_mode) == 0o600
    assert key.private_key(PASSPHRASE.encode()).private_numbers() == demo.private_numbers()
    assert key.fingerprint() == fingerprint(demo.public_key())
    assert source.read_bytes() == original


def test_an_encrypted_key_is_imported_with_its_own_passphrase_and_the_purpose_given(
    capsys: pytest.CaptureFixture[str], client_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    private = ec.generate_private_key(ec.SECP256R1())
    source = tmp_path / "exported.pem"
    source.write_bytes(
        private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"the source's own"),
        )
    )
    monkeypatch.setenv("ETENDER_SOURCE_PASSPHRASE", "the source's own")
    status, out, err = run(capsys, "keys", "import", str(source), "--purpose", "encryption")
    assert status == 0, err
    assert "in the clear" not in err
    key = keystore.existing_key(client_home, "encryption")
    assert key.private_key(PASSPHRASE.encode()).private_numbers() == private.private_numbers()
    status, out, _ = run(capsys, "keys", "list")
    assert status == 0 and f"encryption default          {key.fingerprint()}" in out


def test_every_command_of_the_split_client_is_where_it_was_and_keys_import_is_new() -> None:
    def paths(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()) -> set[tuple[str, ...]]:
        found: set[tuple[str, ...]] = set()
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    found |= paths(sub, (*prefix, name)) or {(*prefix, name)}
        return found

    assert {" ".join(p) for p in paths(build_parser())} == {
        "login",
        "logout",
        "whoami",
        "keys generate",
        "keys register",
        "keys import",
        "keys list",
        "keys csr",
        "keys certify",
        "trust add-ca",
        "trust pin",
        "trust list",
        "trust remove",
        "tenders list",
        "tenders show",
        "seal",
        "submit",
        "replace",
        "withdraw",
        "bids list",
        "bids index",
        "receipt verify",
        "open release",
        "open status",
        "custodian open",
        "custodian confirm",
    }
