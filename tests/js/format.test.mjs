// frontend/js/lib/format.js writes moments and amounts as config/formatting.py does, on the
// same worked examples (tests/data/amounts_in_words.json; tests/test_formatting.py).

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

import { amountInWords, amountText, momentText, setFormatConfig } from "../../frontend/js/lib/format.js";

const examples = JSON.parse(readFileSync(new URL("../data/amounts_in_words.json", import.meta.url), "utf-8"));

test("every worked example is written in capitals and with thousands separators as in Python", () => {
  for (const [amount, words, grouped] of examples.examples) {
    assert.equal(amountInWords(amount), words, amount);
    assert.equal(amountText(amount), grouped, amount);
  }
  assert.equal(amountText(3050000.5), "3,050,000.50");
});

test("what is not a payable amount is refused", () => {
  for (const amount of examples.refused) assert.throws(() => amountInWords(amount), RangeError, amount);
  for (const amount of ["-1", "1.005", "abc", "", null, "1e6"]) assert.throws(() => amountText(amount), RangeError, String(amount));
});

test("a moment is written in the page's zone to the minute, with the zone's name", () => {
  setFormatConfig({ timeZone: "Asia/Shanghai", zoneLabel: "北京时间" });
  assert.equal(momentText("2026-12-03T08:30:59Z"), "2026-12-03 16:30 北京时间");
  assert.equal(momentText(new Date("2026-12-03T15:59:00Z")), "2026-12-03 23:59 北京时间");
  assert.equal(momentText("2026-12-03T16:00:00Z", { label: false }), "2026-12-04 00:00");
  setFormatConfig({ timeZone: "Europe/Berlin" });
  assert.equal(momentText("2026-12-03T08:30:00Z"), "2026-12-03 09:30 Europe/Berlin");
  assert.equal(momentText("not a time"), "");
  assert.equal(momentText(null), "");
});
