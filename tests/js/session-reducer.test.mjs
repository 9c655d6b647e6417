// The session page's reducer (frontend/js/lib/session-reducer.js) on hand-made frames of the shapes
// evaluation/session_protocol.py defines: an old snapshot plus the events a member heard gives the fresh
// snapshot, an event heard twice changes nothing, and the inputs are never changed.

import assert from "node:assert/strict";
import { test } from "node:test";

import {
  EVENT_KINDS,
  applyEvent,
  applyEvents,
  folderPath,
  fromSnapshot,
  isChair,
  mayAct,
  missingEntries,
  myOpenDeviations,
  needsSnapshot,
} from "../../frontend/js/lib/session-reducer.js";

const BID_A = "11111111-1111-4111-8111-111111111111";
const BID_B = "22222222-2222-4222-8222-222222222222";
const method = {
  format: "etender-method-v1",
  qualification: [{ id: "Q1", title: "营业执照及资质", documents: [{ id: "D1", name: "营业执照" }] }],
  criteria: [{ id: "T1", title: "施工组织设计", kind: "technical", weight: "50.00", min_score: "0.00", max_score: "10.00" }],
  price: { rule: "lowest_ratio", weight: "50.00" },
  anonymous_technical: false,
  deviation_threshold_percent: "30.00",
};
const memberRow = (id, extra = {}) => ({
  id,
  name: `专家${id}`,
  specialty: "土木工程",
  venue: "",
  location: "",
  signed_in: false,
  online: false,
  state: "confirmed",
  declared: false,
  sheets: { qualification: false, scoring: false },
  ...extra,
});
const bid = (id, position) => ({
  id,
  position,
  code: position === 1 ? "B" : "A",
  bidder: `投标单位${position}`,
  price: "5980000.00",
  files: [{ path: "bid/技术标.pdf", size: 6200 }],
  response_index: null,
});
const mark = (member, sheet, bidId, item, extra) => ({
  member,
  sheet,
  bid: bidId,
  item,
  passed: null,
  score: null,
  reason: "",
  evidence: null,
  updated_at: "2026-03-02T01:30:00+00:00",
  ...extra,
});

const old = {
  type: "snapshot",
  ref: "c1",
  seq: 10,
  evaluation: { tender: "t", number: "RJ-1", title: "道路", stage: "qualification", stage_label: "资格审查", chair: null, method, anonymous: false, technical_locked_at: null },
  bids: [bid(BID_A, 1), bid(BID_B, 2)],
  members: [memberRow(1), memberRow(2), memberRow(3)],
  you: { member: 1, role: "expert", marks: [] },
  revealed: [],
  deviations: [],
  clarifications: [],
  messages: [],
  results: {},
  report: null,
};

const frame = (seq, kind, data) => ({ type: "event", seq, kind, at: `2026-03-02T01:${String(seq).padStart(2, "0")}:00+00:00`, data });
const q1 = mark(1, "qualification", BID_A, "Q1", { passed: true, reason: "齐全" });
const q1b = mark(1, "qualification", BID_B, "Q1", { passed: false, reason: "缺营业执照" });
const q2 = mark(2, "qualification", BID_A, "Q1", { passed: true });
const deviation = { id: 7, member: 1, bid: BID_A, item: "T1", score: "2.00", mean: "6.00", percent: "66.67", explanation: "", explained_at: null, revised_at: null };
const clarification = { id: 3, bid: BID_B, question: "请说明工期", asked_by: 2, asked_at: "2026-03-02T01:20:00+00:00", reply_deadline: "2026-03-02T03:00:00+00:00", answer: "", answered_at: null };
const message = { id: 5, author: 9, name: "专家2", text: "开始资格审查", created_at: "2026-03-02T01:21:00+00:00" };

const events = [
  frame(11, "member.signed_in", { member: 2, venue: "sub", location: "赣州市评标分中心", signed_in_at: "2026-03-02T01:11:00+00:00" }),
  frame(12, "member.presence", { member: 2, online: true }),
  frame(13, "member.declared", { member: 2, conflicts: 0 }),
  frame(14, "chair.vote", { member: 2, votes: 1 }),
  frame(15, "chair.elected", { member: 2, votes: { 2: 3 } }),
  frame(16, "sheet.saved", q1),
  frame(17, "sheet.saved", { ...q1, reason: "资质齐全" }), // the same entry saved again (another tab)
  frame(18, "sheet.saved", q1b),
  frame(19, "message.posted", message),
  frame(20, "clarification.asked", clarification),
  frame(21, "clarification.answered", { ...clarification, answer: "工期 180 日历天", answered_at: "2026-03-02T01:40:00+00:00" }),
  frame(22, "sheet.submitted", { member: 1, sheet: "qualification" }),
  frame(23, "scores.revealed", { sheet: "qualification", marks: [{ ...q1, reason: "资质齐全" }, q1b, q2] }),
  frame(24, "deviation.flagged", deviation),
  frame(25, "score.revised", { ...deviation, score: "5.00", revised_at: "2026-03-02T01:45:00+00:00", old_score: "2.00", reason: "复核" }),
  frame(26, "member.recused", { member: 3 }),
  frame(27, "report.ready", { sha256: "ab".repeat(32) }),
  frame(28, "report.signed", { member: 1 }),
  frame(29, "later.kind", { anything: 1 }),
];

