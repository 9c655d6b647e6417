// The bid page's upload loop (frontend/js/lib/part-upload.js, the module the page
// bundles) against a fake platform that keeps the rules of tendering/services/bids.py:
// parts past the confirmed prefix taken up to `part_window` at once and in any order,
// a part being received answers 409 part_in_progress, one past the window 409
// part_out_of_order, one already there 409 part_duplicated, a store outage 503 with
// Retry-After. A part's body takes two turns of the event loop on the wire, then the
// platform takes a few more to store it before it answers. Sleeps are recorded, not waited.

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { test } from "node:test";

import { ApiError, NetworkError } from "../../frontend/js/lib/api.js";
import {
  MAX_RETRIES,
  PartMismatch,
  UploadInterrupted,
  isTransient,
  retryDelay,
  sendParts,
} from "../../frontend/js/lib/part-upload.js";

const PART = 1000;
const sha = (bytes) => createHash("sha256").update(bytes).digest("hex");
const tick = () => new Promise((resolve) => setImmediate(resolve));

function sealedFile(parts, last = PART) {
  const bytes = Buffer.alloc(PART * (parts - 1) + last);
  for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7 + (i >> 8)) & 0xff;
  return bytes;
}

class FakePlatform {
  constructor(file, { window = 4, ticks = (n) => 12 - (n % 4) * 3 } = {}) {
    this.file = file;
    this.window = window;
    this.ticks = ticks; // how long part n takes to be stored: later parts of a window finish first
    this.onWire = 0; // bodies on their way now
    this.mostOnWire = 0;
    this.expected = Math.ceil(file.length / PART);
    this.parts = new Map(); // number → {sha256} once confirmed, {receiving: true} while being received
    this.puts = [];
    this.refusals = [];
    this.stored = [];
    this.inFlight = 0;
    this.mostInFlight = 0;
    this.statusReads = 0;
    this.hook = null; // (number, attempt) → an action for this request, or undefined
    this.abandoned = [];
  }

  slice(n) {
    return this.file.subarray((n - 1) * PART, Math.min(this.file.length, n * PART));
  }

  received() {
    let n = 0;
    while (this.parts.get(n + 1)?.sha256) n++;
    return n;
  }

  status() {
    const received = this.received();
    const confirmed = [...this.parts].filter(([, p]) => p.sha256).sort(([a], [b]) => a - b);
    return {
      state: "open",
      size: this.file.length,
      part_size: PART,
      expected_parts: this.expected,
      received_parts: received,
      part_sha256: confirmed.slice(0, received).map(([, p]) => p.sha256),
      ...(this.window === null ? {} : { part_window: this.window }),
      confirmed_parts: confirmed.map(([number, p]) => ({ number, size: this.slice(number).length, sha256: p.sha256 })),
    };
  }

  refuse(number, status, code) {
    this.refusals.push({ number, code });
    throw new ApiError(status, { code, message: code });
  }

  confirm(number, bytes) {
    this.parts.set(number, { sha256: sha(bytes) });
    this.stored.push(number);
  }

  io(overrides = {}) {
    const sleeps = [];
    const notes = [];
    const progress = [];
    const io = {
      digest: async (n) => sha(this.slice(n)),
      put: (n, callbacks) => this.put(n, callbacks),
      status: async () => {
        this.statusReads++;
        return this.status();
      },
      sleep: async (ms) => {
        sleeps.push(ms);
        await tick();
      },
      say: (event) => notes.push(event),
      progress: (bytes) => progress.push(bytes),
      ...overrides,
    };
    return { io, sleeps, notes, progress };
  }

