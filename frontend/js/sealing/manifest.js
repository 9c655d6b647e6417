// The signed manifest of a sealed bid (docs/sealed-bid-format.md §5): RFC 8785
// canonical JSON naming the bid, its ciphertext, the key commitment and every
// envelope, signed with ECDSA P-256/SHA-256 and stored DER-encoded.

import { asBytes, concat, fromBase64 } from "./bytes.js";
import { EnvelopeError, IdentityError, ManifestError, ManifestSignatureError, SealingError } from "./errors.js";
import { checkSealedEnvelope, custodianSubsets } from "./envelopes.js";
import { bidIdentity } from "./identity.js";
import { canonicalBytes, parseCanonical } from "./jcs.js";
import { fingerprint, importEcdsaPublic } from "./keys.js";
import { SEGMENT_SIZE, layoutForCiphertext } from "./stream.js";

export const FORMAT = "etender-bid-v1";
export const MAX_MANIFEST_SIZE = 262144;
export const P256_ORDER = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;

const HEX64 = /^[0-9a-f]{64}$/;
const CLIENT_TIME = /^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z$/;
const FIELDS = [
  "format",
  "tender",
  "bid",
  "bidder",
  "signing_key",
  "client_time",
  "segment_size",
  "ciphertext_size",
  "ciphertext_sha256",
  "header_sha256",
  "kc",
  "envelopes",
];

/** The manifest object (before canonicalization); every value is checked when its bytes are made. */
export function manifestObject({ identity, signingKey, clientTime, ciphertextSize, ciphertextSha256, headerSha256, kc, envelopes }) {
  return {
    format: FORMAT,
    tender: identity.tender,
    bid: identity.bid,
    bidder: identity.bidder,
    signing_key: signingKey,
    client_time: clientTime,
    segment_size: SEGMENT_SIZE,
    ciphertext_size: ciphertextSize,
    ciphertext_sha256: ciphertextSha256,
    header_sha256: headerSha256,
    kc,
    envelopes,
  };
}

/** The signed bytes; checked on the way out too: what this writes, parseManifest reads back. */
export async function manifestBytes(manifest) {
  const bytes = canonicalBytes(manifest);
  await parseManifest(bytes);
  return bytes;
}

// -- parsing ---------------------------------------------------------------------------------------------

function typeName(item) {
  if (Array.isArray(item)) return "an array";
  if (item === null) return "null";
  return { object: "an object", string: "a string", boolean: "a boolean", number: "an integer" }[typeof item] ?? typeof item;
}

function fields(value, names, path) {
  if (value === null || typeof value !== "object" || Array.isArray(value)) throw new ManifestError(`${path} must be an object`);
  const keys = Object.keys(value);
  const missing = names.filter((n) => !keys.includes(n)).sort();
  if (missing.length) throw new ManifestError(`${path} lacks the field(s) ${missing.join(", ")}`);
  const unknown = keys.filter((k) => !names.includes(k)).sort();
  if (unknown.length) throw new ManifestError(`${path} has unknown field(s) ${unknown.map((u) => `'${u}'`).join(", ")}`);
}

function str(value, name, path = "$") {
  if (typeof value[name] !== "string") throw new ManifestError(`${path}.${name} must be a string, not ${typeName(value[name])}`);
  return value[name];
}

function int(value, name, path = "$") {
  if (typeof value[name] !== "number") throw new ManifestError(`${path}.${name} must be an integer, not ${typeName(value[name])}`);
  return value[name];
}

function validTime(text) {
  const date = new Date(text);
  return !Number.isNaN(date.getTime()) && date.toISOString() === text;
}

async function sealed(text, path) {
  if (typeof text !== "string") throw new ManifestError(`${path} must be a base64 string`);
  let raw;
  try {
    raw = fromBase64(text);
  } catch {
    throw new ManifestError(`${path} is not base64 (RFC 4648 §4, with padding)`);
  }
  try {
    await checkSealedEnvelope(raw, path);
  } catch (exc) {
    if (exc instanceof EnvelopeError) throw new ManifestError(exc.message);
    throw exc;
  }
  return raw;
}