const fresh = {
  ...structuredClone(old),
  ref: "c2",
  seq: 29,
  evaluation: { ...old.evaluation, chair: 2 },
  members: [
    memberRow(1, { sheets: { qualification: true, scoring: false } }),
    memberRow(2, { venue: "sub", location: "赣州市评标分中心", signed_in: true, online: true, declared: true }),
    memberRow(3, { state: "recused" }),
  ],
  you: { member: 1, role: "expert", marks: [{ ...q1, reason: "资质齐全" }, q1b] },
  revealed: [{ ...q1, reason: "资质齐全" }, q1b, q2],
  deviations: [{ ...deviation, score: "5.00", revised_at: "2026-03-02T01:45:00+00:00" }],
  clarifications: [{ ...clarification, answer: "工期 180 日历天", answered_at: "2026-03-02T01:40:00+00:00" }],
  messages: [message],
  report: { sha256: "ab".repeat(32), signed_at: null },
};

const withoutHeard = ({ heard: _heard, ...state }) => state;

test("an old snapshot plus the events a member heard gives the fresh snapshot", () => {
  assert.deepEqual(withoutHeard(applyEvents(fromSnapshot(old), events)), withoutHeard(fromSnapshot(fresh)));
});

test("what only events tell is kept beside the snapshot's state, and across a fresh snapshot", () => {
  const state = applyEvents(fromSnapshot(old), events);
  assert.deepEqual(state.heard.votes, { 2: true });
  assert.deepEqual(state.heard.report, { 1: { decision: "signed" } });
  assert.deepEqual(fromSnapshot(fresh, state).heard, state.heard);
});

test("an event heard twice (a resume overlapping the live stream) changes nothing", () => {
  const once = applyEvents(fromSnapshot(old), events);
  assert.deepEqual(applyEvents(once, events), once);
});

test("applying the events changes neither the old state nor the frames", () => {
  const state = fromSnapshot(old);
  const before = structuredClone({ state, events });
  applyEvents(state, events);
  assert.deepEqual({ state, events }, before);
});

test("an event of a kind this page does not know only moves the number on", () => {
  const state = fromSnapshot(old);
  assert.deepEqual(applyEvent(state, frame(11, "later.kind", {})), { ...state, seq: 11 });
});

test("a stage's opening or closing, a replacement and the filing ask for a fresh snapshot", () => {
  assert.ok(needsSnapshot(frame(30, "stage.opened", { stage: "scoring" })));
  assert.ok(needsSnapshot(frame(30, "stage.closed", { stage: "qualification", result: {} })));
  assert.ok(needsSnapshot(frame(30, "member.replaced", { member: 3, replacement: 4 })));
  assert.ok(!needsSnapshot(frame(30, "sheet.saved", q1)));
});

test("the reducer knows the session's event kinds", () => {
  for (const kind of ["member.signed_in", "sheet.saved", "scores.revealed", "deviation.flagged", "score.revised", "stage.closed", "report.filed", "tender.failed"]) {
    assert.ok(EVENT_KINDS.includes(kind), kind);
  }
});

test("the page reads the missing entries, the open deviations and who may act off the state", () => {
  const state = applyEvents(fromSnapshot(old), events.slice(0, 6));
  assert.deepEqual(missingEntries(state, "qualification"), [{ bid: BID_B, item: "Q1" }]);
  assert.deepEqual(missingEntries(state, "scoring"), [{ bid: BID_A, item: "T1" }, { bid: BID_B, item: "T1" }]);
  assert.ok(mayAct(state) && !isChair(state));
  const flagged = applyEvent(state, frame(30, "deviation.flagged", deviation));
  assert.deepEqual(myOpenDeviations(flagged).map((d) => d.id), [7]);
  const supervisor = { ...state, you: { member: null, role: "supervisor", marks: [] } };
  assert.ok(!mayAct(supervisor) && !isChair(supervisor));
  assert.equal(folderPath("bid/资格/营业执照.pdf"), "资格/营业执照.pdf");
  assert.equal(folderPath("技术标.pdf"), "技术标.pdf");
});
