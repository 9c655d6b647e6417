// The user's two key pairs in this browser: ECDSA P-256 to sign manifests and
// ECDH P-256 to receive the bidder envelope. Private keys are generated
// non-extractable and kept in IndexedDB; only the public halves leave.

import { exportSpki, fingerprint, spkiToPem } from "../sealing/keys.js";
import { api } from "./api.js";
import { KEYS, get, put, remove } from "./store.js";

export async function generateBrowserKeys(user) {
  const signing = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, false, ["sign", "verify"]);
  const encryption = await crypto.subtle.generateKey({ name: "ECDH", namedCurve: "P-256" }, false, ["deriveBits"]);
  const describe = async (pair) => {
    const spki = await exportSpki(pair.publicKey);
    return { privateKey: pair.privateKey, publicKey: pair.publicKey, spki, fingerprint: await fingerprint(spki) };
  };
  const record = { user, createdAt: new Date().toISOString(), signing: await describe(signing), encryption: await describe(encryption) };
  await put(KEYS, record);
  return record;
}

export const loadBrowserKeys = (user) => get(KEYS, user);
export const deleteBrowserKeys = (user) => remove(KEYS, user);

/** The platform's record of each browser key: `{signing, encryption}`, each the API's key or null. */
export async function registrationOf(record) {
  const registered = await api("GET", "/api/accounts/keys");
  const find = (fp) => registered.find((k) => k.fingerprint === fp) ?? null;
  return { signing: find(record.signing.fingerprint), encryption: find(record.encryption.fingerprint) };
}

export async function registerBrowserKeys(record, label, purposes = ["signing", "encryption"]) {
  const out = {};
  for (const purpose of purposes) {
    out[purpose] = await api("POST", "/api/accounts/keys", { purpose, public_key: spkiToPem(record[purpose].spki), label });
  }
  return out;
}
