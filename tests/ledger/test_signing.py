"""The platform's signing key: a development PKI made once, or a key and certificate from files."""

from __future__ import annotations

import datetime as dt
import io
import stat
import threading
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from django.core.exceptions import ImproperlyConfigured

from archive import signing


def common_name(certificate: x509.Certificate) -> str:
    return str(certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value)


def test_the_development_pki_is_generated_once_and_reused(development_pki: Path) -> None:
    first = signing.platform_signer()
    assert signing.platform_signer() is first  # cached in the process

    signing.reset_platform_signer_cache()
    again = signing.platform_signer()

    assert again is not first
    assert again.fingerprint == first.fingerprint
    assert sorted(p.name for p in development_pki.iterdir() if not p.name.startswith(".")) == [
        "ca.cert.pem",
        "ca.key.pem",
        "platform.cert.pem",
        "platform.key.pem",
    ]
    for path in development_pki.glob("*.pem"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


def test_processes_starting_together_make_one_pki(development_pki: Path) -> None:
    start = threading.Barrier(6)
    fingerprints: list[str] = []

    def load() -> None:
        start.wait()
        fingerprints.append(signing._development_signer(development_pki).fingerprint)

    threads = [threading.Thread(target=load) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(fingerprints) == 6
    assert len(set(fingerprints)) == 1


def test_the_development_certificates_are_a_ca_and_a_document_signer() -> None:
    signer = signing.platform_signer()
    leaf, ca = signer.chain

    assert signer.development
    assert leaf is signer.certificate
    assert isinstance(signer.private_key.curve, ec.SECP256R1)
    assert common_name(ca) == "eTender Development Root CA"
    assert common_name(leaf) == "eTender Platform (development)"
    assert leaf.issuer == ca.subject
    leaf.verify_directly_issued_by(ca)

    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert ca.extensions.get_extension_for_class(x509.KeyUsage).value.key_cert_sign
    assert ca.not_valid_after_utc - ca.not_valid_before_utc >= dt.timedelta(days=3650)

    assert not leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    usage = leaf.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and usage.content_commitment and not usage.key_cert_sign
    extended = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(extended) == [signing.DOCUMENT_SIGNING]
    assert ExtendedKeyUsageOID.TIME_STAMPING not in extended
    assert dt.timedelta(days=729) <= leaf.not_valid_after_utc - leaf.not_valid_before_utc <= dt.timedelta(days=731)
    assert signer.trust_anchors == [ca]


def test_a_signature_verifies_with_the_key_and_the_certificate_and_nothing_else() -> None:
    signer = signing.platform_signer()
    signature = signer.sign(b"the manifest")

    assert signer.verify(b"the manifest", signature)
    assert signing.verify_with_certificate(signer.certificate_pem(), b"the manifest", signature)
    assert not signer.verify(b"the manifest!", signature)
    assert not signing.verify_with_certificate(signer.certificate_pem(), b"the manifest!", signature)
    assert not signing.verify_with_certificate(signer.certificate_pem(), b"the manifest", b"not DER")
    with pytest.raises(ValueError):
        signing.verify_with_certificate("not a certificate", b"the manifest", signature)


def test_the_development_certificate_signs_a_pdf_that_pyhanko_validates() -> None:
    from asn1crypto import keys as asn1_keys
    from asn1crypto import x509 as asn1_x509
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.pdf_utils.writer import PdfFileWriter
    from pyhanko.sign import signers
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    signer = signing.platform_signer()
    leaf, ca = (asn1_x509.Certificate.load(c.public_bytes(serialization.Encoding.DER)) for c in signer.chain)
    key = asn1_keys.PrivateKeyInfo.load(
        signer.private_key.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    writer = PdfFileWriter()
    writer.insert_page(
        generic.DictionaryObject(
            {
                generic.NameObject("/Type"): generic.NameObject("/Page"),
                generic.NameObject("/MediaBox"): generic.ArrayObject(
                    [generic.NumberObject(n) for n in (0, 0, 595, 842)]
                ),
            }
        )
    )
    pdf = io.BytesIO()
    writer.write(pdf)
    pdf.seek(0)

    signed = signers.sign_pdf(
        IncrementalPdfFileWriter(pdf),
        signers.PdfSignatureMetadata(field_name="Platform"),
        signer=signers.SimpleSigner(
            signing_cert=leaf, signing_key=key, cert_registry=SimpleCertificateStore.from_certs([ca])
        ),
    )
    status = validate_pdf_signature(PdfFileReader(signed).embedded_signatures[0], ValidationContext(trust_roots=[ca]))

    assert status.bottom_line


# --- Key and certificate from files --------------------------------------------


@pytest.fixture
def pki_files(tmp_path: Path) -> dict[str, Path]:
    """A key, certificate and CA as an operator would provide them (here: a development PKI copied out)."""
    signer = signing.platform_signer()
    files = {
        "key": tmp_path / "platform.key",
        "encrypted_key": tmp_path / "platform-encrypted.key",
        "certificate": tmp_path / "platform.crt",
        "ca": tmp_path / "ca.crt",
    }
    files["key"].write_bytes(
        signer.private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    files["encrypted_key"].write_bytes(
        signer.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"correct horse"),
        )
    )
    files["certificate"].write_bytes(signer.certificate.public_bytes(serialization.Encoding.PEM))
    files["ca"].write_bytes(signer.chain[1].public_bytes(serialization.Encoding.PEM))
    return files


def use_files(settings: Any, key: Path | str, certificate: Path | str, ca: Path | str = "", password: str = "") -> None:
    settings.PLATFORM_SIGNING_KEY_FILE = str(key)
    settings.PLATFORM_CERTIFICATE_FILE = str(certificate)
    settings.PLATFORM_CA_CERTIFICATE_FILE = str(ca)
    settings.PLATFORM_SIGNING_KEY_PASSWORD = password


def test_it_signs_with_the_configured_key_and_certificate(settings: Any, pki_files: dict[str, Path]) -> None:
    expected = signing.platform_signer().fingerprint
    use_files(settings, pki_files["encrypted_key"], pki_files["certificate"], pki_files["ca"], password="correct horse")

    signer = signing.platform_signer()

    assert not signer.development
    assert signer.fingerprint == expected
    assert [common_name(c) for c in signer.chain] == ["eTender Platform (development)", "eTender Development Root CA"]
    assert signer.verify(b"data", signer.sign(b"data"))


def test_without_a_ca_file_the_certificate_is_its_own_trust_anchor(settings: Any, pki_files: dict[str, Path]) -> None:
    use_files(settings, pki_files["key"], pki_files["certificate"])
    signer = signing.platform_signer()
    assert signer.chain == [signer.certificate]
    assert signer.trust_anchors == [signer.certificate]


def test_it_refuses_a_key_that_does_not_match_the_certificate(
    settings: Any, pki_files: dict[str, Path], tmp_path: Path
) -> None:
    other = tmp_path / "other.key"
    other.write_bytes(
        ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    use_files(settings, other, pki_files["certificate"], pki_files["ca"])

    with pytest.raises(ImproperlyConfigured, match="does not match the certificate in PLATFORM_CERTIFICATE_FILE"):
        signing.platform_signer()


def test_it_refuses_a_missing_file_and_names_the_setting(
    settings: Any, pki_files: dict[str, Path], tmp_path: Path
) -> None:
    use_files(settings, tmp_path / "absent.key", pki_files["certificate"])
    with pytest.raises(ImproperlyConfigured, match=r"PLATFORM_SIGNING_KEY_FILE \(.*absent.key\) cannot be read"):
        signing.platform_signer()

    use_files(settings, pki_files["key"], pki_files["certificate"], tmp_path / "absent-ca.crt")
    with pytest.raises(ImproperlyConfigured, match=r"PLATFORM_CA_CERTIFICATE_FILE \(.*absent-ca.crt\) cannot be read"):
        signing.platform_signer()


def test_it_refuses_a_key_without_its_certificate(settings: Any, pki_files: dict[str, Path]) -> None:
    use_files(settings, pki_files["key"], "")
    with pytest.raises(ImproperlyConfigured, match="PLATFORM_CERTIFICATE_FILE is not set"):
        signing.platform_signer()


def test_it_refuses_a_wrong_password_and_a_file_that_is_no_key(settings: Any, pki_files: dict[str, Path]) -> None:
    use_files(settings, pki_files["encrypted_key"], pki_files["certificate"], password="wrong")
    with pytest.raises(ImproperlyConfigured, match="not a private key that PLATFORM_SIGNING_KEY_PASSWORD opens"):
        signing.platform_signer()

    use_files(settings, pki_files["certificate"], pki_files["certificate"])
    with pytest.raises(ImproperlyConfigured, match="not a private key"):
        signing.platform_signer()


def test_it_refuses_a_certificate_the_configured_ca_did_not_issue(
    settings: Any, pki_files: dict[str, Path], tmp_path: Path
) -> None:
    _, foreign_ca = signing.development_ca(tmp_path / "foreign")
    foreign = tmp_path / "foreign-ca.crt"
    foreign.write_bytes(foreign_ca.public_bytes(serialization.Encoding.PEM))
    use_files(settings, pki_files["key"], pki_files["certificate"], foreign)

    with pytest.raises(ImproperlyConfigured, match="not issued by a certificate in PLATFORM_CA_CERTIFICATE_FILE"):
        signing.platform_signer()


def test_it_refuses_certificates_out_of_order(settings: Any, pki_files: dict[str, Path], tmp_path: Path) -> None:
    reversed_chain = tmp_path / "reversed.crt"
    reversed_chain.write_bytes(pki_files["ca"].read_bytes() + pki_files["certificate"].read_bytes())
    use_files(settings, pki_files["key"], reversed_chain)
    with pytest.raises(ImproperlyConfigured, match="not a pair"):
        signing.platform_signer()

    unrelated = tmp_path / "unrelated.crt"
    _, foreign_ca = signing.development_ca(tmp_path / "foreign")
    unrelated.write_bytes(pki_files["certificate"].read_bytes() + foreign_ca.public_bytes(serialization.Encoding.PEM))
    use_files(settings, pki_files["key"], unrelated)
    with pytest.raises(ImproperlyConfigured, match="each certificate that issued the one before it"):
        signing.platform_signer()

    chained = tmp_path / "chained.crt"
    chained.write_bytes(pki_files["certificate"].read_bytes() + pki_files["ca"].read_bytes())
    use_files(settings, pki_files["key"], chained)
    assert len(signing.platform_signer().chain) == 2


def test_it_refuses_a_key_that_is_not_p256(settings: Any, pki_files: dict[str, Path], tmp_path: Path) -> None:
    p384 = tmp_path / "p384.key"
    p384.write_bytes(
        ec.generate_private_key(ec.SECP384R1()).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    use_files(settings, p384, pki_files["certificate"])
    with pytest.raises(ImproperlyConfigured, match="P-256"):
        signing.platform_signer()
