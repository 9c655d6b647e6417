"""RFC 3161 time-stamp tokens: answer a request (a minimal TSA) and check a token. Framework-free.

No Django and no pyHanko here: ``archive.verify`` (the offline verifier) checks
tokens with ``asn1crypto`` and ``cryptography`` alone. ``archive.timestamps``
(the platform's side) builds the in-process development TSA on ``respond`` and
uses pyHanko's HTTP client for a real one.

A token is a CMS ``ContentInfo`` (RFC 5652) holding ``SignedData`` whose
encapsulated content is a ``TSTInfo`` (RFC 3161 §2.4.2). ``verify_timestamp``
accepts one only when all of this holds, and otherwise raises
``TimestampError`` naming the first thing that does not:

1. it is DER CMS ``SignedData`` with ``id-ct-TSTInfo`` content and one signer;
2. the TSTInfo's message imprint is the hash (SHA-256, -384 or -512, as the
   imprint says) of the data the caller holds;
3. the signed attributes name the content type ``id-ct-TSTInfo``, carry the
   message digest of the TSTInfo, and an ESS signing-certificate attribute
   (v1, RFC 2634, or v2, RFC 5816) naming the signing certificate;
4. the signature over the signed attributes verifies with that certificate's
   key (ECDSA, RSA PKCS #1 v1.5 or RSA-PSS);
5. the certificate has the extended key usage ``id-kp-timeStamping``, marked
   critical (RFC 3161 §2.3), and chains to one of the trusted certificates
   (through certificates the token carries), every certificate on the path
   valid at the token's ``genTime``.

Revocation (CRL, OCSP) is not checked: that needs the network, and an offline
verifier has none. docs/receipts.md §3 says what that means.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from typing import Any

from asn1crypto import cms, tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID

# A development policy of this platform, not a production TSA's: an OID of the
# UUID arc 2.25 (ITU-T X.667), so that it can never collide with a real one.
DEVELOPMENT_POLICY = "2.25.166854015207882322262388378632256077271"

# Hash algorithms a message imprint or a signer may use (asn1crypto names).
_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}
_SIGNATURE_HASHES = {
    "sha256_ecdsa": "sha256",
    "sha384_ecdsa": "sha384",
    "sha512_ecdsa": "sha512",
    "sha256_rsa": "sha256",
    "sha384_rsa": "sha384",
    "sha512_rsa": "sha512",
}
# Longest certificate path followed from the TSA's certificate to a trusted one.
MAX_PATH_LENGTH = 6


class TimestampError(ValueError):
    """The time-stamp token does not hold; the message says what failed."""


def digest(algorithm: str, data: bytes) -> bytes:
    """``data`` hashed with the asn1crypto-named ``algorithm`` (sha256, sha384, sha512)."""
    if algorithm not in _HASHES:
        raise TimestampError(f"the hash algorithm {algorithm} is not accepted (SHA-256, SHA-384 or SHA-512 only)")
    return hashlib.new(algorithm, data).digest()


# --- A minimal time-stamping authority ------------------------------------------


def respond(
    request: tsp.TimeStampReq,
    *,
    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey,
    certificate: x509.Certificate,
    gen_time: dt.datetime,
    serial_number: int,
    policy: str = DEVELOPMENT_POLICY,
    extra_certificates: Sequence[x509.Certificate] = (),
) -> tsp.TimeStampResp:
    """The TSA's answer to ``request``: a granted token over its message imprint, signed with ``key``.

    ``gen_time`` is the time written into the token. A request with a hash other
    than SHA-256/384/512, an imprint of the wrong length, or another policy is
    answered with a rejection (RFC 3161 §2.4.2), as a TSA would.
    """
    imprint = request["message_imprint"]
    algorithm = imprint["hash_algorithm"]["algorithm"].native
    if algorithm not in _HASHES:
        return _rejection("bad_alg", f"hash algorithm {algorithm} is not accepted")
    if len(imprint["hashed_message"].native) != _HASHES[algorithm].digest_size:
        return _rejection("bad_data_format", "the message imprint has the wrong length for its algorithm")
    requested_policy = request["req_policy"].native
    if requested_policy is not None and requested_policy != policy:
        return _rejection("unaccepted_policy", f"this TSA issues under policy {policy} only")
    if gen_time.tzinfo is None:
        raise ValueError("gen_time must be timezone-aware")

    tsa_certificate = asn1_x509.Certificate.load(certificate.public_bytes(serialization.Encoding.DER))
    info: dict[str, Any] = {
        "version": "v1",
        "policy": policy,
        "message_imprint": imprint,
        "serial_number": serial_number,
        "gen_time": gen_time.astimezone(dt.UTC),
        "tsa": asn1_x509.GeneralName(name="directory_name", value=tsa_certificate.subject),
    }
    if request["nonce"].native is not None:
        info["nonce"] = request["nonce"]
    tst_info = tsp.TSTInfo(info).dump()

    signed_attributes = cms.CMSAttributes(
        [
            cms.CMSAttribute({"type": "content_type", "values": ["tst_info"]}),
            cms.CMSAttribute({"type": "message_digest", "values": [hashlib.sha256(tst_info).digest()]}),
            cms.CMSAttribute(
                {
                    "type": "signing_certificate_v2",
                    "values": [
                        {
                            "certs": [
                                {
                                    # hashAlgorithm DEFAULT sha256: omitted in DER
                                    "cert_hash": hashlib.sha256(tsa_certificate.dump()).digest(),
                                    "issuer_serial": {
                                        "issuer": [
                                            asn1_x509.GeneralName(name="directory_name", value=tsa_certificate.issuer)
                                        ],
                                        "serial_number": tsa_certificate.serial_number,
                                    },
                                }
                            ]
                        }
                    ],
                }
            ),
        ]
    )
    to_sign = signed_attributes.dump()
    if isinstance(key, ec.EllipticCurvePrivateKey):
        signature, signature_algorithm = key.sign(to_sign, ec.ECDSA(hashes.SHA256())), "sha256_ecdsa"
    else:
        signature, signature_algorithm = key.sign(to_sign, padding.PKCS1v15(), hashes.SHA256()), "sha256_rsa"

    signer_info = cms.SignerInfo(
        {
            "version": "v1",
            "sid": cms.SignerIdentifier(
                name="issuer_and_serial_number",
                value={"issuer": tsa_certificate.issuer, "serial_number": tsa_certificate.serial_number},
            ),
            "digest_algorithm": {"algorithm": "sha256"},
            "signed_attrs": signed_attributes,
            "signature_algorithm": {"algorithm": signature_algorithm},
            "signature": signature,
        }
    )
    signed_data: dict[str, Any] = {
        "version": "v3",
        "digest_algorithms": [{"algorithm": "sha256"}],
        "encap_content_info": {"content_type": "tst_info", "content": cms.ParsableOctetString(tst_info)},
        "signer_infos": [signer_info],
    }
    if request["cert_req"].native:
        signed_data["certificates"] = [tsa_certificate] + [
            asn1_x509.Certificate.load(extra.public_bytes(serialization.Encoding.DER)) for extra in extra_certificates
        ]
    token = cms.ContentInfo({"content_type": "signed_data", "content": cms.SignedData(signed_data)})
    return tsp.TimeStampResp({"status": {"status": "granted"}, "time_stamp_token": token})


def _rejection(failure: str, text: str) -> tsp.TimeStampResp:
    return tsp.TimeStampResp(
        {"status": {"status": "rejection", "status_string": [text], "fail_info": tsp.PKIFailureInfo({failure})}}
    )


# --- Checking a token ------------------------------------------------------------


def verify_timestamp(token_der: bytes, data: bytes, trusted_certs: Sequence[x509.Certificate]) -> dt.datetime:
    """The time (``genTime``, UTC) at which a trusted TSA saw ``data``; raises ``TimestampError`` otherwise."""
    if not trusted_certs:
        raise TimestampError("no trusted certificate was given to check the time-stamp authority against")
    try:
        return _verify(token_der, data, trusted_certs)
    except TimestampError:
        raise
    except (ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
        # asn1crypto parses lazily: a malformed field shows up where it is first read
        raise TimestampError(f"the time-stamp token is not a well-formed RFC 3161 token ({exc})") from exc


def _verify(token_der: bytes, data: bytes, trusted_certs: Sequence[x509.Certificate]) -> dt.datetime:
    tst_info_der, tst_info, signer_info, carried = _parse(token_der)
    imprint = tst_info["message_imprint"]
    imprint_algorithm = imprint["hash_algorithm"]["algorithm"].native
    if imprint["hashed_message"].native != digest(imprint_algorithm, data):
        raise TimestampError("the time-stamp is over other data (its message imprint does not match)")
    gen_time = tst_info["gen_time"].native
    if not isinstance(gen_time, dt.datetime) or gen_time.tzinfo is None:
        raise TimestampError("the time-stamp's genTime is not a UTC time")
    gen_time = gen_time.astimezone(dt.UTC)

    digest_algorithm = signer_info["digest_algorithm"]["algorithm"].native
    attributes = _signed_attributes(signer_info)
    content_type = _single(attributes, "content_type")
    if content_type.native != "tst_info":
        raise TimestampError("the signed content-type attribute is not id-ct-TSTInfo")
    if _single(attributes, "message_digest").native != digest(digest_algorithm, tst_info_der):
        raise TimestampError("the signed message digest does not match the TSTInfo (the token was changed?)")

    candidates = carried + [_to_asn1(certificate) for certificate in trusted_certs]
    signer = _find_signer(signer_info["sid"], candidates)
    _check_signing_certificate_attribute(attributes, signer)
    signer_certificate = x509.load_der_x509_certificate(signer.dump())
    signed_bytes = b"\x31" + signer_info["signed_attrs"].dump()[1:]  # [0] IMPLICIT -> SET OF, as signed
    if not _signature_verifies(signer_certificate, signer_info, digest_algorithm, signed_bytes):
        raise TimestampError("the time-stamp token's signature does not verify (token changed, or another key?)")

    _check_time_stamping_usage(signer_certificate)
    intermediates = [x509.load_der_x509_certificate(c.dump()) for c in carried]
    problem = certificate_path_problem(signer_certificate, intermediates, trusted_certs, at=gen_time)
    if problem:
        raise TimestampError(f"the time-stamp authority's certificate {problem}")
    return gen_time


def _parse(token_der: bytes) -> tuple[bytes, Any, Any, list[Any]]:
    content_info = cms.ContentInfo.load(token_der, strict=True)
    if content_info["content_type"].native != "signed_data":
        raise TimestampError("the time-stamp token is not CMS SignedData")
    signed_data = content_info["content"]
    encapsulated = signed_data["encap_content_info"]
    if encapsulated["content_type"].native != "tst_info":
        raise TimestampError("the time-stamp token does not hold a TSTInfo")
    tst_info_der = bytes(encapsulated["content"].contents)
    tst_info = tsp.TSTInfo.load(tst_info_der, strict=True)
    tst_info.native  # parse it all now: malformed inner fields fail here, not later  # noqa: B018
    if tst_info["version"].native != "v1":
        raise TimestampError("the TSTInfo is not version 1")
    signer_infos = signed_data["signer_infos"]
    if len(signer_infos) != 1:
        raise TimestampError(f"the time-stamp token has {len(signer_infos)} signers, not one")
    carried = [
        choice.chosen
        for choice in (signed_data["certificates"] or [])
        if choice.name == "certificate" and isinstance(choice.chosen, asn1_x509.Certificate)
    ]
    return tst_info_der, tst_info, signer_infos[0], carried


def _signed_attributes(signer_info: Any) -> dict[str, list[Any]]:
    attributes = signer_info["signed_attrs"]
    if not attributes:
        raise TimestampError("the time-stamp token has no signed attributes")
    found: dict[str, list[Any]] = {}
    for attribute in attributes:
        name = attribute["type"].native
        if name in found:
            raise TimestampError(f"the signed attribute {name} appears twice")
        found[name] = list(attribute["values"])
    return found


def _single(attributes: dict[str, list[Any]], name: str) -> Any:
    values = attributes.get(name)
    if not values:
        raise TimestampError(f"the time-stamp token has no signed {name} attribute")
    if len(values) != 1:
        raise TimestampError(f"the signed {name} attribute has {len(values)} values, not one")
    return values[0]


def _to_asn1(certificate: x509.Certificate) -> Any:
    return asn1_x509.Certificate.load(certificate.public_bytes(serialization.Encoding.DER))


def _find_signer(sid: Any, candidates: list[Any]) -> Any:
    for candidate in candidates:
        if sid.name == "issuer_and_serial_number":
            if (
                candidate.serial_number == sid.chosen["serial_number"].native
                and candidate.issuer == sid.chosen["issuer"]
            ):
                return candidate
        elif sid.name == "subject_key_identifier" and candidate.key_identifier == sid.chosen.native:
            return candidate
    raise TimestampError("the certificate that signed the time-stamp is neither in the token nor trusted")


def _check_signing_certificate_attribute(attributes: dict[str, list[Any]], signer: Any) -> None:
    """RFC 3161 §2.4.1 / RFC 5816: the first ESSCertID(v2) must be the signer's certificate."""
    if "signing_certificate_v2" in attributes:
        value = _single(attributes, "signing_certificate_v2")
        first = value["certs"][0]
        algorithm = first["hash_algorithm"]["algorithm"].native
    elif "signing_certificate" in attributes:
        value = _single(attributes, "signing_certificate")
        first = value["certs"][0]
        algorithm = "sha1"
    else:
        raise TimestampError("the time-stamp token has no signing-certificate attribute (RFC 3161 §2.4.1)")
    if algorithm not in (*_HASHES, "sha1"):
        raise TimestampError(f"the signing-certificate attribute uses {algorithm}")
    if hashlib.new(algorithm, signer.dump()).digest() != first["cert_hash"].native:
        raise TimestampError("the signing-certificate attribute names another certificate than the one that signed")
    issuer_serial = first["issuer_serial"]
    if issuer_serial.native is not None and issuer_serial["serial_number"].native != signer.serial_number:
        raise TimestampError("the signing-certificate attribute names another serial number than the signer's")


