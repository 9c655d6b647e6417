// The plaintext of a sealed bid (docs/sealed-bid-format.md §3): a deterministic
// pax tar, the price summary (开标一览表) first, then the bid's files under bid/,
// sorted by the UTF-8 bytes of their paths. One content, one byte sequence: the
// browser writes exactly what the CLI writes.

import { asBytes, concat, fromUtf8, isWellFormed, utf8 } from "./bytes.js";
import { ContainerError, PriceSummaryError } from "./errors.js";
import { checkCreditCode, checkUuid } from "./identity.js";
import { canonicalBytes } from "./jcs.js";
import { BID_PREFIX, checkMemberPath } from "./paths.js";
import { RESPONSE_INDEX_PATH, checkIndexPaths, responseIndexBytes } from "./response-index.js";

export { BID_PREFIX, MAX_PATH_BYTES, checkMemberPath } from "./paths.js";

export const BLOCK = 512;
export const PRICE_SUMMARY_PATH = "etender/price-summary.json";
export const PRICE_SUMMARY_FORMAT = "etender-price-summary-v1";
export const MAX_PRICE_SUMMARY_SIZE = 1048576;
const PAX_HEADER_NAME = utf8("././@PaxHeader");
const USTAR_SIZE_LIMIT = 8 ** 11; // 11 octal digits; larger sizes live only in the pax record
const END = new Uint8Array(2 * BLOCK);

const PRICE = /^(0|[1-9][0-9]{0,15})\.[0-9]{2}$/;
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
const CONTROL_EXCEPT_NEWLINE = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/;

const codePoints = (text) => [...text].length;

// -- the price summary ---------------------------------------------------------------------------------

function checkText(value, what, maxLength, { allowNewline, allowEmpty }) {
  if (typeof value !== "string" || !isWellFormed(value)) throw new PriceSummaryError(`${what} must be a string`);
  if (!allowEmpty && value === "") throw new PriceSummaryError(`${what} must not be empty`);
  if (codePoints(value) > maxLength) throw new PriceSummaryError(`${what} has more than ${maxLength} characters`);
  if ((allowNewline ? CONTROL_EXCEPT_NEWLINE : CONTROL).test(value)) throw new PriceSummaryError(`${what} contains control characters`);
}

/** One lot's line: `{lot, price_yuan, schedule_days, declared}`, checked as §3.5 says. */
export function lotPrice({ lot, price_yuan, schedule_days, declared = {} }) {
  checkText(lot, "a lot id", 64, { allowNewline: false, allowEmpty: false });
  const where = `lot ${JSON.stringify(lot)}`;
  if (typeof price_yuan !== "string" || !PRICE.test(price_yuan)) {
    throw new PriceSummaryError(`${where}: the price must be a decimal string in yuan with exactly two decimals (e.g. '1234567.80')`);
  }
  if (!Number.isInteger(schedule_days) || schedule_days < 0 || schedule_days > 36500) {
    throw new PriceSummaryError(`${where}: schedule_days must be an integer from 0 to 36500`);
  }
  if (declared === null || typeof declared !== "object" || Array.isArray(declared) || Object.keys(declared).length > 50) {
    throw new PriceSummaryError(`${where}: declared fields are an object of at most 50 strings`);
  }
  const fields = {};
  for (const [key, value] of Object.entries(declared)) {
    checkText(key, `${where}: a declared field name`, 64, { allowNewline: false, allowEmpty: false });
    checkText(value, `${where}: declared field ${JSON.stringify(key)}`, 2000, { allowNewline: true, allowEmpty: true });
    fields[key] = value;
  }
  return { lot, price_yuan, schedule_days, declared: fields };
}

/** The price summary object of §3.5 for `identity` and `lots` (in the tender's order). */
export function priceSummary(identity, lots) {
  checkUuid(identity.tender, "tender");
  checkUuid(identity.bid, "bid");
  checkCreditCode(identity.bidder);
  if (!Array.isArray(lots) || lots.length < 1 || lots.length > 1000) throw new PriceSummaryError("a price summary has 1 to 1000 lots");
  const seen = new Set();
  const checked = lots.map((lot) => {
    const line = lotPrice(lot);
    if (seen.has(line.lot)) throw new PriceSummaryError(`lot ${JSON.stringify(line.lot)} appears twice`);
    seen.add(line.lot);
    return line;
  });
  return { format: PRICE_SUMMARY_FORMAT, tender: identity.tender, bid: identity.bid, bidder: identity.bidder, lots: checked };
}

export function priceSummaryBytes(summary) {
  return canonicalBytes(summary);
}

// -- tar headers -----------------------------------------------------------------------------------------

