// The user's key pairs in this browser: ECDSA P-256 to sign manifests (a
// bidder's) and ECDH P-256 to open envelopes at the opening (a bidder's own
// envelope, a custodian's parts). Private keys are generated non-extractable
// and kept in IndexedDB; only the public halves leave. A record holds the
// purposes made so far: `{user, createdAt, signing?, encryption?}`.
//
// Registering a key answers the platform's one-time challenge for exactly that
// key (docs/custody.md §A), here, with the private key that never leaves:
// a signing key signs the statement, an encryption key opens the nonce the
// platform sealed to it. So a key registered on the platform was held by
// whoever registered it, not merely typed in by someone with the password.

import { answerChallenge } from "../sealing/custody.js";
import { exportSpki, fingerprint, spkiToPem } from "../sealing/keys.js";
import { api } from "./api.js";
import { KEYS, get, put, remove } from "./store.js";

export const PURPOSES = ["signing", "encryption"];
export const KEYS_URL = "/api/accounts/keys";
export const CHALLENGES_URL = `${KEYS_URL}/challenges`;

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
  const registered = await api("GET", KEYS_URL);
  const find = (held) => (held ? (registered.find((k) => k.fingerprint === held.fingerprint) ?? null) : null);
  return { signing: find(record.signing), encryption: find(record.encryption) };
}

/** Registers the held keys of `purposes`, each with its proof; `organization` is the user's credit code ("" for none) the statements must name. */
export async function registerBrowserKeys(record, label, purposes = heldPurposes(record), organization = undefined) {
  const out = {};
  for (const purpose of purposes) {
    const held = record[purpose];
    const publicKey = spkiToPem(held.spki);
    const challenge = await api("POST", CHALLENGES_URL, { purpose, public_key: publicKey });
    const proof = await answerChallenge(record.user, purpose, held, challenge, organization);
    out[purpose] = await api("POST", KEYS_URL, { purpose, public_key: publicKey, label, proof });
  }
  return out;
}
