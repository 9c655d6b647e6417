// Sealing a bid: the whole format in one call (tendering.sealing.seal_bid's
// counterpart). The file key lives only inside this call; the plaintext goes
// from the files to the encryptor segment by segment and nowhere else.

import { randomBytes, toHex } from "./bytes.js";
import { ContainerError } from "./errors.js";
import { PiecesSource, containerPieces, priceSummary } from "./container.js";
import { keyCommitment, sealFileKey } from "./envelopes.js";
import { bidIdentity, streamInfo } from "./identity.js";
import { manifestBytes, manifestObject } from "./manifest.js";
import { Encryptor, KEY_SIZE, layoutForPlaintext } from "./stream.js";

/**
 * Seal `files` (`[{path: "bid/…", data: File | Blob | Uint8Array}]`) and the
 * price summary `lots` into `sink`, and return the canonical manifest bytes to
 * sign. `custodians` are the tender's published SPKIs in published order.
 * `responseIndex` (response-index.js's `responseIndex`, or null) goes inside,
 * after the price summary (评审因素定位).
 *
 * `fixed` (tests only) gives `{fileKey, salt, noncePrefix, random}` to
 * reproduce the test vectors; a real sealing draws them from the CSPRNG.
 */
export async function sealBid({
  files,
  lots,
  tender,
  bid,
  bidder,
  signingKeyFingerprint,
  encryptionSpki,
  custodians,
  threshold,
  sink,
  onProgress = null,
  clientTime = null,
  fixed = null,
  hasher = undefined,
  responseIndex = null,
}) {
  const identity = bidIdentity(tender, bid, bidder);
  const summary = priceSummary(identity, lots);
  const pieces = containerPieces(summary, files, responseIndex);
  const source = new PiecesSource(pieces);
  const layout = layoutForPlaintext(source.size);
  const fileKey = fixed?.fileKey ?? randomBytes(KEY_SIZE);
  try {
    const envelopes = await sealFileKey(fileKey, identity, encryptionSpki, custodians, threshold, {
      random: fixed?.random ?? randomBytes,
    });
    const kc = toHex(await keyCommitment(fileKey));
    const encryptor = new Encryptor({ fileKey, info: streamInfo(identity), salt: fixed?.salt, noncePrefix: fixed?.noncePrefix });
    const result = await encryptor.encrypt(source, sink, { onProgress, ...(hasher ? { hasher } : {}) });
    if (result.ciphertextSize !== layout.size) throw new ContainerError("the ciphertext does not have its expected size");
    const manifest = manifestObject({
      identity,
      signingKey: signingKeyFingerprint,
      clientTime: clientTime ?? new Date().toISOString(),
      ciphertextSize: result.ciphertextSize,
      ciphertextSha256: result.ciphertextSha256,
      headerSha256: result.headerSha256,
      kc,
      envelopes,
    });
    return { manifest, manifestBytes: await manifestBytes(manifest), size: result.ciphertextSize, ciphertextSha256: result.ciphertextSha256 };
  } finally {
    if (!fixed) fileKey.fill(0);
  }
}

/** The ciphertext size of a bid before sealing it (for the progress bar and the upload). */
export function sealedSize(files, lots, identity, responseIndex = null) {
  return layoutForPlaintext(new PiecesSource(containerPieces(priceSummary(identity, lots), files, responseIndex)).size).size;
}
