"""The promise: nobody can read a bid before the opening, enforced by cryptography.

An attacker here holds every byte the platform stores or runs with — a dump of
every database table, the whole object store, the settings, the platform's own
private keys (PKI folder), the logs of the submission and the server process's
environment — plus fewer than k custodian keys and no bidder key. The bid cannot
be opened, and neither its plaintext nor its file key appears anywhere in those
bytes (raw, hex or base64).
"""

import base64
import itertools
import logging
import os
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.conf import settings
from django.db import connection

from tendering.sealing import (
    EnvelopeError,
    KeyCommitmentError,
    combine_parts,
    file_key_from_parts,
    open_bidder_envelope,
    open_custodian_parts,
    parse_manifest,
    verify_commitment,
)
from tests.bids.conftest import seal, submit


def database_dump() -> bytes:
    """Every value of every table, as a database administrator's dump would hold it."""
    chunks: list[bytes] = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608 (table names from introspection)
            for row in cursor.fetchall():
                for value in row:
                    if isinstance(value, memoryview):
                        value = value.tobytes()
                    chunks.append(value if isinstance(value, bytes) else str(value).encode())
    return b"\n".join(chunks)


def folder_bytes(root: Path) -> bytes:
    return b"\n".join(p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file())


def settings_bytes() -> bytes:
    return "\n".join(f"{name}={getattr(settings, name)!r}" for name in dir(settings) if name.isupper()).encode()


def forms_of(secret: bytes) -> list[bytes]:
    return [
        secret,
        secret.hex().encode(),
        secret.hex().upper().encode(),
        base64.b64encode(secret),
        base64.urlsafe_b64encode(secret),
    ]


def platform_private_keys(pki: Path) -> list[ec.EllipticCurvePrivateKey]:
    keys = []
    for path in pki.glob("*key*.pem"):
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if isinstance(key, ec.EllipticCurvePrivateKey):
            keys.append(key)
    return keys


def test_a_sealed_bid_cannot_be_opened_from_everything_the_platform_holds(
    personas, published_tender, bidder_a_keys, tmp_path, object_store_dir, development_pki, caplog
):
    caplog.set_level(logging.DEBUG)
    secret_text = os.urandom(4096)  # a bid nobody could guess
    sealed = seal(published_tender, bidder_a_keys, tmp_path, content=secret_text)
    bid = submit(personas.bidder_a, published_tender, sealed)
    manifest = parse_manifest(bytes(bid.manifest))
    identity = manifest.identity
    kc = bytes.fromhex(manifest.kc)

    # Everything the attacker has.
    haystack = b"\n".join(
        [
            database_dump(),
            folder_bytes(Path(object_store_dir)),
            folder_bytes(development_pki),
            settings_bytes(),
            caplog.text.encode(),
            "\n".join(f"{k}={v}" for k, v in os.environ.items()).encode(),
        ]
    )
    assert sealed.sealed.ciphertext_sha256.encode() in haystack  # the dump really holds the bid

    # The file key, known here only because the test also plays the bidder.
    file_key = open_bidder_envelope(manifest.envelopes.bidder, identity, bidder_a_keys.encryption)
    verify_commitment(file_key, kc)
    for secret in (file_key, secret_text[:64], secret_text[-64:]):
        for form in forms_of(secret):
            assert form not in haystack

    # The platform's own keys (signing, CA, time-stamping) open no envelope.
    platform_keys = platform_private_keys(development_pki)
    assert len(platform_keys) >= 2
    for platform_key in platform_keys:
        with pytest.raises(EnvelopeError):
            open_bidder_envelope(manifest.envelopes.bidder, identity, platform_key)
        with pytest.raises(EnvelopeError):
            open_custodian_parts(manifest.envelopes.custodians, identity, platform_key)

    # Any k-1 custodians: every part they can open, combined every way, never matches kc.
    k = published_tender.custodian_threshold
    for fewer in itertools.combinations(personas.custodian_keys, k - 1):
        parts = [part for key in fewer for part in open_custodian_parts(manifest.envelopes.custodians, identity, key)]
        with pytest.raises(EnvelopeError):
            file_key_from_parts(manifest.envelopes.custodians, parts, kc)
        for r in range(1, len(parts) + 1):
            for combo in itertools.combinations(parts, r):
                with pytest.raises(KeyCommitmentError):
                    verify_commitment(combine_parts([p.part for p in combo]), kc)

    # The positive control: any k custodians together do open it.
    for enough in itertools.combinations(personas.custodian_keys, k):
        parts = [part for key in enough for part in open_custodian_parts(manifest.envelopes.custodians, identity, key)]
        assert file_key_from_parts(manifest.envelopes.custodians, parts, kc) == file_key