/** The manifest in `data`, refused unless canonical JSON with exactly the fields of format v1. */
export async function parseManifest(data) {
  const value = parseCanonical(data, { maxSize: MAX_MANIFEST_SIZE, what: "manifest", ErrorClass: ManifestError });
  fields(value, FIELDS, "$");
  if (value.format !== FORMAT) throw new ManifestError(`$.format must be '${FORMAT}'`);
  try {
    bidIdentity(str(value, "tender"), str(value, "bid"), str(value, "bidder"));
  } catch (exc) {
    if (exc instanceof IdentityError) throw new ManifestError(`$: ${exc.message}`);
    throw exc;
  }
  const clientTime = str(value, "client_time");
  if (!CLIENT_TIME.test(clientTime) || !validTime(clientTime)) {
    throw new ManifestError(`$.client_time must be a UTC time like 2026-03-02T01:00:00.000Z, got ${JSON.stringify(clientTime)}`);
  }
  if (int(value, "segment_size") !== SEGMENT_SIZE) throw new ManifestError(`$.segment_size must be ${SEGMENT_SIZE} in format v1`);
  try {
    layoutForCiphertext(int(value, "ciphertext_size"));
  } catch (exc) {
    if (exc instanceof SealingError) throw new ManifestError(`$.ciphertext_size: ${exc.message}`);
    throw exc;
  }
  for (const name of ["signing_key", "ciphertext_sha256", "header_sha256", "kc"]) {
    if (!HEX64.test(str(value, name))) throw new ManifestError(`$.${name} must be 64 lowercase hex digits`);
  }
  await checkEnvelopes(value.envelopes);
  return value;
}

async function checkEnvelopes(value) {
  fields(value, ["bidder", "custodians"], "$.envelopes");
  const bidder = value.bidder;
  fields(bidder, ["recipient", "sealed"], "$.envelopes.bidder");
  if (!HEX64.test(str(bidder, "recipient", "$.envelopes.bidder"))) {
    throw new ManifestError("$.envelopes.bidder.recipient must be 64 lowercase hex digits");
  }
  await sealed(bidder.sealed, "$.envelopes.bidder.sealed");
  const path = "$.envelopes.custodians";
  const custodians = value.custodians;
  fields(custodians, ["threshold", "recipients", "subsets"], path);
  const k = int(custodians, "threshold", path);
  const recipients = custodians.recipients;
  if (!Array.isArray(recipients) || !recipients.every((r) => typeof r === "string" && HEX64.test(r))) {
    throw new ManifestError(`${path}.recipients must be an array of fingerprints (64 lowercase hex digits)`);
  }
  if (new Set(recipients).size !== recipients.length) throw new ManifestError(`${path}.recipients names one key twice`);
  let expected;
  try {
    expected = custodianSubsets(recipients.length, k);
  } catch (exc) {
    if (exc instanceof EnvelopeError) throw new ManifestError(`${path}: ${exc.message}`);
    throw exc;
  }
  const subsets = custodians.subsets;
  if (!Array.isArray(subsets) || subsets.length !== expected.length) {
    throw new ManifestError(`${path}.subsets must be an array of the ${expected.length} subsets of ${k} custodians`);
  }
  for (let index = 0; index < subsets.length; index++) {
    const where = `${path}.subsets[${index}]`;
    const subset = subsets[index];
    fields(subset, ["members", "parts"], where);
    const members = subset.members;
    if (!Array.isArray(members) || members.length !== k || members.some((m, j) => m !== expected[index][j])) {
      throw new ManifestError(`${where}.members must be [${expected[index].join(", ")}] (every subset once, in lexicographic order)`);
    }
    if (!Array.isArray(subset.parts) || subset.parts.length !== k) throw new ManifestError(`${where}.parts must be an array of ${k} envelopes`);
    for (let j = 0; j < k; j++) await sealed(subset.parts[j], `${where}.parts[${j}]`);
  }
}

