// The refusals of the sealed-bid format, one class per kind of fault, as in
// tendering/sealing/errors.py. `kind` is the short name the test vectors use.

export class SealingError extends Error {
  constructor(message, options) {
    super(message, options);
    this.name = new.target.name;
  }

  get kind() {
    return "sealing";
  }
}

export class IdentityError extends SealingError {}
export class CiphertextError extends SealingError {}

export class HeaderError extends CiphertextError {
  get kind() {
    return "bad header";
  }
}

export class CiphertextStructureError extends CiphertextError {
  get kind() {
    return "structure";
  }
}

export class SegmentError extends CiphertextError {
  constructor(message, segment) {
    super(message);
    this.segment = segment;
  }
}

export class TruncatedCiphertextError extends SegmentError {
  get kind() {
    return "truncated";
  }
}

export class TrailingDataError extends SegmentError {
  get kind() {
    return "trailing data";
  }
}

export class SegmentAuthenticationError extends SegmentError {
  get kind() {
    return "authentication";
  }
}

export class ContainerError extends SealingError {}
export class PriceSummaryError extends SealingError {}
export class EnvelopeError extends SealingError {}
export class EnvelopeCoverageError extends EnvelopeError {}
export class KeyCommitmentError extends SealingError {}
export class ManifestError extends SealingError {}
export class ManifestSignatureError extends ManifestError {}
export class ResponseIndexError extends SealingError {}
