// The hall page's reducer (frontend/js/lib/hall-reducer.js) against frames the Python consumer tests
// recorded over a whole opening (tests/opening/test_hall_consumer.py): for each participant, the old
// snapshot plus the events it heard must equal its fresh snapshot. HALL_FRAMES names the recording
// (the Python test passes the one it just made); without it, the checked-in tests/js/fixtures/hall-frames.json.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

import { EVENT_KINDS, applyEvent, applyEvents, fromSnapshot } from "../../frontend/js/lib/hall-reducer.js";

// Checked in: a whole opening, and one whose close fails the tender (tests/opening/test_failed_hall.py).
const paths = process.env.HALL_FRAMES
  ? [process.env.HALL_FRAMES]
  : ["./fixtures/hall-frames.json", "./fixtures/hall-failed-frames.json"].map((name) => new URL(name, import.meta.url));
const files = paths.map((path) => JSON.parse(readFileSync(path, "utf-8")));
const recordings = files.flatMap((file) => file.recordings);

test("the reducer knows every kind of event the server defines, and no other", () => {
  for (const { event_kinds: serverKinds } of files) assert.deepEqual([...EVENT_KINDS].sort(), serverKinds);
});

for (const { who, old, events, fresh } of recordings) {
  test(`an old snapshot plus its events gives the fresh snapshot (${who})`, () => {
    assert.ok(events.length > 0);
    assert.equal(events.at(-1).seq, fresh.seq);
    assert.deepEqual(applyEvents(fromSnapshot(old), events), fromSnapshot(fresh));
  });

  test(`an event heard twice (a resume overlapping the live stream) changes nothing (${who})`, () => {
    const once = applyEvents(fromSnapshot(old), events);
    assert.deepEqual(applyEvents(once, events), once);
  });

  test(`applying the events changes neither the old state nor the frames (${who})`, () => {
    const state = fromSnapshot(old);
    const before = structuredClone({ state, events });
    applyEvents(state, events);
    assert.deepEqual({ state, events }, before);
  });
}

test("an event of a kind this page does not know only moves the number on", () => {
  const { old } = recordings[0];
  const state = fromSnapshot(old);
  const next = applyEvent(state, { type: "event", seq: old.seq + 1, kind: "later.kind", at: "", data: { x: 1 } });
  assert.deepEqual(next, { ...state, seq: old.seq + 1 });
});
