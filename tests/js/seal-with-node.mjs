// Seals a bid with the JavaScript implementation under Node, for
// tests/js/test_node_interop.py (Python then opens it): not a test file itself.
//
//   node tests/js/seal-with-node.mjs JOB.json OUT_FOLDER
//
// JOB: {tender, bid, bidder, threshold, custodians: [SPKI base64], lots, files: [{path, base64}]}.
// Writes OUT_FOLDER/ciphertext, manifest, signature (DER), signing.spki, encryption.pkcs8.

import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

import { concat, exportSpki, fingerprint, fromBase64, sealBid, signManifest } from "../../frontend/js/sealing/index.js";

const [jobPath, out] = process.argv.slice(2);
const job = JSON.parse(readFileSync(jobPath, "utf8"));
const signing = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, false, ["sign", "verify"]);
// Extractable here only so that the test can open the bidder's envelope in Python.
const encryption = await crypto.subtle.generateKey({ name: "ECDH", namedCurve: "P-256" }, true, ["deriveBits"]);
const signingSpki = await exportSpki(signing.publicKey);
const chunks = [];
const sealed = await sealBid({
  files: job.files.map((f) => ({ path: f.path, data: new Blob([fromBase64(f.base64)]) })),
  lots: job.lots,
  tender: job.tender,
  bid: job.bid,
  bidder: job.bidder,
  signingKeyFingerprint: await fingerprint(signingSpki),
  encryptionSpki: await exportSpki(encryption.publicKey),
  custodians: job.custodians.map(fromBase64),
  threshold: job.threshold,
  sink: { write: (bytes) => void chunks.push(bytes.slice()) },
});
writeFileSync(join(out, "ciphertext"), concat(...chunks));
writeFileSync(join(out, "manifest"), sealed.manifestBytes);
writeFileSync(join(out, "signature"), await signManifest(sealed.manifestBytes, signing.privateKey));
writeFileSync(join(out, "signing.spki"), signingSpki);
writeFileSync(join(out, "encryption.pkcs8"), new Uint8Array(await crypto.subtle.exportKey("pkcs8", encryption.privateKey)));