  async put(number, { onLoaded, onSent, signal }) {
    const attempt = this.puts.filter((n) => n === number).length + 1;
    this.puts.push(number);
    const action = this.hook?.(number, attempt);
    if (action === "network") throw new NetworkError("connection reset");
    if (action === "outage") this.refuse(number, 503, "store_unavailable");
    const received = this.received();
    if (number <= received || this.parts.get(number)?.sha256) this.refuse(number, 409, "part_duplicated");
    if (number > Math.min(this.expected, received + (this.window ?? 1))) this.refuse(number, 409, "part_out_of_order");
    if (this.parts.get(number)?.receiving) this.refuse(number, 409, "part_in_progress");
    this.parts.set(number, { receiving: true });
    this.inFlight++;
    this.mostInFlight = Math.max(this.mostInFlight, this.inFlight);
    try {
      const bytes = action === "tamper" ? Buffer.from(this.slice(number)).fill(0) : this.slice(number);
      this.onWire++;
      this.mostOnWire = Math.max(this.mostOnWire, this.onWire);
      for (const half of [1, 2]) {
        await tick();
        onLoaded(Math.round((bytes.length * half) / 2));
      }
      this.onWire--;
      onSent();
      for (let i = 0; i < this.ticks(number); i++) {
        await tick();
        if (signal?.aborted) {
          // The browser abandoned the request: the platform gets a short body and frees the number.
          this.parts.delete(number);
          this.abandoned.push(number);
          throw new NetworkError("aborted");
        }
      }
      if (action === "refuse-late") this.refuse(number, 409, "deadline_passed");
      this.confirm(number, bytes);
      if (action === "lose-answer") throw new NetworkError("timeout");
      return { number, size: bytes.length, sha256: sha(bytes) };
    } finally {
      this.inFlight--;
    }
  }
}