// -- signature --------------------------------------------------------------------------------------------

function toBigInt(bytes) {
  let n = 0n;
  for (const b of bytes) n = (n << 8n) | BigInt(b);
  return n;
}

function checkScalar(bytes) {
  const n = toBigInt(bytes);
  if (n <= 0n || n >= P256_ORDER) throw new ManifestSignatureError("the signature's r or s is outside 1..n-1 of P-256");
}

function derInteger(scalar) {
  let i = 0;
  while (i < scalar.length - 1 && scalar[i] === 0) i++;
  let body = scalar.subarray(i);
  if (body[0] >= 0x80) body = concat(Uint8Array.of(0), body);
  return concat(Uint8Array.of(0x02, body.length), body);
}

/** WebCrypto's signature (r ‖ s, 32 bytes each) as the strict DER the format stores. */
export function rawToDer(raw) {
  const bytes = asBytes(raw);
  if (bytes.length !== 64) throw new ManifestSignatureError(`a raw P-256 signature is 64 bytes (r ‖ s), not ${bytes.length}`);
  const r = bytes.subarray(0, 32);
  const s = bytes.subarray(32);
  checkScalar(r);
  checkScalar(s);
  const body = concat(derInteger(r), derInteger(s));
  return concat(Uint8Array.of(0x30, body.length), body);
}

/** The DER signature as r ‖ s (what WebCrypto verifies); refuses every encoding but strict DER. */
export function derToRaw(der) {
  const bytes = asBytes(der);
  const fail = () => {
    throw new ManifestSignatureError("the signature is not a DER-encoded ECDSA signature");
  };
  if (bytes.length < 8 || bytes[0] !== 0x30 || bytes[1] !== bytes.length - 2 || bytes[1] >= 0x80) fail();
  const scalars = [];
  let at = 2;
  for (let i = 0; i < 2; i++) {
    if (at + 2 > bytes.length || bytes[at] !== 0x02) fail();
    const length = bytes[at + 1];
    if (length === 0 || length >= 0x80 || at + 2 + length > bytes.length) fail();
    const body = bytes.subarray(at + 2, at + 2 + length);
    if (body[0] >= 0x80) fail(); // negative
    if (body.length > 1 && body[0] === 0 && body[1] < 0x80) fail(); // not minimal
    const value = body[0] === 0 && body.length > 1 ? body.subarray(1) : body;
    if (value.length > 32) fail();
    const padded = new Uint8Array(32);
    padded.set(value, 32 - value.length);
    scalars.push(padded);
    at += 2 + length;
  }
  if (at !== bytes.length) fail();
  const raw = concat(scalars[0], scalars[1]);
  checkScalar(raw.subarray(0, 32));
  checkScalar(raw.subarray(32));
  return raw;
}

/** ECDSA P-256/SHA-256 over the manifest's bytes with a (non-extractable) WebCrypto key, DER-encoded. */
export async function signManifest(bytes, privateKey) {
  const raw = await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, privateKey, asBytes(bytes));
  return rawToDer(new Uint8Array(raw));
}

/** The manifest, once its DER signature verifies with `spki` and it names that key as its signer. */
export async function verifyManifest(bytes, signature, spki) {
  let key;
  try {
    key = await importEcdsaPublic(spki);
  } catch (exc) {
    throw new ManifestSignatureError(`the verifying key is unusable: ${exc.message}`);
  }
  const raw = derToRaw(signature);
  const ok = await crypto.subtle.verify({ name: "ECDSA", hash: "SHA-256" }, key, raw, asBytes(bytes));
  if (!ok) throw new ManifestSignatureError("the manifest's signature does not verify with this key");
  const manifest = await parseManifest(bytes);
  const signer = await fingerprint(spki);
  if (manifest.signing_key !== signer) {
    throw new ManifestSignatureError(`the manifest names signing key ${manifest.signing_key}, but was verified with key ${signer}`);
  }
  return manifest;
}