def _signature_verifies(certificate: x509.Certificate, signer_info: Any, digest_algorithm: str, data: bytes) -> bool:
    algorithm = signer_info["signature_algorithm"]["algorithm"].native
    signature = signer_info["signature"].native
    public_key = certificate.public_key()
    hash_name = _SIGNATURE_HASHES.get(algorithm, digest_algorithm)
    if hash_name not in _HASHES:
        raise TimestampError(f"the time-stamp is signed with the hash {hash_name}, which is not accepted")
    hash_algorithm = _HASHES[hash_name]()
    try:
        if algorithm in ("ecdsa", "sha256_ecdsa", "sha384_ecdsa", "sha512_ecdsa"):
            if not isinstance(public_key, ec.EllipticCurvePublicKey):
                return False
            public_key.verify(signature, data, ec.ECDSA(hash_algorithm))
        elif algorithm in ("rsassa_pkcs1v15", "sha256_rsa", "sha384_rsa", "sha512_rsa"):
            if not isinstance(public_key, rsa.RSAPublicKey):
                return False
            public_key.verify(signature, data, padding.PKCS1v15(), hash_algorithm)
        elif algorithm == "rsassa_pss":
            if not isinstance(public_key, rsa.RSAPublicKey):
                return False
            parameters = signer_info["signature_algorithm"]["parameters"]
            pss_hash = parameters["hash_algorithm"]["algorithm"].native
            mgf_hash = parameters["mask_gen_algorithm"]["parameters"]["algorithm"].native
            if pss_hash not in _HASHES or mgf_hash not in _HASHES:
                raise TimestampError("the RSA-PSS time-stamp signature uses a hash that is not accepted")
            public_key.verify(
                signature,
                data,
                padding.PSS(mgf=padding.MGF1(_HASHES[mgf_hash]()), salt_length=parameters["salt_length"].native),
                _HASHES[pss_hash](),
            )
        else:
            raise TimestampError(f"the time-stamp is signed with {algorithm}, which is not supported")
    except InvalidSignature:
        return False
    return True