test("the parts go up to part_window at a time, in any order within it, each once, never past the window", async () => {
  const platform = new FakePlatform(sealedFile(10, 321));
  const { io, progress } = platform.io();
  const result = await sendParts(platform.status(), io);
  assert.equal(platform.mostInFlight, 4);
  assert.equal(platform.mostOnWire, 1); // one body at a time: the others wait for their answers
  assert.deepEqual([...platform.puts].sort((a, b) => a - b), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  assert.deepEqual(platform.refusals, []);
  assert.notDeepEqual(platform.stored, [...platform.stored].sort((a, b) => a - b)); // stored out of order
  assert.equal(platform.received(), 10);
  assert.deepEqual(result.skipped, []);
  assert.deepEqual([...result.sent].sort((a, b) => a - b), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  assert.equal(progress.at(-1), platform.file.length);
});

test("a platform that names no window gets one part at a time, in order", async () => {
  const platform = new FakePlatform(sealedFile(5), { window: null });
  const { io } = platform.io();
  await sendParts(platform.status(), io);
  assert.equal(platform.mostInFlight, 1);
  assert.deepEqual(platform.puts, [1, 2, 3, 4, 5]);
  assert.deepEqual(platform.refusals, []);
});

test("a part still being received is retried after a pause, and is not sent again once the status confirms it", async () => {
  const platform = new FakePlatform(sealedFile(6));
  // An earlier request (one that timed out in this browser) is still delivering part 3.
  platform.parts.set(3, { receiving: true });
  const { io, sleeps, notes } = platform.io({
    sleep: async (ms) => {
      sleeps.push(ms);
      platform.confirm(3, platform.slice(3)); // meanwhile the earlier request completes
      await tick();
    },
  });
  await sendParts(platform.status(), io);
  assert.deepEqual(platform.refusals, [{ number: 3, code: "part_in_progress" }]);
  assert.equal(platform.puts.filter((n) => n === 3).length, 1);
  assert.deepEqual(sleeps, [1000]);
  assert.ok(platform.statusReads >= 1);
  const retry = notes.find((note) => note.type === "retrying");
  assert.equal(retry.n, 3);
  assert.equal(retry.error.code, "part_in_progress");
  assert.equal(platform.received(), 6);
});

test("a part whose earlier request died is sent again once its reservation is freed, with growing pauses", async () => {
  const platform = new FakePlatform(sealedFile(3));
  platform.parts.set(2, { receiving: true });
  let pauses = 0;
  const { io, sleeps } = platform.io({
    sleep: async (ms) => {
      sleeps.push(ms);
      if (++pauses === 2) platform.parts.delete(2); // the platform frees the dead request's reservation
      await tick();
    },
  });
  await sendParts(platform.status(), io);
  assert.deepEqual(
    platform.refusals.map((r) => r.code),
    ["part_in_progress", "part_in_progress"],
  );
  assert.deepEqual(sleeps, [1000, 2000]);
  assert.equal(platform.puts.filter((n) => n === 2).length, 3);
  assert.equal(platform.received(), 3);
});

test("resuming, the parts the platform confirmed past its prefix are checked and not sent again", async () => {
  const platform = new FakePlatform(sealedFile(8));
  for (const n of [1, 2, 4, 6]) platform.confirm(n, platform.slice(n));
  platform.puts = [];
  const { io, notes } = platform.io();
  const before = platform.status();
  assert.equal(before.received_parts, 2);
  const result = await sendParts(before, io);
  assert.deepEqual(result.skipped, [1, 2, 4, 6]);
  assert.deepEqual([...platform.puts].sort((a, b) => a - b), [3, 5, 7, 8]);
  assert.deepEqual(platform.refusals, []);
  assert.equal(notes.filter((note) => note.type === "checking").length, 4);
  assert.equal(platform.received(), 8);
});

test("a confirmed part that is not this browser's stops the upload before anything is sent", async () => {
  const platform = new FakePlatform(sealedFile(4));
  platform.confirm(1, platform.slice(1));
  platform.confirm(3, Buffer.alloc(PART)); // past the prefix, other bytes
  platform.puts = [];
  const { io } = platform.io();
  await assert.rejects(sendParts(platform.status(), io), (exc) => exc instanceof PartMismatch && exc.number === 3);
  assert.deepEqual(platform.puts, []);
  assert.equal(platform.received(), 1);
});

test("a part stored with other bytes than sent stops the upload and starts no further part", async () => {
  const platform = new FakePlatform(sealedFile(9));
  platform.hook = (number) => (number === 2 ? "tamper" : undefined);
  const { io } = platform.io();
  await assert.rejects(sendParts(platform.status(), io), (exc) => exc instanceof PartMismatch && exc.number === 2);
  assert.ok(!platform.puts.includes(9), platform.puts);
  assert.equal(platform.inFlight, 0); // the parts in flight were let finish before the refusal came out
});

test("an answer lost on the way is found in the status, and the part is not sent again", async () => {
  const platform = new FakePlatform(sealedFile(5));
  platform.hook = (number, attempt) => (number === 4 && attempt === 1 ? "lose-answer" : undefined);
  const { io, sleeps } = platform.io();
  await sendParts(platform.status(), io);
  assert.equal(platform.puts.filter((n) => n === 4).length, 1);
  assert.deepEqual(sleeps, [1000]);
  assert.equal(platform.received(), 5);
});

test("a store outage's 503 is waited out for its Retry-After, then the same part is sent again", async () => {
  const platform = new FakePlatform(sealedFile(2));
  platform.hook = (number, attempt) => (number === 2 && attempt === 1 ? "outage" : undefined);
  const original = platform.refuse.bind(platform);
  platform.refuse = (number, status, code) => {
    if (status !== 503) return original(number, status, code);
    platform.refusals.push({ number, code });
    throw new ApiError(503, { code, message: code }, 30);
  };
  const { io, sleeps } = platform.io();
  await sendParts(platform.status(), io);
  assert.deepEqual(sleeps, [30000]);
  assert.equal(platform.puts.filter((n) => n === 2).length, 2);
  assert.equal(platform.received(), 2);
});

test("a part that keeps failing ends in UploadInterrupted after the retries, naming it, and the rest stays resumable", async () => {
  const platform = new FakePlatform(sealedFile(3));
  platform.hook = (number) => (number === 2 ? "network" : undefined);
  const { io, sleeps } = platform.io();
  await assert.rejects(sendParts(platform.status(), io), (exc) => exc instanceof UploadInterrupted && exc.number === 2);
  assert.equal(platform.puts.filter((n) => n === 2).length, MAX_RETRIES + 1);
  assert.deepEqual(sleeps, [1000, 2000, 4000, 8000, 16000]);
  // Resuming sends only what the platform lacks (part 1, still being stored when part 2 gave up, was abandoned).
  const missing = [1, 2, 3].filter((n) => !platform.parts.get(n)?.sha256);
  assert.deepEqual(missing, [1, 2]);
  assert.deepEqual(platform.abandoned, [1]);
  platform.hook = null;
  platform.puts = [];
  await sendParts(platform.status(), platform.io().io);
  assert.deepEqual([...platform.puts].sort((a, b) => a - b), missing);
  assert.equal(platform.received(), 3);
});

test("a refusal that waiting cannot cure is not retried and changes nothing more", async () => {
  const platform = new FakePlatform(sealedFile(6));
  platform.hook = (number) => {
    if (number === 1) throw new ApiError(409, { code: "deadline_passed", message: "deadline passed" });
  };
  const { io, sleeps } = platform.io();
  await assert.rejects(sendParts(platform.status(), io), (exc) => exc instanceof ApiError && exc.code === "deadline_passed");
  assert.deepEqual(sleeps, []);
  assert.equal(platform.puts.filter((n) => n === 1).length, 1);
  assert.ok(!platform.puts.includes(5), platform.puts); // no part started after the refusal
});

test("on a refusal the requests in flight are abandoned and the pauses cut short", async () => {
  // Part 1 is stored slowly and then refused (the deadline passed meanwhile); part 2's first attempt broke.
  const platform = new FakePlatform(sealedFile(4), { ticks: (n) => (n === 1 ? 40 : n === 3 ? 400 : 2) });
  platform.hook = (number, attempt) => {
    if (number === 1) return "refuse-late";
    if (number === 2 && attempt === 1) return "network";
  };
  let sleeping = 0;
  const { io } = platform.io({
    sleep: async () => {
      sleeping++;
      for (let i = 0; i < 1000; i++) await tick(); // far longer than anything else here
      sleeping--;
    },
  });
  await assert.rejects(sendParts(platform.status(), io), (exc) => exc instanceof ApiError && exc.code === "deadline_passed");
  assert.equal(sleeping, 1); // the refusal came out while part 2's pause was still running
  assert.deepEqual(platform.abandoned, [3]); // part 3, being stored, was abandoned, not waited for
  assert.equal(platform.puts.filter((n) => n === 2).length, 1); // and part 2 was not tried again
  assert.equal(platform.received(), 0);
});

test("which failures are retried, and how long the pauses are", () => {
  assert.equal(isTransient(new NetworkError("x")), true);
  for (const code of ["part_in_progress", "part_duplicated", "part_out_of_order"]) {
    assert.equal(isTransient(new ApiError(409, { code })), true, code);
  }
  assert.equal(isTransient(new ApiError(503, { code: "store_unavailable" })), true);
  assert.equal(isTransient(new ApiError(429, { code: "throttled" })), true);
  for (const code of ["upload_closed", "deadline_passed"]) assert.equal(isTransient(new ApiError(409, { code })), false);
  assert.equal(isTransient(new ApiError(422, { code: "invalid_input" })), false);
  assert.equal(isTransient(new Error("other")), false);
  assert.deepEqual([1, 2, 3, 4, 5, 6, 7].map((a) => retryDelay(a)), [1, 2, 4, 8, 16, 30, 30]);
  assert.equal(retryDelay(1, new ApiError(503, {}, 30)), 30);
  assert.equal(retryDelay(1, new ApiError(503, {}, 600)), 30);
});
