// Byte helpers shared by the sealing modules: hex, base64 (RFC 4648 §4, padded,
// canonical), UTF-8, concatenation, XOR, constant-time comparison.

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

export function toHex(bytes) {
  const view = asBytes(bytes);
  let out = "";
  for (let i = 0; i < view.length; i++) out += HEX[view[i]];
  return out;
}

export function fromHex(text) {
  if (typeof text !== "string" || text.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(text)) {
    throw new TypeError("not a hex string");
  }
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(text.substr(i * 2, 2), 16);
  return out;
}

export function asBytes(data) {
  if (data instanceof Uint8Array) return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  throw new TypeError("bytes expected (Uint8Array, ArrayBuffer or a view)");
}

const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const B64_VALUE = new Map(Array.from(B64, (ch, i) => [ch, i]));

export function toBase64(bytes) {
  const view = asBytes(bytes);
  let out = "";
  let i = 0;
  for (; i + 2 < view.length; i += 3) {
    const n = (view[i] << 16) | (view[i + 1] << 8) | view[i + 2];
    out += B64[n >> 18] + B64[(n >> 12) & 63] + B64[(n >> 6) & 63] + B64[n & 63];
  }
  const rest = view.length - i;
  if (rest === 1) {
    const n = view[i] << 16;
    out += B64[n >> 18] + B64[(n >> 12) & 63] + "==";
  } else if (rest === 2) {
    const n = (view[i] << 16) | (view[i + 1] << 8);
    out += B64[n >> 18] + B64[(n >> 12) & 63] + B64[(n >> 6) & 63] + "=";
  }
  return out;
}

/** Strict base64: the alphabet of RFC 4648 §4, padding present, unused bits zero (one spelling per value). */
export function fromBase64(text) {
  if (typeof text !== "string" || text.length % 4 !== 0) throw new TypeError("not base64 (length)");
  const padding = text.endsWith("==") ? 2 : text.endsWith("=") ? 1 : 0;
  const out = new Uint8Array((text.length / 4) * 3 - padding);
  let o = 0;
  for (let i = 0; i < text.length; i += 4) {
    const last = i + 4 === text.length;
    const values = [];
    for (let j = 0; j < 4; j++) {
      const ch = text[i + j];
      if (ch === "=" && last && j >= 4 - padding) {
        values.push(0);
        continue;
      }
      const v = B64_VALUE.get(ch);
      if (v === undefined) throw new TypeError("not base64 (character)");
      values.push(v);
    }
    const n = (values[0] << 18) | (values[1] << 12) | (values[2] << 6) | values[3];
    const bytes = [(n >> 16) & 255, (n >> 8) & 255, n & 255];
    const keep = last ? 3 - padding : 3;
    if (last && padding && (n & (padding === 2 ? 0xffff : 0xff)) !== 0) {
      throw new TypeError("not canonical base64 (unused bits)");
    }
    for (let j = 0; j < keep; j++) out[o++] = bytes[j];
  }
  return out;
}

const encoder = new TextEncoder();
const strictDecoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

export function utf8(text) {
  return encoder.encode(text);
}

/** UTF-8 text of `bytes`; throws TypeError on invalid UTF-8 (no replacement characters). */
export function fromUtf8(bytes) {
  return strictDecoder.decode(asBytes(bytes));
}

export function isWellFormed(text) {
  // String.prototype.isWellFormed is in Node 20 and current browsers; the loop is for older engines.
  if (typeof text.isWellFormed === "function") return text.isWellFormed();
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) {
      const d = text.charCodeAt(i + 1);
      if (!(d >= 0xdc00 && d <= 0xdfff)) return false;
      i++;
    } else if (c >= 0xdc00 && c <= 0xdfff) {
      return false;
    }
  }
  return true;
}

export function concat(...parts) {
  const views = parts.map(asBytes);
  const out = new Uint8Array(views.reduce((n, v) => n + v.length, 0));
  let at = 0;
  for (const v of views) {
    out.set(v, at);
    at += v.length;
  }
  return out;
}

export function xor(values) {
  const out = new Uint8Array(values[0].length);
  for (const v of values) {
    if (v.length !== out.length) throw new RangeError("XOR of values of different lengths");
    for (let i = 0; i < out.length; i++) out[i] ^= v[i];
  }
  return out;
}

/** Compares two byte strings without stopping at the first difference. */
export function equalBytes(a, b) {
  const x = asBytes(a);
  const y = asBytes(b);
  if (x.length !== y.length) return false;
  let diff = 0;
  for (let i = 0; i < x.length; i++) diff |= x[i] ^ y[i];
  return diff === 0;
}

export function u32be(value) {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, value, false);
  return out;
}

export function randomBytes(size) {
  const out = new Uint8Array(size);
  // getRandomValues fills at most 65,536 bytes per call.
  for (let at = 0; at < size; at += 65536) crypto.getRandomValues(out.subarray(at, Math.min(size, at + 65536)));
  return out;
}

export async function sha256(data) {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", asBytes(data)));
}
