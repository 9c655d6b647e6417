"""Sealed bids, format v1 (docs/sealed-bid-format.md): a framework-free library.

Nothing here imports Django, so the bidder's command-line client, the server
and an offline verifier share one implementation. Modules:

- ``stream``: Tink AES-GCM-HKDF streaming encryption, 1 MiB segments;
- ``container``: the plaintext (a deterministic pax tar, price summary first);
- ``response_index``: the bidder's response index (评审因素定位) and the required-materials check;
- ``envelopes``: HPKE envelopes to the bidder and to k-of-n custodians, key commitment;
- ``manifest``: the canonical signed manifest;
- ``bid``: ``seal_bid`` and ``open_bid``.
"""

from tendering.sealing.bid import OpenedBid, SealedBid, open_bid, read_price_summary, seal_bid
from tendering.sealing.container import (
    BidFile,
    ContainerReader,
    ContainerStream,
    LotPrice,
    PriceSummary,
    collect_bid_files,
    parse_price_summary,
)
from tendering.sealing.envelopes import (
    CustodianPart,
    Envelopes,
    check_envelope_coverage,
    combine_parts,
    file_key_from_parts,
    key_commitment,
    open_bidder_envelope,
    open_custodian_part,
    open_custodian_parts,
    seal_file_key,
    verify_commitment,
)
from tendering.sealing.errors import (
    CiphertextError,
    CiphertextStructureError,
    ContainerError,
    EnvelopeCoverageError,
    EnvelopeError,
    HeaderError,
    IdentityError,
    KeyCommitmentError,
    ManifestError,
    ManifestSignatureError,
    PriceSummaryError,
    ResponseIndexError,
    SealingError,
    SegmentAuthenticationError,
    SegmentError,
    TrailingDataError,
    TruncatedCiphertextError,
)
from tendering.sealing.identity import BidIdentity
from tendering.sealing.keys import fingerprint, load_public_key, spki_der
from tendering.sealing.manifest import (
    Manifest,
    der_to_raw,
    parse_manifest,
    raw_to_der,
    sign_manifest,
    verify_manifest,
)
from tendering.sealing.response_index import (
    Pointer,
    ResponseIndex,
    missing_documents,
    parse_response_index,
)
from tendering.sealing.stream import (
    SEGMENT_SIZE,
    CiphertextLayout,
    Decryptor,
    Encryptor,
    check_ciphertext_structure,
    layout_for_ciphertext,
    layout_for_plaintext,
)

__all__ = [
    "SEGMENT_SIZE",
    "BidFile",
    "BidIdentity",
    "CiphertextError",
    "CiphertextLayout",
    "CiphertextStructureError",
    "ContainerError",
    "ContainerReader",
    "ContainerStream",
    "CustodianPart",
    "Decryptor",
    "Encryptor",
    "EnvelopeCoverageError",
    "EnvelopeError",
    "Envelopes",
    "HeaderError",
    "IdentityError",
    "KeyCommitmentError",
    "LotPrice",
    "Manifest",
    "ManifestError",
    "ManifestSignatureError",
    "OpenedBid",
    "Pointer",
    "PriceSummary",
    "PriceSummaryError",
    "ResponseIndex",
    "ResponseIndexError",
    "SealedBid",
    "SealingError",
    "SegmentAuthenticationError",
    "SegmentError",
    "TrailingDataError",
    "TruncatedCiphertextError",
    "check_ciphertext_structure",
    "check_envelope_coverage",
    "collect_bid_files",
    "combine_parts",
    "der_to_raw",
    "file_key_from_parts",
    "fingerprint",
    "key_commitment",
    "layout_for_ciphertext",
    "layout_for_plaintext",
    "load_public_key",
    "missing_documents",
    "open_bid",
    "open_bidder_envelope",
    "open_custodian_part",
    "open_custodian_parts",
    "parse_manifest",
    "parse_price_summary",
    "parse_response_index",
    "raw_to_der",
    "read_price_summary",
    "seal_bid",
    "seal_file_key",
    "sign_manifest",
    "spki_der",
    "verify_commitment",
    "verify_manifest",
]
