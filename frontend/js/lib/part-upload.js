// The bid page's upload loop: a sealed bid's parts sent a window at a time, as the
// CLI's Uploader sends them (tendering/client/upload.py, docs/architecture.md
// "Sealed bids"). The platform takes up to `part_window` parts past its confirmed
// prefix at once, in any order among them; so up to that many are in flight here,
// each the lowest part not yet confirmed. As in the CLI, one body is on the wire
// at a time: the next part starts once the one before it is sent whole, and its
// answer (the platform storing it) is awaited while the next one goes. Parts
// sharing a slow line would each take `part_window` times longer and could run
// out their time limit. Every part the platform says it has
// (`part_sha256` for the prefix, `confirmed_parts` past it) is checked against this
// browser's sealed file and not sent again. A broken connection, a platform fault
// (5xx, a store outage's 503 with Retry-After), a throttle (429) and a part the
// platform is still receiving (409 `part_in_progress`, e.g. after a request that
// timed out here) are retried with backoff a bounded number of times, asking the
// platform first which parts arrived after all.
//
// Pure: no DOM, no fetch of its own. The page passes what reads its file and talks
// to the platform (`io`), so node tests drive it with a fake platform
// (tests/js/part-upload.test.mjs).

import { ApiError, NetworkError } from "./api.js";

export const MAX_RETRIES = 5;
/** The longest pause between two attempts at a part, in seconds. */
export const MAX_DELAY = 30;

/** A part failed `MAX_RETRIES + 1` times: the upload stops, to be resumed later. */
export class UploadInterrupted extends Error {
  constructor(number, cause) {
    super(`part ${number} failed ${MAX_RETRIES + 1} times`);
    this.number = number;
    this.cause = cause;
  }
}

/** The platform has (or stored) part `number` with bytes other than this browser's. */
export class PartMismatch extends Error {
  constructor(number) {
    super(`part ${number} differs from the local sealed file`);
    this.number = number;
  }
}

// Conflicts that the platform's state settles: still being received, already there (an answer lost), or past
// the window as the platform counts it.
const SETTLED_BY_STATUS = new Set(["part_in_progress", "part_duplicated", "part_out_of_order"]);

/** Whether trying part again later may succeed. */
export function isTransient(exc) {
  if (exc instanceof NetworkError) return true;
  if (!(exc instanceof ApiError)) return false;
  return exc.status >= 500 || exc.status === 429 || SETTLED_BY_STATUS.has(exc.code);
}

/** Seconds to wait before attempt `attempt + 1`: doubling from 1, at least the answer's Retry-After, at most MAX_DELAY. */
export function retryDelay(attempt, exc = null) {
  const backoff = 2 ** (attempt - 1);
  const asked = Number.isFinite(exc?.retryAfter) ? exc.retryAfter : 0;
  return Math.min(MAX_DELAY, Math.max(backoff, asked));
}

/** How many parts may be in flight: the platform's window; one (strictly in order) if it names none. */
export function partWindow(status) {
  const window = status.part_window;
  return Number.isInteger(window) && window >= 1 ? window : 1;
}

/** Every part the platform has confirmed, number → SHA-256: its prefix and those past it. */
export function confirmedOf(status) {
  const confirmed = new Map();
  (status.part_sha256 ?? []).slice(0, status.received_parts).forEach((sha, index) => confirmed.set(index + 1, sha));
  for (const part of status.confirmed_parts ?? []) {
    if (Number.isInteger(part?.number) && typeof part.sha256 === "string") confirmed.set(part.number, part.sha256);
  }
  return confirmed;
}

/**
 * Sends what the platform still lacks of an upload whose status is `status`.
 *
 * `io`:
 * - `digest(n)`: the SHA-256 (hex) of this browser's part n;
 * - `put(n, {onLoaded, onSent, signal})`: PUT part n, calling `onLoaded(bytes)` as it goes and `onSent()`
 *   once its body is out, abandoning it when `signal` aborts; resolves to the platform's
 *   `{number, size, sha256}`, rejects with ApiError or NetworkError;
 * - `status()`: the upload's status as the platform has it now;
 * - `sleep(ms)`;
 * - `say(event)`: `{type: "checking", n, total}`, `{type: "uploading", n, total, inFlight}`,
 *   `{type: "retrying", n, seconds, attempt, max, error}`;
 * - `progress(bytes)`: bytes confirmed or on their way.
 *
 * Resolves to `{sent, skipped}` (part numbers sent by this call; parts the platform had already); rejects
 * with PartMismatch, UploadInterrupted or the platform's refusal. On a failure no new part starts, the
 * requests in flight are abandoned (a part the platform had stored by then is found by the next resume)
 * and the pauses cut short; the refusal comes out once they have all ended.
 */
