// P-256 public keys as the format names them: SPKI DER (91 bytes, uncompressed
// point, what WebCrypto's exportKey("spki") writes) and its SHA-256 fingerprint.

import { asBytes, concat, equalBytes, fromBase64, fromHex, sha256, toBase64, toHex } from "./bytes.js";
import { EnvelopeError } from "./errors.js";

// SEQUENCE { SEQUENCE { id-ecPublicKey, prime256v1 }, BIT STRING 0x00 0x04 … } up to the point's 0x04.
export const P256_SPKI_PREFIX = fromHex("3059301306072a8648ce3d020106082a8648ce3d030107034200");

/** Refuses anything but the canonical 91-byte SPKI of a P-256 key. */
export function checkSpki(spki) {
  const der = asBytes(spki);
  if (der.length !== 91 || !equalBytes(der.subarray(0, P256_SPKI_PREFIX.length), P256_SPKI_PREFIX) || der[26] !== 0x04) {
    throw new EnvelopeError("a public key here is the SPKI DER of a P-256 key with an uncompressed point (91 bytes)");
  }
  return der;
}

/** The uncompressed point (65 bytes) of an SPKI. */
export function spkiPoint(spki) {
  return checkSpki(spki).subarray(26);
}

export function spkiFromPoint(point) {
  return concat(P256_SPKI_PREFIX, point);
}

/** SHA-256 of the SPKI DER, 64 lowercase hex digits (accounts.PublicKey.fingerprint). */
export async function fingerprint(spki) {
  return toHex(await sha256(checkSpki(spki)));
}

export function spkiToPem(spki) {
  const b64 = toBase64(checkSpki(spki));
  const lines = b64.match(/.{1,64}/g).join("\n");
  return `-----BEGIN PUBLIC KEY-----\n${lines}\n-----END PUBLIC KEY-----\n`;
}

export function pemToDer(pem, label) {
  const match = new RegExp(`-----BEGIN ${label}-----([\\s\\S]*?)-----END ${label}-----`).exec(pem);
  if (!match) throw new TypeError(`no PEM ${label} block`);
  return fromBase64(match[1].replace(/\s+/g, ""));
}

export function spkiFromPem(pem) {
  return checkSpki(pemToDer(pem, "PUBLIC KEY"));
}

export async function importEcdhPublic(spki) {
  return crypto.subtle.importKey("spki", checkSpki(spki), { name: "ECDH", namedCurve: "P-256" }, true, []);
}

export async function importEcdsaPublic(spki) {
  return crypto.subtle.importKey("spki", checkSpki(spki), { name: "ECDSA", namedCurve: "P-256" }, true, ["verify"]);
}

/** The SPKI of a WebCrypto public key (public keys are always exportable). */
export async function exportSpki(publicKey) {
  return checkSpki(new Uint8Array(await crypto.subtle.exportKey("spki", publicKey)));
}
