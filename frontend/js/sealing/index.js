// Sealed bids, format v1 (docs/sealed-bid-format.md), in JavaScript: the same
// bytes as tendering/sealing, with WebCrypto doing the cryptography.

export * from "./bytes.js";
export * from "./errors.js";
export * from "./identity.js";
export * from "./jcs.js";
export * from "./stream.js";
export * from "./container.js";
export * from "./response-index.js";
export * from "./keys.js";
export * from "./envelopes.js";
export * from "./manifest.js";
export * from "./seal.js";
export * from "./merkle.js";
export * from "./receipt.js";
