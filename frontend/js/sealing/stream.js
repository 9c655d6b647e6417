// Streaming encryption of a sealed bid (docs/sealed-bid-format.md §2): byte for
// byte Tink's AesGcmHkdfStreaming (HKDF-SHA256, 32-byte key, 1 MiB segments),
// the bid's info string as Tink's associated data. WebCrypto does the work:
// HKDF deriveKey once, then one AES-GCM encrypt call per segment.

import { asBytes, concat, randomBytes, toHex, u32be, utf8, sha256 } from "./bytes.js";
import {
  CiphertextStructureError,
  HeaderError,
  SegmentAuthenticationError,
  TrailingDataError,
  TruncatedCiphertextError,
} from "./errors.js";
import { createSha256 } from "./sha256.js";

export const SEGMENT_SIZE = 1048576;
export const TAG_SIZE = 16;
export const KEY_SIZE = 32;
export const SALT_SIZE = 32;
export const NONCE_PREFIX_SIZE = 7;
export const HEADER_SIZE = 1 + SALT_SIZE + NONCE_PREFIX_SIZE;
export const HEADER_BYTE = HEADER_SIZE; // Tink writes the header's length first: 0x28
export const MIN_CIPHERTEXT_SIZE = HEADER_SIZE + TAG_SIZE;
export const MAX_SEGMENTS = 2 ** 32;

/** How the ciphertext of a plaintext of `plaintextSize` bytes divides into segments. */
export function layoutForPlaintext(plaintextSize, segmentSize = SEGMENT_SIZE) {
  if (!Number.isSafeInteger(plaintextSize) || plaintextSize < 0) throw new RangeError("a plaintext size is a non-negative integer");
  const first = segmentSize - HEADER_SIZE - TAG_SIZE;
  const other = segmentSize - TAG_SIZE;
  let segments;
  let finalPlain;
  if (plaintextSize <= first) {
    segments = 1;
    finalPlain = plaintextSize;
  } else {
    // A plaintext that fills its last segment exactly ends there: no empty segment follows (as Tink).
    segments = 1 + Math.ceil((plaintextSize - first) / other);
    finalPlain = plaintextSize - first - (segments - 2) * other;
  }
  if (segments > MAX_SEGMENTS) throw new RangeError("the plaintext needs more than 2**32 segments");
  return {
    size: plaintextSize + HEADER_SIZE + segments * TAG_SIZE,
    segments,
    plaintextSize,
    finalSegmentSize: finalPlain + TAG_SIZE,
    segmentSize,
  };
}

/** The layout of a ciphertext of `size` bytes, or CiphertextStructureError when no plaintext has that size. */
export function layoutForCiphertext(size, segmentSize = SEGMENT_SIZE) {
  if (!Number.isSafeInteger(size)) throw new CiphertextStructureError("the ciphertext size must be an integer");
  if (size < MIN_CIPHERTEXT_SIZE) {
    throw new CiphertextStructureError(
      `a ciphertext has at least ${MIN_CIPHERTEXT_SIZE} bytes (header and one tag), this one has ${size}`,
    );
  }
  let segments;
  let final;
  if (size <= segmentSize) {
    segments = 1;
    final = size - HEADER_SIZE;
  } else {
    segments = Math.ceil(size / segmentSize);
    final = size - (segments - 1) * segmentSize;
    if (final < TAG_SIZE) {
      throw new CiphertextStructureError(
        `the final segment (segment ${segments - 1}) would have ${final} bytes, less than its ${TAG_SIZE}-byte tag`,
      );
    }
  }
  if (segments > MAX_SEGMENTS) throw new CiphertextStructureError("more than 2**32 segments");
  return { size, segments, plaintextSize: size - HEADER_SIZE - segments * TAG_SIZE, finalSegmentSize: final, segmentSize };
}

/** The 12-byte nonce of segment `index`: prefix ‖ u32be(index) ‖ last flag. */
export function segmentNonce(noncePrefix, index, last) {
  return concat(noncePrefix, u32be(index), Uint8Array.of(last ? 1 : 0));
}

export function headerBytes(salt, noncePrefix) {
  if (salt.length !== SALT_SIZE || noncePrefix.length !== NONCE_PREFIX_SIZE) throw new RangeError("salt or nonce prefix of a wrong size");
  return concat(Uint8Array.of(HEADER_BYTE), salt, noncePrefix);
}

