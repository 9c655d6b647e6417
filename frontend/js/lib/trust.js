// The user's trust list in this browser (IndexedDB), what the bid page checks
// custodians' confirmations against before it seals (docs/custody.md §C):
// CA certificates the user imported from a file it obtained itself (the
// trading centre's CA数字证书 root), and custodians' signing-key fingerprints
// the user pinned by hand after comparing them with the custodian. Nothing here
// comes from the platform unless the user chose to import what it offers; and
// all of it is only as good as the JavaScript the platform served to read it.
// One record per platform user: `{user, anchors: [{pem, fingerprint, subject, notAfter, addedAt}], pins: [{username, fingerprint, addedAt}]}`.

import { sha256, toHex } from "../sealing/bytes.js";
import { certificateDer, commonName, parseCertificate, pemCertificates } from "../sealing/x509.js";
import { TRUST, get, put } from "./store.js";

const FINGERPRINT = /^[0-9a-f]{64}$/;
const USERNAME = /^[\w.@+-]{1,150}$/u;

export class TrustError extends Error {}

export async function loadTrust(user) {
  return (await get(TRUST, user)) ?? { user, anchors: [], pins: [] };
}

/** Adds every certificate of a PEM text as a trust anchor; returns the ones added. */
export async function importAnchors(user, pemText) {
  const found = pemCertificates(pemText);
  if (!found.length) throw new TrustError("no PEM certificate in this file");
  const trust = await loadTrust(user);
  const added = [];
  for (const der of found) {
    const cert = parseCertificate(der);
    const fingerprint = toHex(await sha256(certificateDer(cert)));
    if (trust.anchors.some((a) => a.fingerprint === fingerprint)) continue;
    const entry = { pem: cert.toString("pem"), fingerprint, subject: cert.subject || commonName(cert), notAfter: cert.notAfter.toISOString(), addedAt: new Date().toISOString() };
    trust.anchors.push(entry);
    added.push(entry);
  }
  await put(TRUST, trust);
  return added;
}

export async function removeAnchor(user, fingerprint) {
  const trust = await loadTrust(user);
  trust.anchors = trust.anchors.filter((a) => a.fingerprint !== fingerprint);
  await put(TRUST, trust);
}

/** Pins `fingerprint` (SHA-256 of the SPKI, hex) as a signing key of custodian `username`. */
export async function pinKey(user, username, fingerprint) {
  const name = username.trim();
  const fp = fingerprint.replace(/[\s:]/g, "").toLowerCase();
  if (!USERNAME.test(name)) throw new TrustError("username");
  if (!FINGERPRINT.test(fp)) throw new TrustError("fingerprint");
  const trust = await loadTrust(user);
  if (!trust.pins.some((p) => p.username === name && p.fingerprint === fp)) trust.pins.push({ username: name, fingerprint: fp, addedAt: new Date().toISOString() });
  await put(TRUST, trust);
}

export async function unpinKey(user, username, fingerprint) {
  const trust = await loadTrust(user);
  trust.pins = trust.pins.filter((p) => !(p.username === username && p.fingerprint === fingerprint));
  await put(TRUST, trust);
}