/** The container path of a file chosen by its name (or its path relative to a chosen folder). */
export function bidPath(relative) {
  return checkMemberPath(BID_PREFIX + relative.normalize("NFC"));
}

function ascii(text) {
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i);
  return out;
}

function octal(value, digits) {
  return value.toString(8).padStart(digits, "0");
}

function ustarBlock(name, sizeField, typeflag) {
  const block = new Uint8Array(BLOCK);
  block.set(name.subarray(0, 100), 0);
  block.set(ascii("0000644\0"), 100);
  block.set(ascii("0000000\0"), 108);
  block.set(ascii("0000000\0"), 116);
  block.set(ascii(`${octal(sizeField, 11)}\0`), 124);
  block.set(ascii("00000000000\0"), 136);
  block.set(ascii("        "), 148); // the checksum counts itself as spaces
  block.set(ascii(typeflag), 156);
  block.set(ascii("ustar\0"), 257);
  block.set(ascii("00"), 263);
  block.set(ascii("0000000\0"), 329);
  block.set(ascii("0000000\0"), 337);
  let sum = 0;
  for (const b of block) sum += b;
  block.set(ascii(`${octal(sum, 6)}\0 `), 148);
  return block;
}

/** "LEN key=value\n", LEN counting its own digits. */
function paxRecord(key, value) {
  const body = concat(ascii(` ${key}=`), value, ascii("\n"));
  let length = body.length + 1;
  while (String(length).length + body.length !== length) length = String(length).length + body.length;
  return concat(ascii(String(length)), body);
}

function padding(size) {
  return new Uint8Array((BLOCK - (size % BLOCK)) % BLOCK);
}

/** The ustar name field: the path with each non-ASCII character as '?', cut to 100 bytes. */
export function ustarName(path) {
  let out = "";
  for (const ch of path) out += ch.codePointAt(0) < 128 ? ch : "?";
  return ascii(out.slice(0, 100));
}

/** The pax extended header (path, size) and the ustar header in front of a member's data. */
export function memberHeader(path, size) {
  if (!Number.isSafeInteger(size) || size < 0) throw new ContainerError("a member size is a non-negative integer");
  const records = concat(paxRecord("path", utf8(path)), paxRecord("size", ascii(String(size))));
  return concat(
    ustarBlock(PAX_HEADER_NAME, records.length, "x"),
    records,
    padding(records.length),
    ustarBlock(ustarName(path), size < USTAR_SIZE_LIMIT ? size : 0, "0"),
  );
}

export function memberSize(path, size) {
  return memberHeader(path, size).length + size + padding(size).length;
}

// -- building ---------------------------------------------------------------------------------------------

