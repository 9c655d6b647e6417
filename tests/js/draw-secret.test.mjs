// frontend/js/lib/draw-secret.js: the supervisor's secret and its commitment, on the vector that
// tests/evaluation/test_draw_check.py checks against evaluation/draw.py.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

import { commitmentOf, makeSecret, parseSecret, toHex } from "../../frontend/js/lib/draw-secret.js";

const vector = JSON.parse(readFileSync(new URL("../data/draw_vectors.json", import.meta.url), "utf-8"));

test("the commitment of the vector's secret is the one Python computes", async () => {
  const secret = parseSecret(vector.secret_hex);
  assert.equal(toHex(secret), vector.secret_hex);
  assert.equal(await commitmentOf(secret), vector.commitment);
});

test("a made secret is 32 random bytes and reads back from its text", async () => {
  const one = makeSecret();
  const two = makeSecret();
  assert.equal(one.length, 32);
  assert.notEqual(toHex(one), toHex(two));
  assert.deepEqual(parseSecret(`  ${toHex(one).toUpperCase()}\n`), one);
});

test("what is not 64 hex digits is no secret", () => {
  for (const text of ["", "00", "g".repeat(64), "0".repeat(63), "0".repeat(65)]) assert.equal(parseSecret(text), null);
});
