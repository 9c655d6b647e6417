// The bid page's price rules (frontend/js/lib/prices.js) give, case by case, what the
// CLI's rule gives (tests/js/price-rules.json; the Python side is
// tests/client/test_price_rules_table.py).

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

import { isBlank, normalizeAmount, scheduleDays } from "../../frontend/js/lib/prices.js";

const table = JSON.parse(readFileSync(new URL("./price-rules.json", import.meta.url), "utf8"));

test("every amount of the shared table is read as the CLI reads it", () => {
  assert.ok(table.amounts.length >= 20);
  for (const { input, expected, case: name } of table.amounts) {
    assert.equal(normalizeAmount(input), expected, `${name}: ${JSON.stringify(input)}`);
  }
});

test("every schedule of the shared table is read as the CLI reads it", () => {
  assert.ok(table.schedule_days.length >= 10);
  for (const { input, expected, case: name } of table.schedule_days) {
    assert.equal(scheduleDays(input), expected, `${name}: ${JSON.stringify(input)}`);
  }
});

test("a field of whitespace only is blank, one with a character is not", () => {
  assert.equal(isBlank(" \u3000\t"), true);
  assert.equal(isBlank("\ufeff"), false);
  assert.equal(isBlank("0"), false);
});