export async function sendParts(status, io, { maxRetries = MAX_RETRIES } = {}) {
  const { part_size: partSize, expected_parts: total, size } = status;
  const length = (n) => Math.min(partSize, size - (n - 1) * partSize);
  const window = partWindow(status);
  const done = new Set();
  const sent = [];
  const digests = new Map();
  const loading = new Map(); // part in flight → bytes sent of it
  const inflight = new Map(); // part in flight → its task
  let failure = null;
  const stop = new AbortController(); // aborted on the first failure
  const stopped = new Promise((resolve) => stop.signal.addEventListener("abort", resolve, { once: true }));
  const fail = (exc) => {
    failure ??= exc;
    stop.abort();
  };
  let wire = Promise.resolve(); // settles when the body on its way now is out

  /** Waits for the wire, FIFO; resolves to the function that frees it (safe to call twice). */
  const takeWire = () => {
    let free;
    const before = wire;
    wire = new Promise((resolve) => {
      free = resolve;
    });
    return before.then(() => free);
  };
  const digestOf = (n) => {
    if (!digests.has(n)) digests.set(n, io.digest(n));
    return digests.get(n);
  };
  const prefix = () => {
    let n = 0;
    while (done.has(n + 1)) n++;
    return n;
  };
  const shown = () => {
    let bytes = 0;
    for (const n of done) bytes += length(n);
    for (const loaded of loading.values()) bytes += loaded;
    io.progress(Math.min(size, bytes));
  };

  /** Takes every part the platform confirmed, each checked against this browser's first. */
  async function adopt(platform, { announce = false } = {}) {
    const confirmed = [...confirmedOf(platform)].filter(([n]) => n >= 1 && n <= total && !done.has(n));
    for (const [index, [n, sha]] of confirmed.entries()) {
      if (announce) io.say({ type: "checking", n: index + 1, total: confirmed.length });
      if ((await digestOf(n)) !== sha) throw new PartMismatch(n);
      done.add(n);
    }
  }

  async function sendOne(n) {
    const local = await digestOf(n);
    for (let attempt = 1; ; attempt++) {
      if (failure) return;
      io.say({ type: "uploading", n: prefix() + 1, total, inFlight: [...inflight.keys()].sort((a, b) => a - b) });
      const free = await takeWire();
      if (failure) {
        free();
        return;
      }
      try {
        let part;
        try {
          part = await io.put(n, {
            onLoaded: (loaded) => {
              loading.set(n, loaded);
              shown();
            },
            onSent: free,
            signal: stop.signal,
          });
        } finally {
          free(); // an answer before the body was out (a refusal) frees the wire too
        }
        loading.delete(n);
        if (part?.sha256 !== local) throw new PartMismatch(n);
        done.add(n);
        sent.push(n);
        shown();
        return;
      } catch (exc) {
        loading.delete(n);
        shown();
        if (failure) return; // abandoned: another part's failure is the one that counts
        if (done.has(n)) return; // a status read meanwhile found it confirmed (its answer was lost)
        if (!isTransient(exc)) throw exc;
        if (attempt > maxRetries) throw new UploadInterrupted(n, exc);
        const seconds = retryDelay(attempt, exc);
        io.say({ type: "retrying", n, seconds, attempt, max: maxRetries, error: exc });
        await Promise.race([io.sleep(seconds * 1000), stopped]);
        if (failure) return;
        try {
          // The part may have arrived although its answer did not, or may be arriving still.
          await adopt(await io.status());
        } catch (inner) {
          if (!(inner instanceof NetworkError)) throw inner;
        }
        if (done.has(n)) return;
      }
    }
  }

  /** The lowest part not confirmed and not in flight that the platform's window admits now, or null. */
  const next = () => {
    const first = prefix() + 1;
    for (let n = first; n <= Math.min(total, first - 1 + window); n++) if (!done.has(n) && !inflight.has(n)) return n;
    return null;
  };

  await adopt(status, { announce: true });
  const skipped = [...done].sort((a, b) => a - b);
  shown();
  while (!failure && done.size < total) {
    for (let n = next(); !failure && n !== null && inflight.size < window; n = next()) {
      const part = n;
      inflight.set(
        part,
        sendOne(part)
          .catch(fail)
          .finally(() => inflight.delete(part)),
      );
    }
    if (!inflight.size) break;
    await Promise.race(inflight.values());
  }
  await Promise.allSettled([...inflight.values()]);
  if (failure) throw failure;
  if (done.size < total) throw new Error(`parts ${prefix() + 1}… were not sent`); // unreachable: the window admits prefix + 1
  return { sent, skipped };
}