function compareBytes(a, b) {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

/**
 * The files sorted as the container lists them (by the UTF-8 bytes of their
 * paths, not by UTF-16 code units), refusing two with the same path. A file is
 * `{path, data}` where data is a Blob/File or bytes.
 */
export function sortBidFiles(files) {
  const keyed = files.map((file) => {
    checkMemberPath(file.path);
    return { file, key: utf8(file.path) };
  });
  keyed.sort((x, y) => compareBytes(x.key, y.key));
  for (let i = 1; i < keyed.length; i++) {
    if (compareBytes(keyed[i - 1].key, keyed[i].key) === 0) {
      throw new ContainerError(`two files have the same name once normalized: ${JSON.stringify(keyed[i].file.path)}`);
    }
  }
  return keyed.map((k) => k.file);
}

function sizeOf(data) {
  return typeof Blob !== "undefined" && data instanceof Blob ? data.size : asBytes(data).length;
}

/**
 * The container as a list of pieces (bytes, or a Blob read later), with its
 * exact size known before any file is read (§3.7). `responseIndex` (the
 * object of response-index.js's `responseIndex`, or null) is the second
 * member (§3.8); it may point only to the bid's own files.
 */
export function containerPieces(summary, files, responseIndex = null) {
  if (!files.length) throw new ContainerError("a bid holds at least one file");
  const sorted = sortBidFiles(files);
  const summaryBytes = priceSummaryBytes(summary);
  if (summaryBytes.length > MAX_PRICE_SUMMARY_SIZE) throw new PriceSummaryError("the price summary is larger than 1 MiB");
  const pieces = [concat(memberHeader(PRICE_SUMMARY_PATH, summaryBytes.length), summaryBytes, padding(summaryBytes.length))];
  if (responseIndex) {
    checkIndexPaths(responseIndex, sorted.map((f) => f.path));
    const indexBytes = responseIndexBytes(responseIndex);
    pieces.push(concat(memberHeader(RESPONSE_INDEX_PATH, indexBytes.length), indexBytes, padding(indexBytes.length)));
  }
  for (const file of sorted) {
    const size = sizeOf(file.data);
    pieces.push(memberHeader(file.path, size));
    if (size) pieces.push(file.data);
    if (size % BLOCK) pieces.push(padding(size));
  }
  pieces.push(END);
  return pieces;
}

// Files are read from their Blobs in blocks of this size: fewer, larger reads are
// cheaper in a browser (each is a round trip to the process holding the file).
export const READ_BLOCK = 4 * 1048576;

const isBlob = (data) => typeof Blob !== "undefined" && data instanceof Blob;

/**
 * A readable source over pieces: `{size, read(offset, length)}`, what the
 * Encryptor reads segment by segment (a few concurrently, in increasing order).
 * Blobs are read with slice() in 4 MiB blocks as needed, and blocks behind the
 * reads are dropped, so a bid of any size never sits whole in memory.
 */
export class PiecesSource {
  constructor(pieces) {
    this.pieces = pieces.map((data) => ({ data, size: sizeOf(data) }));
    this.starts = [];
    let at = 0;
    for (const piece of this.pieces) {
      this.starts.push(at);
      at += piece.size;
    }
    this.size = at;
    this.blocks = new Map();
  }

  async read(offset, length) {
    let index = this.locate(offset);
    const within = offset - this.starts[index];
    if (within + length <= this.pieces[index].size) return this.readPiece(index, within, within + length); // the usual case
    const out = new Uint8Array(length);
    let filled = 0;
    while (filled < length && index < this.pieces.length) {
      const piece = this.pieces[index];
      const from = offset + filled - this.starts[index];
      const take = Math.min(piece.size - from, length - filled);
      if (take > 0) {
        out.set(await this.readPiece(index, from, from + take), filled);
        filled += take;
      }
      index++;
    }
    if (filled !== length) throw new ContainerError("read beyond the end of the container");
    return out;
  }

  /** Bytes [from, to) of piece `index`: a view when they lie in one block. */
  async readPiece(index, from, to) {
    const piece = this.pieces[index];
    if (!isBlob(piece.data)) return asBytes(piece.data).subarray(from, to);
    if (to === from) return new Uint8Array(0);
    const first = Math.floor(from / READ_BLOCK);
    const last = Math.floor((to - 1) / READ_BLOCK);
    if (first === last) return (await this.block(index, first)).subarray(from - first * READ_BLOCK, to - first * READ_BLOCK);
    const out = new Uint8Array(to - from);
    for (let b = first; b <= last; b++) {
      const block = await this.block(index, b);
      const blockStart = b * READ_BLOCK;
      const a = Math.max(from, blockStart);
      const z = Math.min(to, blockStart + block.length);
      out.set(block.subarray(a - blockStart, z - blockStart), a - from);
    }
    return out;
  }

  block(index, number) {
    const key = `${index}:${number}`;
    let pending = this.blocks.get(key);
    if (!pending) {
      for (const old of this.blocks.keys()) {
        const [i, b] = old.split(":").map(Number);
        if (i < index || (i === index && b < number - 1)) this.blocks.delete(old);
      }
      const piece = this.pieces[index];
      const from = number * READ_BLOCK;
      const to = Math.min(piece.size, from + READ_BLOCK);
      pending = piece.data
        .slice(from, to)
        .arrayBuffer()
        .then((buffer) => {
          if (buffer.byteLength !== to - from) throw new ContainerError("a file changed while it was being sealed");
          return new Uint8Array(buffer);
        });
      pending.catch(() => {});
      this.blocks.set(key, pending);
    }
    return pending;
  }

  locate(offset) {
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid] <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }
}

/** The whole container in memory (tests and tiny bids). */
export async function buildContainer(summary, files, responseIndex = null) {
  const source = new PiecesSource(containerPieces(summary, files, responseIndex));
  return source.read(0, source.size);
}

/** The price summary read back from a container's first member (tests: what the opening reads first). */
export function readPriceSummary(container) {
  const bytes = asBytes(container);
  const records = parseInt(fromUtf8(bytes.subarray(124, 135)), 8);
  const path = /path=([^\n]*)\n/.exec(fromUtf8(bytes.subarray(BLOCK, BLOCK + records)))[1];
  if (path !== PRICE_SUMMARY_PATH) throw new ContainerError("the first member is not the price summary");
  const dataAt = BLOCK + records + padding(records).length + BLOCK;
  const size = parseInt(/size=([0-9]+)\n/.exec(fromUtf8(bytes.subarray(BLOCK, BLOCK + records)))[1], 10);
  return JSON.parse(fromUtf8(bytes.subarray(dataAt, dataAt + size)));
}
