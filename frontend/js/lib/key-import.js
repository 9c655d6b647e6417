// Importing a private key made elsewhere into this browser's key record (lib/keys.js): for the demo
// (`make run` writes each demo user's keys to var/demo-keys/USERNAME-PURPOSE.pem), so a visitor can act
// as a demo bidder or custodian in the browser, as `etender keys import` does on the command line.
// The PEM is PKCS#8 (BEGIN PRIVATE KEY), P-256; the key is kept non-extractable, like a generated one.
// A key ever kept in the clear elsewhere is only as safe as that copy: real keys are generated here.

import { exportSpki, fingerprint, pemToDer } from "../sealing/keys.js";
import { KEYS, get, put } from "./store.js";

const ALGORITHMS = {
  signing: { name: "ECDSA", namedCurve: "P-256" },
  encryption: { name: "ECDH", namedCurve: "P-256" },
};
const PRIVATE_USAGES = { signing: ["sign"], encryption: ["deriveBits"] };
const PUBLIC_USAGES = { signing: ["verify"], encryption: [] };

/** A refused import: `code` says why (the page words it), `file` names the file, the message is for logs. */
export class KeyImportError extends Error {
  constructor(code, message, file = "") {
    super(file ? `${file}: ${message}` : message);
    this.code = code;
    this.file = file;
  }
}

/** The purpose a demo key file is for, from its name (`bidder1-signing.pem`); null when the name does not say. */
export function purposeOfFileName(name) {
  const match = /-(signing|encryption)\.pem$/i.exec(name ?? "");
  return match ? match[1].toLowerCase() : null;
}

/** A P-256 PKCS#8 PEM as a held pair `{privateKey (non-extractable), publicKey, spki, fingerprint}`. */
export async function pairFromPem(pem, purpose) {
  const algorithm = ALGORITHMS[purpose];
  if (!algorithm) throw new KeyImportError("purpose", `unknown purpose ${purpose}`);
  let der;
  try {
    der = pemToDer(pem, "PRIVATE KEY");
  } catch {
    throw new KeyImportError("not_pem", "not a PEM private key (-----BEGIN PRIVATE KEY-----, PKCS#8)");
  }
  let jwk;
  try {
    // Extractable once, only to read the public point; the key kept is imported again, non-extractable.
    const readable = await crypto.subtle.importKey("pkcs8", der, algorithm, true, PRIVATE_USAGES[purpose]);
    jwk = await crypto.subtle.exportKey("jwk", readable);
  } catch {
    throw new KeyImportError("not_p256", "not a P-256 private key");
  }
  const publicKey = await crypto.subtle.importKey(
    "jwk",
    { kty: "EC", crv: "P-256", x: jwk.x, y: jwk.y, ext: true },
    algorithm,
    true,
    PUBLIC_USAGES[purpose],
  );
  const privateKey = await crypto.subtle.importKey("pkcs8", der, algorithm, false, PRIVATE_USAGES[purpose]);
  const spki = await exportSpki(publicKey);
  return { privateKey, publicKey, spki, fingerprint: await fingerprint(spki) };
}

/**
 * Imports `files` ([{name, text}], each named USERNAME-PURPOSE.pem) into `user`'s record; refuses, and
 * changes nothing, when a name does not say its purpose, a purpose comes twice, a key is not P-256 PKCS#8,
 * or the browser already holds a key of that purpose (delete it first). Returns the purposes imported.
 */
export async function importBrowserKeys(user, files) {
  const record = (await get(KEYS, user)) ?? { user, createdAt: new Date().toISOString() };
  const pairs = {};
  for (const file of files) {
    const purpose = purposeOfFileName(file.name);
    if (!purpose) throw new KeyImportError("name", "the name does not end -signing.pem or -encryption.pem", file.name);
    if (pairs[purpose]) throw new KeyImportError("twice", `two ${purpose} keys`, file.name);
    if (record[purpose]) throw new KeyImportError("held", `this browser already holds a ${purpose} key`, file.name);
    try {
      pairs[purpose] = await pairFromPem(file.text, purpose);
    } catch (exc) {
      throw new KeyImportError(exc.code ?? "not_pem", exc.message, file.name);
    }
  }
  await put(KEYS, { ...record, ...pairs });
  return Object.keys(pairs);
}
