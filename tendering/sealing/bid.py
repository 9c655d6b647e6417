"""Sealing a bid and opening it again: the whole format in two calls.

``seal_bid`` is what the bidder's client runs (the CLI; the browser does the
same in JavaScript); ``open_bid`` what the opening runs once it holds the file
key, from the bidder's envelope or from k custodians' parts.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec

from archive.streams import sha256_of
from tendering.sealing.container import (
    BidFile,
    ContainerReader,
    ContainerStream,
    ExtractedFile,
    PriceSummary,
    collect_bid_files,
    container_size,
)
from tendering.sealing.envelopes import key_commitment, seal_file_key, verify_commitment
from tendering.sealing.errors import CiphertextError, ContainerError
from tendering.sealing.identity import BidIdentity
from tendering.sealing.keys import PublicKeyLike, fingerprint
from tendering.sealing.manifest import Manifest, format_client_time, parse_manifest, sign_manifest
from tendering.sealing.response_index import ResponseIndex
from tendering.sealing.stream import (
    KEY_SIZE,
    DecryptingReader,
    Decryptor,
    Encryptor,
    Readable,
    Writable,
    layout_for_plaintext,
)


@dataclass(frozen=True)
class SealedBid:
    """What the client uploads beside the ciphertext: the manifest and its signature."""

    manifest_bytes: bytes
    signature: bytes  # DER
    ciphertext_sha256: str
    size: int
    manifest: Manifest


def seal_bid(
    source: str | os.PathLike[str] | Sequence[BidFile],
    price_summary: PriceSummary,
    tender_public_id: str,
    bid_id: str,
    bidder_credit_code: str,
    bidder_signing_private_key: ec.EllipticCurvePrivateKey,
    bidder_encryption_public_key: PublicKeyLike,
    custodian_public_keys: Sequence[PublicKeyLike],
    threshold: int,
    sink: Writable,
    *,
    client_time: dt.datetime | None = None,
    progress: Callable[[int, int], None] | None = None,
    response_index: ResponseIndex | None = None,
) -> SealedBid:
    """Seal a bid folder or file into ``sink`` and return the signed manifest.

    ``response_index`` (评审因素定位) goes into the container after the price
    summary; it may point only to the bid's own files. The file key lives only
    in this call's memory. ``progress(done, total)`` counts ciphertext bytes.
    If this raises, what was written to ``sink`` is not a bid: discard it (for
    example a file that changed while being read).
    """
    identity = BidIdentity(tender_public_id, bid_id, bidder_credit_code)
    if price_summary.identity != identity:
        raise ContainerError("the price summary names another tender, bid or bidder than the bid being sealed")
    files = list(source) if isinstance(source, Sequence) and not isinstance(source, str) else collect_bid_files(source)
    plaintext = ContainerStream(price_summary, files, response_index)
    total = layout_for_plaintext(container_size(price_summary, files, response_index)).size
    file_key = os.urandom(KEY_SIZE)
    envelopes = seal_file_key(file_key, identity, bidder_encryption_public_key, custodian_public_keys, threshold)
    encryptor = Encryptor(file_key, identity.stream_info())
    with plaintext:
        result = encryptor.encrypt(
            plaintext, sink, progress=None if progress is None else (lambda done: progress(done, total))
        )
    manifest = Manifest(
        tender=identity.tender,
        bid=identity.bid,
        bidder=identity.bidder,
        signing_key=fingerprint(bidder_signing_private_key.public_key()),
        client_time=format_client_time(client_time or dt.datetime.now(dt.UTC)),
        ciphertext_size=result.ciphertext_size,
        ciphertext_sha256=result.ciphertext_sha256.hex(),
        header_sha256=result.header_sha256.hex(),
        kc=key_commitment(file_key).hex(),
        envelopes=envelopes,
    )
    manifest_bytes = manifest.canonical_bytes()
    return SealedBid(
        manifest_bytes=manifest_bytes,
        signature=sign_manifest(manifest_bytes, bidder_signing_private_key),
        ciphertext_sha256=manifest.ciphertext_sha256,
        size=manifest.ciphertext_size,
        manifest=manifest,
    )


@dataclass(frozen=True)
class OpenedBid:
    price_summary: PriceSummary
    files: tuple[ExtractedFile, ...]
    plaintext_size: int
    response_index: ResponseIndex | None = None


def _check_ciphertext(manifest: Manifest, reader: DecryptingReader) -> None:
    result = reader.result
    if result is None:
        raise CiphertextError("the ciphertext was not read to its end")
    if result.ciphertext_size != manifest.ciphertext_size:
        raise CiphertextError(
            f"the ciphertext has {result.ciphertext_size} bytes, the manifest says {manifest.ciphertext_size}"
        )
    if result.ciphertext_sha256.hex() != manifest.ciphertext_sha256:
        raise CiphertextError("the ciphertext's SHA-256 is not the one in the manifest")
    if result.header_sha256.hex() != manifest.header_sha256:
        raise CiphertextError("the header's SHA-256 is not the one in the manifest")


def open_bid(
    ciphertext: Readable, manifest: Manifest | bytes, file_key: bytes, destination: str | os.PathLike[str]
) -> OpenedBid:
    """Decrypt a bid into the new folder ``destination`` and check it is exactly what the bidder signed.

    The key must match ``kc``; the ciphertext must authenticate to its final
    segment and have the manifest's size and hash; the price summary must name
    the manifest's tender, bid and bidder. On any refusal the folder is removed.
    """
    if not isinstance(manifest, Manifest):
        manifest = parse_manifest(manifest)
    verify_commitment(file_key, bytes.fromhex(manifest.kc))
    identity = manifest.identity
    root = Path(destination)
    root.mkdir()
    try:
        reader = DecryptingReader(Decryptor(file_key, identity.stream_info()), ciphertext)
        container = ContainerReader(reader)
        summary = container.price_summary()
        if summary.identity != identity:
            raise ContainerError("the price summary inside names another tender, bid or bidder than the manifest")
        response_index = container.response_index()
        files = container.extract_to(root)
        _check_ciphertext(manifest, reader)
        return OpenedBid(summary, tuple(files), container.position, response_index)
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise


def read_price_summary(ciphertext: Readable, manifest: Manifest, file_key: bytes) -> PriceSummary:
    """Only the price summary (开标一览表), decrypting only the segments it lies in.

    The summary is genuine (its segments authenticate, at their positions, for
    this bid), but the rest of the ciphertext is not checked: ``open_bid`` does that.
    """
    verify_commitment(file_key, bytes.fromhex(manifest.kc))
    reader = DecryptingReader(Decryptor(file_key, manifest.identity.stream_info()), ciphertext)
    summary = ContainerReader(reader).price_summary()
    if summary.identity != manifest.identity:
        raise ContainerError("the price summary inside names another tender, bid or bidder than the manifest")
    return summary


def ciphertext_sha256(source: Readable) -> tuple[str, int]:
    """SHA-256 (hex) and size of a ciphertext stream, as the server checks it at finalize."""
    found = sha256_of(source)
    return found.sha256, found.size
