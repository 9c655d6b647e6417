// lib/key-import.js reads the demo's PEM private keys (PKCS#8, P-256) as var/demo-keys holds them, as the
// keys page imports them: the purpose from the file name, the public half and its fingerprint from the key.

import assert from "node:assert/strict";
import { createHash, generateKeyPairSync } from "node:crypto";
import { test } from "node:test";

import { KeyImportError, pairFromPem, purposeOfFileName } from "../../frontend/js/lib/key-import.js";

function demoKey() {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const spki = publicKey.export({ type: "spki", format: "der" });
  return { pem: privateKey.export({ type: "pkcs8", format: "pem" }), fingerprint: createHash("sha256").update(spki).digest("hex") };
}

test("the purpose comes from the file name as load_demo writes it", () => {
  assert.equal(purposeOfFileName("bidder1-signing.pem"), "signing");
  assert.equal(purposeOfFileName("custodian1-encryption.pem"), "encryption");
  assert.equal(purposeOfFileName("key.pem"), null);
  assert.equal(purposeOfFileName("bidder1-signing.pem.txt"), null);
});

test("a PKCS#8 P-256 key gives a non-extractable private key and the public key's fingerprint", async () => {
  for (const purpose of ["signing", "encryption"]) {
    const key = demoKey();
    const pair = await pairFromPem(key.pem, purpose);
    assert.equal(pair.fingerprint, key.fingerprint);
    assert.equal(pair.privateKey.extractable, false);
    assert.equal(pair.privateKey.algorithm.name, purpose === "signing" ? "ECDSA" : "ECDH");
  }
});

test("what is not a P-256 private key in PKCS#8 PEM is refused", async () => {
  const other = generateKeyPairSync("ec", { namedCurve: "P-384" }).privateKey.export({ type: "pkcs8", format: "pem" });
  const publicOnly = generateKeyPairSync("ec", { namedCurve: "P-256" }).publicKey.export({ type: "spki", format: "pem" });
  await assert.rejects(pairFromPem(other, "signing"), { name: "Error", code: "not_p256" });
  for (const pem of [publicOnly, "not a key"]) await assert.rejects(pairFromPem(pem, "signing"), { code: "not_pem" });
  await assert.rejects(pairFromPem(demoKey().pem, "other"), KeyImportError);
});
