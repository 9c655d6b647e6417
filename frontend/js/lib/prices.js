// The bid page's price rules: the CLI's (tendering/client/prices.py), so that a
// price the CLI takes the browser takes, and one it refuses the browser refuses.
// tests/js/price-rules.json holds the cases; tests/client/test_price_rules_table.py
// checks them against the Python rule and tests/js/prices.test.mjs against these.

// Python's str.strip() removes exactly what str.isspace() calls whitespace: not
// JavaScript's trim() set (which has U+FEFF and lacks U+001C–U+001F and U+0085).
const SPACE = "\\t\\n\\v\\f\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";
const AROUND = new RegExp(`^[${SPACE}]+|[${SPACE}]+$`, "g");
const AMOUNT = /^(0|[1-9][0-9]{0,15})(\.[0-9]{1,2})?$/;
const DAYS = /^[0-9]{1,5}$/;
export const MAX_SCHEDULE_DAYS = 36500;

function strip(text) {
  return String(text).replace(AROUND, "");
}

/**
 * A price in yuan as the price summary writes it (`"3050000.5"` → `"3050000.50"`),
 * or null: digits with at most two decimals, no sign, separator or exponent; a
 * third decimal is refused, never rounded.
 */
export function normalizeAmount(text) {
  const value = strip(text);
  const match = AMOUNT.exec(value);
  if (!match) return null;
  const cents = (match[2] ?? ".").slice(1);
  return `${match[1]}.${cents.padEnd(2, "0")}`;
}

/** The schedule (工期) in whole days from 0 to 36500, or null. */
export function scheduleDays(text) {
  const value = strip(text);
  if (!DAYS.test(value)) return null;
  const days = Number(value);
  return days <= MAX_SCHEDULE_DAYS ? days : null;
}

/** True when a text is blank as the rules read it (only whitespace). */
export function isBlank(text) {
  return strip(text) === "";
}
