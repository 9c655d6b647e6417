// Canonical JSON (RFC 8785, JCS) for the manifest and the price summary, and a
// strict reader that accepts only bytes already in canonical form.
//
// Writing uses the `canonicalize` package; the values of this format are only
// objects, arrays, strings and integers within ±(2**53 − 1), which this module
// checks before handing them over (a float or a boolean is a programming error).
// Reading needs more than JSON.parse, which silently keeps the last of two equal
// keys and turns 1.0 into 1: a small parser refuses both, as Python's reader does.

import canonicalize from "canonicalize";

import { asBytes, equalBytes, fromUtf8, isWellFormed, utf8 } from "./bytes.js";

function checkPlain(value, path) {
  if (typeof value === "string") {
    if (!isWellFormed(value)) throw new TypeError(`${path}: a string with a lone surrogate`);
    return;
  }
  if (typeof value === "number") {
    if (!Number.isSafeInteger(value)) throw new TypeError(`${path}: ${value} is not an integer within ±(2**53 - 1)`);
    return;
  }
  if (Array.isArray(value)) {
    value.forEach((item, i) => checkPlain(item, `${path}[${i}]`));
    return;
  }
  if (value !== null && typeof value === "object" && Object.getPrototypeOf(value) === Object.prototype) {
    for (const [key, item] of Object.entries(value)) {
      if (!isWellFormed(key)) throw new TypeError(`${path}: a key with a lone surrogate`);
      checkPlain(item, `${path}.${key}`);
    }
    return;
  }
  throw new TypeError(`${path}: ${value === null ? "null" : typeof value} is not a value of this format`);
}

/** The canonical text of `value` (objects, arrays, strings, safe integers only). */
export function canonicalText(value) {
  checkPlain(value, "$");
  return canonicalize(value);
}

/** The canonical UTF-8 bytes of `value`. */
export function canonicalBytes(value) {
  return utf8(canonicalText(value));
}

class Refused extends Error {}

// Sticky expressions: each matches exactly at lastIndex, without copying the rest of the text.
const LITERAL = /true|false|null/y;
const NUMBER = /-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/y;
const STRING = /"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"/y;

/** JSON.parse, but refusing duplicate keys, fractions, exponents and numbers beyond ±(2**53 − 1). */
export function parseStrictJson(text) {
  let at = 0;
  const fail = (message) => {
    throw new Refused(message);
  };
  const space = () => {
    while (at < text.length && " \t\n\r".includes(text[at])) at++;
  };
  const value = (depth) => {
    if (depth > 64) fail("nested too deeply");
    space();
    const ch = text[at];
    if (ch === "{") {
      at++;
      const out = {};
      const seen = new Set();
      space();
      if (text[at] === "}") {
        at++;
        return out;
      }
      for (;;) {
        space();
        if (text[at] !== '"') fail(`a key expected at character ${at}`);
        const key = string();
        if (seen.has(key)) fail(`the key ${JSON.stringify(key)} appears twice in one object`);
        seen.add(key);
        space();
        if (text[at] !== ":") fail(`':' expected at character ${at}`);
        at++;
        const item = value(depth + 1);
        Object.defineProperty(out, key, { value: item, enumerable: true, writable: true, configurable: true });
        space();
        if (text[at] === ",") {
          at++;
          continue;
        }
        if (text[at] === "}") {
          at++;
          return out;
        }
        fail(`',' or '}' expected at character ${at}`);
      }
    }
    if (ch === "[") {
      at++;
      const out = [];
      space();
      if (text[at] === "]") {
        at++;
        return out;
      }
      for (;;) {
        out.push(value(depth + 1));
        space();
        if (text[at] === ",") {
          at++;
          continue;
        }
        if (text[at] === "]") {
          at++;
          return out;
        }
        fail(`',' or ']' expected at character ${at}`);
      }
    }
    if (ch === '"') return string();
    LITERAL.lastIndex = at;
    const literal = LITERAL.exec(text);
    if (literal) {
      at += literal[0].length;
      return { true: true, false: false, null: null }[literal[0]];
    }
    NUMBER.lastIndex = at;
    const number = NUMBER.exec(text);
    if (number) {
      at += number[0].length;
      if (number[1] !== undefined || number[2] !== undefined) {
        fail(`the number ${number[0]} is not an integer (amounts travel as decimal strings)`);
      }
      const n = Number(number[0]);
      if (!Number.isSafeInteger(n)) fail(`the integer ${number[0]} is outside ±(2**53 - 1)`);
      return n;
    }
    return fail(`unexpected ${ch === undefined ? "end" : JSON.stringify(ch)} at character ${at}`);
  };
  const string = () => {
    STRING.lastIndex = at;
    const match = STRING.exec(text);
    if (!match) fail(`a malformed string at character ${at}`);
    at += match[0].length;
    return JSON.parse(match[0]);
  };
  const result = value(0);
  space();
  if (at !== text.length) fail(`extra data at character ${at}`);
  return result;
}

/**
 * The JSON value of `data`, which must be UTF-8, at most `maxSize` bytes and in
 * canonical form; every refusal is `new ErrorClass(message)`.
 */
export function parseCanonical(data, { maxSize, what, ErrorClass }) {
  const bytes = asBytes(data);
  if (bytes.length > maxSize) throw new ErrorClass(`the ${what} has ${bytes.length} bytes, more than the ${maxSize} allowed`);
  let text;
  try {
    text = fromUtf8(bytes);
  } catch {
    throw new ErrorClass(`the ${what} is not UTF-8`);
  }
  let value;
  try {
    value = parseStrictJson(text);
  } catch (exc) {
    if (exc instanceof Refused) throw new ErrorClass(`the ${what} is refused: ${exc.message}`);
    throw exc;
  }
  let canonical;
  try {
    canonical = utf8(canonicalize(value));
  } catch (exc) {
    throw new ErrorClass(`the ${what} cannot be canonicalized: ${exc.message}`);
  }
  if (!equalBytes(canonical, bytes)) {
    let i = 0;
    while (i < canonical.length && i < bytes.length && canonical[i] === bytes[i]) i++;
    throw new ErrorClass(`the ${what} is not in canonical form (RFC 8785): it differs from its canonical bytes at byte ${i}`);
  }
  return value;
}
