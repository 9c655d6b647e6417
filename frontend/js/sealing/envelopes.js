// Key envelopes (docs/sealed-bid-format.md §4): the file key sealed with HPKE
// (RFC 9180 base mode, DHKEM(P-256, HKDF-SHA256), HKDF-SHA256, AES-256-GCM) to
// the bidder's own encryption key and, in XOR parts, to every k-subset of the
// tender's custodians; and the key commitment kc.

import { Aes256Gcm, CipherSuite, DhkemP256HkdfSha256, HkdfSha256 } from "@hpke/core";

import { asBytes, concat, equalBytes, fromBase64, fromHex, randomBytes, toBase64, utf8, xor } from "./bytes.js";
import { EnvelopeError, KeyCommitmentError } from "./errors.js";
import { fingerprint, importEcdhPublic } from "./keys.js";
import { KEY_SIZE } from "./stream.js";

export const ENC_SIZE = 65;
export const ENVELOPE_SIZE = ENC_SIZE + KEY_SIZE + 16;
export const MAX_CUSTODIANS = 9;
export const ENVELOPE_INFO_LABEL = "etender-envelope-v1";
export const COMMITMENT_INFO = "etender-commit-v1";

export const SUITE = new CipherSuite({ kem: new DhkemP256HkdfSha256(), kdf: new HkdfSha256(), aead: new Aes256Gcm() });

// -- key commitment ------------------------------------------------------------------------------------

/** kc = HKDF-SHA256(ikm = file key, salt = 32 zero bytes, info = "etender-commit-v1", L = 32). */
export async function keyCommitment(fileKey) {
  checkFileKey(fileKey);
  const ikm = await crypto.subtle.importKey("raw", asBytes(fileKey), "HKDF", false, ["deriveBits"]);
  const bits = await crypto.subtle.deriveBits(
    { name: "HKDF", hash: "SHA-256", salt: new Uint8Array(32), info: utf8(COMMITMENT_INFO) },
    ikm,
    256,
  );
  return new Uint8Array(bits);
}

export async function verifyCommitment(fileKey, kc) {
  if (!equalBytes(await keyCommitment(fileKey), kc)) {
    throw new KeyCommitmentError("the file key does not match the manifest's key commitment (kc)");
  }
}

function checkFileKey(fileKey) {
  if (asBytes(fileKey).length !== KEY_SIZE) throw new EnvelopeError("a file key is 32 bytes");
}

// -- XOR parts ----------------------------------------------------------------------------------------

export function checkThreshold(n, k) {
  if (!Number.isInteger(n) || n < 1 || n > MAX_CUSTODIANS) throw new EnvelopeError(`a tender names 1 to ${MAX_CUSTODIANS} custodians, not ${n}`);
  if (!Number.isInteger(k) || k < 1 || k > n) throw new EnvelopeError(`the threshold k must be between 1 and n=${n}, not ${k}`);
}

/** Every k-subset of positions 0..n−1, each ascending, in lexicographic order (itertools.combinations). */
export function custodianSubsets(n, k) {
  checkThreshold(n, k);
  const out = [];
  const pick = [];
  const walk = (from) => {
    if (pick.length === k) {
      out.push([...pick]);
      return;
    }
    for (let i = from; i <= n - (k - pick.length); i++) {
      pick.push(i);
      walk(i + 1);
      pick.pop();
    }
  };
  walk(0);
  return out;
}

/** k parts whose XOR is the file key: k−1 random, the last the key XOR the others. */
export function splitKey(fileKey, k, random = randomBytes) {
  checkFileKey(fileKey);
  const parts = Array.from({ length: k - 1 }, () => random(KEY_SIZE));
  parts.push(xor([asBytes(fileKey), ...parts]));
  return parts;
}

export function combineParts(parts) {
  if (!parts.length) throw new EnvelopeError("no parts to combine");
  for (const part of parts) if (part.length !== KEY_SIZE) throw new EnvelopeError("a key part is 32 bytes");
  return xor(parts);
}

// -- info strings -----------------------------------------------------------------------------------------

export function bidderEnvelopeInfo(identity, recipient) {
  return `${ENVELOPE_INFO_LABEL}|bidder|${identity.tender}|${identity.bid}|${identity.bidder}|${recipient}`;
}

export function custodianPartInfo(identity, k, n, members, position, recipient) {
  return (
    `${ENVELOPE_INFO_LABEL}|custodian|${identity.tender}|${identity.bid}|${identity.bidder}` +
    `|${k}-of-${n}|${members.join(",")}|${position}|${recipient}`
  );
}

// -- sealing and opening --------------------------------------------------------------------------------

/** enc (65) ‖ ciphertext (32) ‖ tag (16): one single-shot HPKE seal of a 32-byte value. */
export async function sealTo(publicKey, info, plaintext) {
  const sealed = await SUITE.seal({ recipientPublicKey: publicKey, info: utf8(info) }, asBytes(plaintext));
  const envelope = concat(new Uint8Array(sealed.enc), new Uint8Array(sealed.ct));
  if (envelope.length !== ENVELOPE_SIZE) throw new EnvelopeError("an envelope is 113 bytes");
  return envelope;
}

/**
 * Opens an envelope with `recipient`, a WebCrypto ECDH key pair `{privateKey,
 * publicKey}` (a non-extractable private key needs its public key beside it).
 */
