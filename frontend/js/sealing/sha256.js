// An incremental SHA-256 for the whole ciphertext (WebCrypto's digest is one-shot):
// hash-wasm's WebAssembly SHA-256, loaded from the bundle itself (no fetch).

import { createSHA256 } from "hash-wasm";

/** A fresh hasher: `update(bytes)`, then `digest("hex")` or `digest("binary")`. */
export async function createSha256() {
  const hasher = await createSHA256();
  hasher.init();
  return hasher;
}