def _check_time_stamping_usage(certificate: x509.Certificate) -> None:
    try:
        usage = certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    except x509.ExtensionNotFound:
        usage = None
    if usage is None or ExtendedKeyUsageOID.TIME_STAMPING not in usage.value or not usage.critical:
        raise TimestampError(
            "the certificate that signed the time-stamp is not a time-stamping certificate "
            "(RFC 3161 §2.3 requires the critical extended key usage id-kp-timeStamping)"
        )
    try:
        key_usage = certificate.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return
    if not (key_usage.digital_signature or key_usage.content_commitment):
        raise TimestampError("the key usage of the time-stamping certificate does not allow signatures")


# --- Certificate paths ------------------------------------------------------------


def certificate_path_problem(
    certificate: x509.Certificate,
    intermediates: Sequence[x509.Certificate],
    anchors: Sequence[x509.Certificate],
    *,
    at: dt.datetime | None = None,
) -> str | None:
    """Why ``certificate`` does not chain to one of ``anchors``, or None when it does.

    The path may pass through ``intermediates`` (each must be a CA, i.e.
    basicConstraints cA=TRUE); it ends at a certificate equal to an anchor or
    issued directly by one. The anchors are trusted as given. With ``at``, every
    certificate on the path but the anchor must be valid at that moment.
    The answer reads after "the certificate …": "is not issued by a trusted CA (CN=…)".
    """
    path: list[x509.Certificate] = []
    current = certificate
    while True:
        path.append(current)
        if current in anchors or any(_issued_by(current, anchor) for anchor in anchors):
            break
        issuer = next(
            (
                candidate
                for candidate in intermediates
                if candidate not in path and _is_ca(candidate) and _issued_by(current, candidate)
            ),
            None,
        )
        if issuer is None or len(path) >= MAX_PATH_LENGTH:
            return f"is not issued by a trusted CA ({certificate.subject.rfc4514_string()})"
        current = issuer
    if at is not None:
        for link in path:
            if link in anchors:
                continue
            if not link.not_valid_before_utc <= at <= link.not_valid_after_utc:
                return (
                    f"was not valid at {at.isoformat()}: {link.subject.rfc4514_string()} is valid from "
                    f"{link.not_valid_before_utc.isoformat()} to {link.not_valid_after_utc.isoformat()}"
                )
    return None


def _issued_by(certificate: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        certificate.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _is_ca(certificate: x509.Certificate) -> bool:
    try:
        return bool(certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False
