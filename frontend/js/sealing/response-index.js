// The bidder's response index (评审因素定位, docs/sealed-bid-format.md §3.8) and the
// required-materials check (一次性告知): tendering/sealing/response_index.py's
// counterpart. The index is the container's optional second member; the check
// runs on the bidder's machine and sends nothing.

import { utf8 } from "./bytes.js";
import { ContainerError, ResponseIndexError } from "./errors.js";
import { canonicalBytes } from "./jcs.js";
import { BID_PREFIX, checkMemberPath } from "./paths.js";

export const RESPONSE_INDEX_PATH = "etender/response-index.json";
export const RESPONSE_INDEX_FORMAT = "etender-response-index-v1";
export const MAX_RESPONSE_INDEX_SIZE = 1048576;
export const MAX_POINTERS = 2000;
export const MAX_PAGE = 100000;
const ITEM_ID = /^[A-Za-z0-9_-]{1,16}$/;

function compareBytes(a, b) {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

/** One pointer `{item, path, page}` checked: `path` relative to the bid folder (the container's `bid/` + path). */
export function pointer({ item, path, page }) {
  if (typeof item !== "string" || !ITEM_ID.test(item)) {
    throw new ResponseIndexError(`a pointer's item must be an id of 1 to 16 letters, digits, '-' or '_', got ${JSON.stringify(item)}`);
  }
  if (typeof path !== "string" || path === "") throw new ResponseIndexError(`the pointer of ${item} has no file path`);
  try {
    checkMemberPath(BID_PREFIX + path);
  } catch (exc) {
    if (exc instanceof ContainerError) throw new ResponseIndexError(`the pointer of ${item}: ${exc.message}`);
    throw exc;
  }
  if (!Number.isInteger(page) || page < 1 || page > MAX_PAGE) {
    throw new ResponseIndexError(`the pointer of ${item}: the page must be an integer from 1 to ${MAX_PAGE}`);
  }
  return { item, page, path };
}

/**
 * The index object of `pointers` (any order): sorted by item, then the UTF-8
 * bytes of the path, then page; 1 to 2,000 of them, none twice.
 */
export function responseIndex(pointers) {
  if (!Array.isArray(pointers) || pointers.length < 1 || pointers.length > MAX_POINTERS) {
    throw new ResponseIndexError(`a response index has 1 to ${MAX_POINTERS} pointers, not ${Array.isArray(pointers) ? pointers.length : 0}`);
  }
  const keyed = pointers.map((p) => {
    const checked = pointer(p);
    return { checked, item: utf8(checked.item), path: utf8(checked.path) };
  });
  keyed.sort((x, y) => compareBytes(x.item, y.item) || compareBytes(x.path, y.path) || x.checked.page - y.checked.page);
  for (let i = 1; i < keyed.length; i++) {
    const [a, b] = [keyed[i - 1].checked, keyed[i].checked];
    if (a.item === b.item && a.path === b.path && a.page === b.page) {
      throw new ResponseIndexError(`the pointer of ${b.item} to ${b.path} page ${b.page} appears twice`);
    }
  }
  return { format: RESPONSE_INDEX_FORMAT, pointers: keyed.map((k) => k.checked) };
}

export function responseIndexBytes(index) {
  const bytes = canonicalBytes(index);
  if (bytes.length > MAX_RESPONSE_INDEX_SIZE) {
    throw new ResponseIndexError(`the response index has ${bytes.length} bytes, more than ${MAX_RESPONSE_INDEX_SIZE}`);
  }
  return bytes;
}

/** Refuse a pointer to a file that is not one of the container's (`memberPaths`: `bid/…`). */
export function checkIndexPaths(index, memberPaths) {
  const present = new Set(memberPaths);
  const unknown = [...new Set(index.pointers.map((p) => BID_PREFIX + p.path))].filter((p) => !present.has(p)).sort();
  if (unknown.length) {
    throw new ResponseIndexError(
      `the response index points to ${unknown.length} file(s) not in the bid: ${unknown
        .slice(0, 5)
        .map((p) => `'${p.slice(BID_PREFIX.length)}'`)
        .join(", ")}`,
    );
  }
}

const objects = (value) => (Array.isArray(value) ? value.filter((v) => v && typeof v === "object" && !Array.isArray(v)) : []);

/** Every item a pointer may name, in the method's order: `{item, kind, title}` (criteria, qualification items, documents). */
export function methodItems(method) {
  if (!method || typeof method !== "object") return [];
  const items = [];
  for (const c of objects(method.criteria)) items.push({ item: String(c.id ?? ""), kind: String(c.kind ?? ""), title: String(c.title ?? "") });
  for (const q of objects(method.qualification)) {
    items.push({ item: String(q.id ?? ""), kind: "qualification", title: String(q.title ?? "") });
    for (const d of objects(q.documents)) items.push({ item: String(d.id ?? ""), kind: "document", title: String(d.name ?? "") });
  }
  return items.filter((i) => ITEM_ID.test(i.item));
}

/** The first of `files` (paths relative to the folder) whose name without extension contains `name`. */
export function namedFile(name, files) {
  const wanted = String(name).normalize("NFC").toLowerCase().trim();
  if (!wanted) return null;
  for (const path of files) {
    const base = path.split("/").pop();
    const dot = base.lastIndexOf(".");
    const stem = dot > 0 ? base.slice(0, dot) : base;
    if (stem.normalize("NFC").toLowerCase().includes(wanted)) return path;
  }
  return null;
}

/**
 * The `[qualification item, document]` pairs of `method` the bid does not
 * hold: neither pointed to by `index` at one of `folderFiles` (relative paths)
 * nor present as a file whose name contains the document's name.
 */
export function missingDocuments(method, folderFiles, index) {
  const files = folderFiles.map((f) => f.normalize("NFC"));
  const present = new Set(files);
  const pointed = new Set((index?.pointers ?? []).filter((p) => present.has(p.path)).map((p) => p.item));
  const missing = [];
  for (const q of objects(method?.qualification)) {
    for (const d of objects(q.documents)) {
      if (pointed.has(d.id)) continue;
      if (namedFile(d.name ?? "", files) === null) missing.push([q, d]);
    }
  }
  return missing;
}
