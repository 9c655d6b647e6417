// The path of a bid file in the container (docs/sealed-bid-format.md §3.1): one
// rule for the container's members and the response index's pointers
// (tendering/sealing/paths.py).

import { isWellFormed, utf8 } from "./bytes.js";
import { ContainerError } from "./errors.js";

export const BID_PREFIX = "bid/";
export const MAX_PATH_BYTES = 1024;
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/** `path` if it may name a bid file: `bid/` and a clean relative path, NFC, no control characters. */
export function checkMemberPath(path) {
  if (typeof path !== "string" || !isWellFormed(path)) throw new ContainerError("a member path is valid Unicode text");
  if (!path.startsWith(BID_PREFIX)) throw new ContainerError(`bid files live under 'bid/', not at ${JSON.stringify(path)}`);
  if (utf8(path).length > MAX_PATH_BYTES) throw new ContainerError(`the path ${JSON.stringify(path)} is longer than ${MAX_PATH_BYTES} bytes`);
  if (CONTROL.test(path) || path.includes("\\")) throw new ContainerError(`the path ${JSON.stringify(path)} contains control characters or a backslash`);
  if (path.normalize("NFC") !== path) throw new ContainerError(`the path ${JSON.stringify(path)} is not in Unicode normalization form C`);
  for (const part of path.split("/").slice(1)) {
    if (part === "" || part === "." || part === "..") throw new ContainerError(`the path ${JSON.stringify(path)} has an empty, '.' or '..' component`);
  }
  return path;
}

