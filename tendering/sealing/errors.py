"""The refusals of the sealed-bid format, one type per kind of fault.

Every message says what is wrong and where (the segment, the member, the
manifest field), so that the server can show it to the bidder and record it
as it is.
"""

from __future__ import annotations


class SealingError(Exception):
    """Base of every refusal raised by ``tendering.sealing``."""


class IdentityError(SealingError, ValueError):
    """A tender id, bid id or credit code is not written the one way the format accepts."""


class CiphertextError(SealingError):
    """The ciphertext is malformed or does not authenticate."""


class HeaderError(CiphertextError):
    """The 40-byte header is wrong (first byte other than 0x28)."""


class CiphertextStructureError(CiphertextError):
    """The ciphertext's size cannot be a sequence of well-formed segments (checked without the key)."""


class SegmentError(CiphertextError):
    """A segment failed; ``segment`` is its 0-based index."""

    def __init__(self, message: str, *, segment: int) -> None:
        super().__init__(message)
        self.segment = segment


class TruncatedCiphertextError(SegmentError):
    """The ciphertext stops before its final segment (or inside the header or a tag)."""


class TrailingDataError(SegmentError):
    """Data follows the final segment."""


class SegmentAuthenticationError(SegmentError):
    """A segment does not authenticate: modified, reordered, spliced from another bid, or the wrong key."""


class ContainerError(SealingError):
    """The decrypted plaintext is not a well-formed bid container, or a bid folder cannot be packed."""


class PriceSummaryError(SealingError, ValueError):
    """The price summary (开标一览表) is malformed."""


class ResponseIndexError(SealingError, ValueError):
    """The response index (评审因素定位) is malformed, or points to a file the bid does not hold."""


class EnvelopeError(SealingError):
    """A key envelope is malformed, addressed to another key, or does not open."""


class EnvelopeCoverageError(EnvelopeError):
    """The custodian envelopes do not cover every k-subset of the published custodians exactly once."""


class KeyCommitmentError(SealingError):
    """A file key does not match the key commitment ``kc`` of the manifest."""


class ManifestError(SealingError):
    """The manifest is malformed: not canonical, unknown or missing fields, wrong types or values."""


class ManifestSignatureError(ManifestError):
    """The manifest's signature does not verify with the given key."""
