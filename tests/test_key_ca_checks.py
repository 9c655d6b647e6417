"""System checks of the key CAs: no demo CA in production, never the platform's own certificates as a key CA."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from django.core.checks import Tags, run_checks

from accounts import key_ca
from archive.signing import development_ca, platform_signer
from config.checks import demo_key_ca, key_ca_certificates
from tests.fixtures.key_ca import make_ca


def ids(errors) -> list[str]:
    return [e.id for e in errors]


def bundle(tmp_path: Path, *certificates) -> str:
    path = tmp_path / "key-cas.pem"
    path.write_bytes(b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certificates))
    return str(path)


def test_the_demo_key_ca_is_refused_in_production(settings):
    settings.ETENDER_ENV = "production"
    settings.DEMO_KEY_CA_ENABLED = True
    assert ids(demo_key_ca()) == ["etender.E020"]
    settings.DEMO_KEY_CA_ENABLED = False
    assert demo_key_ca() == []


@pytest.mark.parametrize("environment", ["development", "test"])
def test_the_demo_key_ca_is_allowed_outside_production(settings, environment):
    settings.ETENDER_ENV = environment
    settings.DEMO_KEY_CA_ENABLED = True
    assert demo_key_ca() == []


def test_the_trading_centres_own_ca_passes(settings, tmp_path):
    settings.KEY_CA_CERTIFICATES_FILE = bundle(tmp_path, make_ca().certificate, make_ca("第二个 CA").certificate)
    assert key_ca_certificates() == []


def test_the_platforms_signing_certificate_or_its_ca_is_refused(settings, tmp_path, db):
    signer = platform_signer()
    for certificate in signer.chain:  # the signing certificate, then the CA that issued it
        settings.KEY_CA_CERTIFICATES_FILE = bundle(tmp_path, make_ca().certificate, certificate)
        assert ids(key_ca_certificates()) == ["etender.E021"]


@pytest.mark.parametrize("setting", ["PLATFORM_CA_CERTIFICATE_FILE", "PLATFORM_CERTIFICATE_FILE"])
def test_the_configured_platform_certificate_or_ca_file_is_refused_too(settings, tmp_path, setting):
    platform_own = make_ca("平台自己的证书")
    folder = tmp_path / "secrets"
    folder.mkdir()
    (folder / "platform.pem").write_bytes(platform_own.pem)
    setattr(settings, setting, str(folder / "platform.pem"))
    settings.KEY_CA_CERTIFICATES_FILE = bundle(tmp_path, make_ca().certificate, platform_own.certificate)
    [error] = key_ca_certificates()
    assert error.id == "etender.E021" and setting in error.msg


def test_the_development_pki_and_the_demo_key_ca_are_refused(settings, tmp_path):
    settings.KEY_CA_CERTIFICATES_FILE = bundle(tmp_path, development_ca()[1])
    assert ids(key_ca_certificates()) == ["etender.E021"]
    settings.KEY_CA_CERTIFICATES_FILE = bundle(tmp_path, key_ca.demo_ca()[1])
    assert ids(key_ca_certificates()) == ["etender.E021"]


def test_a_key_ca_file_that_cannot_be_read_or_holds_nothing_is_refused(settings, tmp_path):
    settings.KEY_CA_CERTIFICATES_FILE = str(tmp_path / "missing.pem")
    assert ids(key_ca_certificates()) == ["etender.E022"]
    (tmp_path / "empty.pem").write_text("no certificate here\n", encoding="utf-8")
    settings.KEY_CA_CERTIFICATES_FILE = str(tmp_path / "empty.pem")
    assert ids(key_ca_certificates()) == ["etender.E022"]


def test_the_checks_are_registered_with_django(settings, tmp_path, db):
    settings.ETENDER_ENV = "production"
    settings.DEMO_KEY_CA_ENABLED = True
    settings.KEY_CA_CERTIFICATES_FILE = bundle(tmp_path, key_ca.demo_ca()[1])
    found = ids(run_checks(tags=[Tags.security]))
    assert "etender.E020" in found and "etender.E021" in found