/** HKDF-SHA256(ikm = file key, salt, info), 32 bytes, as a non-extractable AES-GCM key. */
export async function deriveSegmentKey(fileKey, salt, info, usages = ["encrypt"]) {
  if (asBytes(fileKey).length !== KEY_SIZE) throw new RangeError("a file key is 32 bytes");
  const ikm = await crypto.subtle.importKey("raw", asBytes(fileKey), "HKDF", false, ["deriveKey"]);
  return crypto.subtle.deriveKey(
    { name: "HKDF", hash: "SHA-256", salt: asBytes(salt), info: typeof info === "string" ? utf8(info) : asBytes(info) },
    ikm,
    { name: "AES-GCM", length: 256 },
    false,
    usages,
  );
}

/** The derived segment key's bytes (test vectors only: the sealing path never exports it). */
export async function deriveSegmentKeyBytes(fileKey, salt, info) {
  const ikm = await crypto.subtle.importKey("raw", asBytes(fileKey), "HKDF", false, ["deriveBits"]);
  const bits = await crypto.subtle.deriveBits(
    { name: "HKDF", hash: "SHA-256", salt: asBytes(salt), info: typeof info === "string" ? utf8(info) : asBytes(info) },
    ikm,
    256,
  );
  return new Uint8Array(bits);
}

/** The plaintext bytes [start, end) segment `index` of `layout` holds. */
export function segmentPlaintextRange(index, layout) {
  const first = layout.segmentSize - HEADER_SIZE - TAG_SIZE;
  const other = layout.segmentSize - TAG_SIZE;
  const start = index === 0 ? 0 : first + (index - 1) * other;
  const end = Math.min(layout.plaintextSize, index === 0 ? first : start + other);
  return [start, end];
}

/**
 * Encrypts one plaintext source into one ciphertext, once.
 *
 * `source` is `{size, read(offset, length) -> Promise<Uint8Array>}`; `sink` is
 * `{write(bytes) -> void | Promise<void>}`, called in order with the header and
 * segment 0 together, then each segment. Segments are read and encrypted a few
 * ahead (`depth`) while the previous one is written and hashed, so WebCrypto's
 * AES-GCM and the SHA-256 of the ciphertext overlap. `hasher` makes the
 * incremental SHA-256 (`update(bytes)`, `digest("hex")`, either may return a
 * promise; `update` may take the bytes' buffer, so it comes after the write).
 */
export class Encryptor {
  constructor({ fileKey, info, salt = null, noncePrefix = null, segmentSize = SEGMENT_SIZE }) {
    this.fileKey = asBytes(fileKey);
    this.info = typeof info === "string" ? utf8(info) : asBytes(info);
    this.salt = salt ? asBytes(salt) : randomBytes(SALT_SIZE);
    this.noncePrefix = noncePrefix ? asBytes(noncePrefix) : randomBytes(NONCE_PREFIX_SIZE);
    this.segmentSize = segmentSize;
    this.header = headerBytes(this.salt, this.noncePrefix);
    this.used = false;
  }

  async encrypt(source, sink, { onProgress = null, depth = 3, hasher: makeHasher = createSha256 } = {}) {
    if (this.used) throw new Error("an Encryptor encrypts one stream only");
    this.used = true;
    const layout = layoutForPlaintext(source.size, this.segmentSize);
    const key = await deriveSegmentKey(this.fileKey, this.salt, this.info);
    // The SHA-256 of the ciphertext: in this thread, or (in the browser) in a worker of its own,
    // which takes each segment's buffer once it is written.
    const hasher = await makeHasher();
    const header = this.header;
    const start = (index) => {
      const [from, to] = segmentPlaintextRange(index, layout);
      const last = index === layout.segments - 1;
      return source.read(from, to - from).then((plain) => {
        if (plain.length !== to - from) throw new Error(`the plaintext source gave ${plain.length} bytes, not ${to - from}`);
        return crypto.subtle.encrypt(
          { name: "AES-GCM", iv: segmentNonce(this.noncePrefix, index, last), tagLength: 128 },
          key,
          plain,
        );
      });
    };
    const inFlight = [];
    let next = 0;
    const fill = () => {
      while (next < layout.segments && inFlight.length < depth) {
        const pending = start(next++);
        pending.catch(() => {}); // awaited in order below; this only keeps an early refusal from going unhandled
        inFlight.push(pending);
      }
    };
    fill();
    let written = 0;
    try {
      for (let index = 0; index < layout.segments; index++) {
        const segment = new Uint8Array(await inFlight.shift());
        fill();
        const out = index === 0 ? concat(header, segment) : segment;
        const size = out.length;
        await sink.write(out);
        await hasher.update(out);
        written += size;
        if (onProgress) onProgress(written, layout.size);
      }
    } finally {
      // Let refused reads settle so that no rejection is left unhandled.
      await Promise.allSettled(inFlight);
    }
    if (written !== layout.size) throw new Error("the ciphertext does not have the size its layout says");
    return {
      header,
      plaintextSize: layout.plaintextSize,
      ciphertextSize: written,
      segments: layout.segments,
      ciphertextSha256: await hasher.digest("hex"),
      headerSha256: toHex(await sha256(header)),
    };
  }
}