export async function openEnvelope(sealed, recipient, info) {
  const bytes = asBytes(sealed);
  if (bytes.length !== ENVELOPE_SIZE) throw new EnvelopeError(`an envelope is ${ENVELOPE_SIZE} bytes, this one has ${bytes.length}`);
  try {
    return new Uint8Array(
      await SUITE.open({ recipientKey: recipient, enc: bytes.slice(0, ENC_SIZE), info: utf8(info) }, bytes.slice(ENC_SIZE)),
    );
  } catch {
    throw new EnvelopeError("the envelope does not open with this key: modified, or made for another tender, bid or recipient");
  }
}

// -- at the opening (开标): opening one's own envelopes of a parsed manifest -------------------------------

function manifestIdentity(manifest) {
  return { tender: manifest.tender, bid: manifest.bid, bidder: manifest.bidder };
}

/**
 * The bidder's file key from its own envelope of a parsed manifest, opened with
 * `recipient` (its ECDH key pair; the private half may be non-extractable) whose
 * fingerprint is `recipientFingerprint`, and checked against the manifest's key
 * commitment before it goes anywhere (tendering/sealing: open_bidder_envelope).
 */
export async function openBidderEnvelope(manifest, recipient, recipientFingerprint) {
  const envelope = manifest.envelopes.bidder;
  if (envelope.recipient !== recipientFingerprint) {
    throw new EnvelopeError(`the bid is sealed to the encryption key ${envelope.recipient}, not to ${recipientFingerprint}`);
  }
  const info = bidderEnvelopeInfo(manifestIdentity(manifest), envelope.recipient);
  const fileKey = await openEnvelope(fromBase64(envelope.sealed), recipient, info);
  await verifyCommitment(fileKey, fromHex(manifest.kc));
  return fileKey;
}

/**
 * A custodian's part of every subset it belongs to, in one parsed manifest:
 * `[{members, part}]`, members as the manifest numbers the custodians (from 0).
 * Its position is where `recipientFingerprint` stands among the manifest's
 * recipients (tendering/sealing: open_custodian_parts).
 */
export async function openCustodianParts(manifest, recipient, recipientFingerprint) {
  const { threshold, recipients, subsets } = manifest.envelopes.custodians;
  const position = recipients.indexOf(recipientFingerprint);
  if (position < 0) throw new EnvelopeError(`the key ${recipientFingerprint} is not one of this bid's custodians`);
  const identity = manifestIdentity(manifest);
  const parts = [];
  for (const subset of subsets) {
    const j = subset.members.indexOf(position);
    if (j < 0) continue;
    const info = custodianPartInfo(identity, threshold, recipients.length, subset.members, position, recipientFingerprint);
    parts.push({ members: [...subset.members], part: await openEnvelope(fromBase64(subset.parts[j]), recipient, info) });
  }
  return parts;
}

/**
 * Every envelope of a bid, as the manifest writes them: one to the bidder's
 * encryption key, and for each k-subset of the custodians (published order),
 * k XOR parts each sealed to one member.
 */
export async function sealFileKey(fileKey, identity, bidderEncryptionSpki, custodianSpkis, threshold, { random = randomBytes } = {}) {
  checkFileKey(fileKey);
  const bidderFp = await fingerprint(bidderEncryptionSpki);
  const bidderKey = await importEcdhPublic(bidderEncryptionSpki);
  const keys = await Promise.all(custodianSpkis.map((spki) => importEcdhPublic(spki)));
  const recipients = await Promise.all(custodianSpkis.map((spki) => fingerprint(spki)));
  const n = keys.length;
  checkThreshold(n, threshold);
  const seen = new Map();
  recipients.forEach((fp, position) => {
    // One key twice would hold two parts of a subset: fewer than k people could open the bid.
    if (seen.has(fp)) throw new EnvelopeError(`custodians ${seen.get(fp)} and ${position} have the same key ${fp}`);
    seen.set(fp, position);
  });
  const bidder = { recipient: bidderFp, sealed: toBase64(await sealTo(bidderKey, bidderEnvelopeInfo(identity, bidderFp), fileKey)) };
  const subsets = [];
  for (const members of custodianSubsets(n, threshold)) {
    const parts = splitKey(fileKey, threshold, random);
    const sealed = await Promise.all(
      members.map((position, j) =>
        sealTo(keys[position], custodianPartInfo(identity, threshold, n, members, position, recipients[position]), parts[j]),
      ),
    );
    for (const part of parts) part.fill(0);
    subsets.push({ members, parts: sealed.map(toBase64) });
  }
  return { bidder, custodians: { threshold, recipients, subsets } };
}

/** What can be checked of an envelope without its private key: size and an uncompressed P-256 point in front. */
export async function checkSealedEnvelope(sealed, where) {
  const bytes = asBytes(sealed);
  if (bytes.length !== ENVELOPE_SIZE) throw new EnvelopeError(`${where}: an envelope is ${ENVELOPE_SIZE} bytes, this one has ${bytes.length}`);
  if (bytes[0] !== 0x04) throw new EnvelopeError(`${where}: the envelope does not start with an uncompressed P-256 point`);
  try {
    await crypto.subtle.importKey("raw", bytes.slice(0, ENC_SIZE), { name: "ECDH", namedCurve: "P-256" }, true, []);
  } catch {
    throw new EnvelopeError(`${where}: the envelope does not start with an uncompressed P-256 point`);
  }
}
