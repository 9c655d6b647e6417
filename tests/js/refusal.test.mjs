// The custodian's "does not open" statement in JavaScript: the exact bytes of the
// Python vector (docs/sealed-bid-vectors/refusal.json), its signature verifies, and a
// statement the browser signs verifies too (with the same key only).

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

import { fromHex, utf8 } from "../../frontend/js/sealing/bytes.js";
import { verifyStatement } from "../../frontend/js/sealing/custody.js";
import { exportSpki, fingerprint } from "../../frontend/js/sealing/keys.js";
import { REFUSAL_FORMAT, refusalReason, refusalStatement, signRefusal } from "../../frontend/js/sealing/refusal.js";

const vector = JSON.parse(readFileSync(new URL("../../docs/sealed-bid-vectors/refusal.json", import.meta.url), "utf8"));

test("refusal.json: the statement's exact bytes, and its RFC 6979 signature verifies", async () => {
  const { fields } = vector;
  assert.equal(fields.format, REFUSAL_FORMAT);
  const statement = refusalStatement({ ...fields, signingKey: fields.signing_key });
  assert.equal(new TextDecoder().decode(statement), vector.statement_text);
  const spki = fromHex(vector.signing_key.spki_der_hex);
  assert.equal(await fingerprint(spki), fields.signing_key);
  assert.equal(await verifyStatement(statement, fromHex(vector.signature_der_hex), spki), true);
  assert.equal(await verifyStatement(utf8(vector.refused[0].statement_text), fromHex(vector.signature_der_hex), spki), false);
});

test("a statement signed in the browser verifies with its own key only", async () => {
  const pair = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, false, ["sign", "verify"]);
  const spki = await exportSpki(pair.publicKey);
  const signer = { privateKey: pair.privateKey, fingerprint: await fingerprint(spki) };
  const fields = { tender: vector.fields.tender, bid: vector.fields.bid, members: [0, 2], index: 0, reason: "hpke_open_failed" };
  const { statement, signature } = await signRefusal(fields, signer);
  assert.equal(JSON.parse(new TextDecoder().decode(statement)).signing_key, signer.fingerprint);
  assert.equal(await verifyStatement(statement, signature, spki), true);
  assert.equal(await verifyStatement(statement, signature, fromHex(vector.signing_key.spki_der_hex)), false);
});

test("the reason: a malformed envelope, or one HPKE refuses", () => {
  const envelope = new Uint8Array(113);
  envelope[0] = 0x04;
  assert.equal(refusalReason(envelope), "hpke_open_failed");
  assert.equal(refusalReason(envelope.slice(0, 112)), "malformed_envelope");
  envelope[0] = 0x02;
  assert.equal(refusalReason(envelope), "malformed_envelope");
});