async function tryDecrypt(key, nonce, segment) {
  try {
    return new Uint8Array(await crypto.subtle.decrypt({ name: "AES-GCM", iv: nonce, tagLength: 128 }, key, segment));
  } catch {
    return null;
  }
}

/**
 * Decrypts a whole ciphertext held in memory (tests, small bids), refusing every
 * form but the one that was encrypted, with the refusals of §2.5.
 */
export async function decryptAll(fileKey, info, ciphertext, { segmentSize = SEGMENT_SIZE } = {}) {
  const data = asBytes(ciphertext);
  if (data.length >= 1 && data[0] !== HEADER_BYTE) {
    throw new HeaderError(`bad header: the first byte is 0x${data[0].toString(16).padStart(2, "0")}, not 0x28`);
  }
  if (data.length < HEADER_SIZE) {
    throw new TruncatedCiphertextError(`the ciphertext ends inside its ${HEADER_SIZE}-byte header`, 0);
  }
  const salt = data.subarray(1, 1 + SALT_SIZE);
  const prefix = data.subarray(1 + SALT_SIZE, HEADER_SIZE);
  const key = await deriveSegmentKey(fileKey, salt, info, ["decrypt"]);
  const parts = [];
  let at = HEADER_SIZE;
  let capacity = segmentSize - HEADER_SIZE;
  for (let index = 0; ; index++) {
    const remaining = data.length - at;
    const last = remaining <= capacity;
    const size = last ? remaining : capacity;
    if (size < TAG_SIZE) {
      if (index === 0 && size === 0) throw new TruncatedCiphertextError("the ciphertext ends right after its header: segment 0 is missing", 0);
      throw new TruncatedCiphertextError(`the ciphertext ends ${size} bytes into segment ${index}, before its tag`, index);
    }
    const segment = data.subarray(at, at + size);
    const plain = await tryDecrypt(key, segmentNonce(prefix, index, last), segment);
    if (plain === null) {
      const other = await tryDecrypt(key, segmentNonce(prefix, index, !last), segment);
      if (other !== null && last) {
        throw new TruncatedCiphertextError(`segment ${index} authenticates only as a non-final segment: the ciphertext was truncated after it`, index);
      }
      if (other !== null) {
        throw new TrailingDataError(`segment ${index} is the final segment, but data follows it`, index);
      }
      throw new SegmentAuthenticationError(
        index === 0
          ? "segment 0 does not authenticate: wrong file key, another bid's identity, or a modified header or segment"
          : `segment ${index} does not authenticate: modified, moved, or spliced in from another ciphertext`,
        index,
      );
    }
    parts.push(plain);
    at += size;
    if (last) break;
    if (index + 1 >= MAX_SEGMENTS) throw new TrailingDataError("more than 2**32 segments", index + 1);
    capacity = segmentSize;
  }
  return concat(...parts);
}

/** What can be checked of a ciphertext without its key: its header byte and its size. */
export function checkCiphertextStructure(header, size) {
  const bytes = asBytes(header);
  if (bytes.length >= 1 && bytes[0] !== HEADER_BYTE) throw new HeaderError("bad header: the first byte is not 0x28");
  if (bytes.length < HEADER_SIZE) throw new TruncatedCiphertextError("the ciphertext ends inside its header", 0);
  return layoutForCiphertext(size);
}
