"""A key's certificate is accepted only from a configured key CA, for exactly that key and user, valid now."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from accounts import key_ca, key_certificates, services
from accounts.errors import DomainError
from accounts.models import KeyPurpose, PublicKey
from accounts.own_device import register_own_key, spki_der
from archive.models import LedgerEntry
from archive.signing import development_ca, platform_signer
from tests.fixtures.key_ca import make_ca, pem
from tests.frontend.conftest import signed_in


@pytest.fixture
def trading_centre_ca(settings, tmp_path):
    """The CA the trading centre names (KEY_CA_CERTIFICATES_FILE); the demo CA is off, as in production."""
    ca = make_ca()
    settings.KEY_CA_CERTIFICATES_FILE = str(ca.write(tmp_path))
    settings.DEMO_KEY_CA_ENABLED = False
    return ca


@pytest.fixture
def uncertified_key(personas, trading_centre_ca):
    private = ec.generate_private_key(ec.SECP256R1())
    return register_own_key(personas.custodians[0], KeyPurpose.SIGNING, private), private


def refused_with(user, key, certificate, code: str) -> None:
    with pytest.raises(DomainError) as exc:
        services.attach_certificate(
            user, key.fingerprint, pem(certificate) if isinstance(certificate, x509.Certificate) else certificate
        )
    assert exc.value.code == code and exc.value.status == 422
    key.refresh_from_db()
    assert key.certificate_der is None
    assert not LedgerEntry.objects.filter(action="accounts.key.certified").exists()


def test_the_demo_key_ca_certifies_keys_at_registration_in_test_and_development(personas):
    key = personas.custodians[0].public_keys.get(purpose="signing")
    certificate = x509.load_der_x509_certificate(bytes(key.certificate_der))
    issuer = key_certificates.check_key_certificate(
        certificate,
        spki_der=bytes(key.spki_der),
        username="custodian1",
        anchors=[key_ca.demo_ca()[1]],
        now=dt.datetime.now(dt.UTC),
    )
    assert issuer.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == key_ca.DEMO_CA_NAME
    assert certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == str(personas.custodians[0])
    assert certificate.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == personas.regulator_org.name


def test_the_demo_key_ca_has_a_key_of_its_own_apart_from_the_platform_signer(personas, settings):
    _, demo = key_ca.demo_ca()
    assert key_certificates.spki_of(demo) not in {key_certificates.spki_of(c) for c in platform_signer().chain}
    assert key_certificates.spki_of(demo) != key_certificates.spki_of(development_ca()[1])
    assert not str(settings.DEMO_KEY_CA_DIR).startswith(str(settings.DEVELOPMENT_PKI_DIR))


def test_with_the_demo_ca_off_a_key_is_registered_without_a_certificate(personas, settings):
    settings.DEMO_KEY_CA_ENABLED = False
    key = register_own_key(personas.bidder_a, KeyPurpose.SIGNING, ec.generate_private_key(ec.SECP256R1()))
    assert key.certificate_der is None


def test_a_certificate_of_the_configured_ca_is_attached_and_recorded(personas, trading_centre_ca, uncertified_key):
    key, _ = uncertified_key
    certificate = trading_centre_ca.certify(personas.custodians[0], bytes(key.spki_der))
    response = signed_in(personas.custodians[0]).post(
        f"/api/accounts/keys/{key.fingerprint}/certificate",
        {"certificate": pem(certificate)},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["certificate"] == pem(certificate)
    key.refresh_from_db()
    assert bytes(key.certificate_der) == key_certificates.certificate_der(certificate)
    assert LedgerEntry.objects.filter(action="accounts.key.certified", data__contains=key.fingerprint).count() == 1


def test_a_certificate_of_another_key_is_refused(personas, trading_centre_ca, uncertified_key):
    key, _ = uncertified_key
    other = spki_der(ec.generate_private_key(ec.SECP256R1()))
    refused_with(
        personas.custodians[0],
        key,
        trading_centre_ca.certify(personas.custodians[0], other),
        "certificate_key_mismatch",
    )


def test_a_certificate_naming_another_user_is_refused(personas, trading_centre_ca, uncertified_key):
    key, _ = uncertified_key
    refused_with(
        personas.custodians[0],
        key,
        trading_centre_ca.certify(personas.custodians[1], bytes(key.spki_der)),
        "certificate_wrong_subject",
    )


def test_an_expired_or_not_yet_valid_certificate_is_refused(personas, trading_centre_ca, uncertified_key, frozen_clock):
    key, _ = uncertified_key
    expired = trading_centre_ca.certify(
        personas.custodians[0], bytes(key.spki_der), not_before=frozen_clock() - dt.timedelta(days=40), days=30
    )
    refused_with(personas.custodians[0], key, expired, "certificate_not_valid_now")
    future = trading_centre_ca.certify(
        personas.custodians[0], bytes(key.spki_der), not_before=frozen_clock() + dt.timedelta(days=1)
    )
    refused_with(personas.custodians[0], key, future, "certificate_not_valid_now")


def test_a_certificate_from_an_untrusted_ca_is_refused(personas, trading_centre_ca, uncertified_key):
    key, _ = uncertified_key
    refused_with(
        personas.custodians[0],
        key,
        make_ca("另一个 CA").certify(personas.custodians[0], bytes(key.spki_der)),
        "certificate_untrusted",
    )


def test_a_certificate_from_the_platforms_own_ca_is_refused(personas, trading_centre_ca, uncertified_key):
    """The development PKI's root issues the platform's signing certificate: it certifies no person's key."""
    key, _ = uncertified_key
    ca_key, ca = development_ca()
    from tests.fixtures.key_ca import TradingCentreCa

    refused_with(
        personas.custodians[0],
        key,
        TradingCentreCa(ca_key, ca).certify(personas.custodians[0], bytes(key.spki_der)),
        "certificate_untrusted",
    )


def test_garbage_or_another_users_key_is_refused(personas, trading_centre_ca, uncertified_key):
    key, _ = uncertified_key
    refused_with(
        personas.custodians[0], key, "-----BEGIN CERTIFICATE-----\nnot one\n-----END CERTIFICATE-----\n", "malformed"
    )
    certificate = trading_centre_ca.certify(personas.custodians[0], bytes(key.spki_der))
    response = signed_in(personas.custodians[1]).post(
        f"/api/accounts/keys/{key.fingerprint}/certificate",
        {"certificate": pem(certificate)},
        content_type="application/json",
    )
    assert response.status_code == 404
    assert PublicKey.objects.get(pk=key.pk).certificate_der is None


def test_the_key_ca_endpoint_lists_the_configured_cas_for_information(client, db, trading_centre_ca, settings):
    response = client.get("/api/pki/key-ca")
    assert response.status_code == 200
    assert response.json() == {"certificates": [trading_centre_ca.pem.decode("ascii")]}
    settings.DEMO_KEY_CA_ENABLED = True
    assert client.get("/api/pki/key-ca").json()["certificates"][1] == key_ca.demo_ca_certificate_pem().decode("ascii")
