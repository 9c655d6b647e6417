// The user's key pairs in this browser: ECDSA P-256 to sign manifests (a
// bidder's) and ECDH P-256 to open envelopes at the opening (a bidder's own
// envelope, a custodian's parts). Private keys are generated non-extractable
// and kept in IndexedDB; only the public halves leave. A record holds the
// purposes made so far: `{user, createdAt, signing?, encryption?}`.

import { exportSpki, fingerprint, spkiToPem } from "../sealing/keys.js";
import { api } from "./api.js";
import { KEYS, get, put, remove } from "./store.js";

export const PURPOSES = ["signing", "encryption"];

const ALGORITHMS = {
  signing: [{ name: "ECDSA", namedCurve: "P-256" }, ["sign", "verify"]],
  encryption: [{ name: "ECDH", namedCurve: "P-256" }, ["deriveBits"]],
};

/** Makes the pairs of `purposes` this browser does not hold yet for `user`; keeps the others. */
export async function generateBrowserKeys(user, purposes = PURPOSES) {
  const record = (await get(KEYS, user)) ?? { user, createdAt: new Date().toISOString() };
  for (const purpose of purposes) {
    if (record[purpose]) continue;
    const [algorithm, usages] = ALGORITHMS[purpose];
    const pair = await crypto.subtle.generateKey(algorithm, false, usages);
    const spki = await exportSpki(pair.publicKey);
    record[purpose] = { privateKey: pair.privateKey, publicKey: pair.publicKey, spki, fingerprint: await fingerprint(spki) };
  }
  await put(KEYS, record);
  return record;
}

export const loadBrowserKeys = (user) => get(KEYS, user);
export const deleteBrowserKeys = (user) => remove(KEYS, user);

/** The purposes a record holds a pair for. */
export const heldPurposes = (record) => PURPOSES.filter((purpose) => record?.[purpose]);

/** The platform's record of each browser key: `{signing, encryption}`, each the API's key or null (also when not held). */
export async function registrationOf(record) {
  const registered = await api("GET", "/api/accounts/keys");
  const find = (held) => (held ? (registered.find((k) => k.fingerprint === held.fingerprint) ?? null) : null);
  return { signing: find(record.signing), encryption: find(record.encryption) };
}

export async function registerBrowserKeys(record, label, purposes = heldPurposes(record)) {
  const out = {};
  for (const purpose of purposes) {
    out[purpose] = await api("POST", "/api/accounts/keys", { purpose, public_key: spkiToPem(record[purpose].spki), label });
  }
  return out;
}
