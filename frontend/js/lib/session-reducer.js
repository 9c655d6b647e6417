// The evaluation session's state, kept up to date from its events: one pure function per event kind.
//
// The state has the shape of the server's snapshot frame (evaluation/services/session/views.py), so that a
// snapshot plus the events after it equals a fresh snapshot (tests/js/session-reducer.test.mjs). A few events
// change what no event carries (a replacement member's row, the bidders' names when the anonymous scoring
// ends): `needsSnapshot(frame)` says so, and the page asks for a fresh snapshot. What only events tell
// (who voted, who signed the report, a failed tender) is kept under `heard`, which no snapshot has.
// Nothing here touches the page; inputs are never changed.

/** The state a snapshot frame gives (the frame's `type` and `ref` are the reply's, not the session's). */
export function fromSnapshot(frame, previous = null) {
  const { type: _type, ref: _ref, ...state } = structuredClone(frame);
  return { ...state, heard: structuredClone(previous?.heard ?? { votes: {}, report: {}, failed: null }) };
}

const sameMark = (a, b) => a.member === b.member && a.sheet === b.sheet && a.bid === b.bid && a.item === b.item;

function upsert(list, row, same) {
  const known = list.some((r) => same(r, row));
  return known ? list.map((r) => (same(r, row) ? row : r)) : [...list, row];
}

const byId = (a, b) => a.id === b.id;

function member(state, id, change) {
  return { ...state, members: state.members.map((m) => (m.id === id ? { ...m, ...change(m) } : m)) };
}

function withRevisedScore(marks, deviation) {
  return marks.map((m) =>
    m.sheet === "scoring" && m.member === deviation.member && m.bid === deviation.bid && m.item === deviation.item
      ? { ...m, score: deviation.score }
      : m,
  );
}

const KINDS = {
  "member.signed_in": (state, data) =>
    member(state, data.member, () => ({ venue: data.venue, location: data.location, signed_in: true })),
  "member.declared": (state, data) => member(state, data.member, () => ({ declared: true })),
  "member.recused": (state, data) => member(state, data.member, () => ({ state: "recused" })),
  // The replacement's row is in the next snapshot (needsSnapshot).
  "member.replaced": (state) => state,
  "member.presence": (state, data) => member(state, data.member, () => ({ online: data.online })),
  "chair.vote": (state, data) => ({
    ...state,
    heard: { ...state.heard, votes: { ...state.heard.votes, [data.member]: true } },
  }),
  "chair.elected": (state, data) => ({ ...state, evaluation: { ...state.evaluation, chair: data.member } }),
  // The expert's own draft (its other tabs follow).
  "sheet.saved": (state, { type: _type, ...mark }) => ({
    ...state,
    you: { ...state.you, marks: upsert(state.you.marks, mark, sameMark) },
  }),
  "sheet.submitted": (state, data) =>
    member(state, data.member, (m) => ({ sheets: { ...m.sheets, [data.sheet]: true } })),
  "scores.revealed": (state, data) => ({
    ...state,
    revealed: [...state.revealed.filter((m) => m.sheet !== data.sheet), ...data.marks],
  }),
  "deviation.flagged": (state, data) => ({ ...state, deviations: upsert(state.deviations, data, byId) }),
  "deviation.explained": (state, data) => ({ ...state, deviations: upsert(state.deviations, data, byId) }),
  "score.revised": (state, { old_score: _old, reason: _reason, ...deviation }) => ({
    ...state,
    deviations: upsert(state.deviations, deviation, byId),
    revealed: withRevisedScore(state.revealed, deviation),
    you: { ...state.you, marks: withRevisedScore(state.you.marks, deviation) },
  }),
  "stage.closed": (state, data) => ({ ...state, results: { ...state.results, [data.stage]: data.result } }),
  "stage.opened": (state, data) => ({ ...state, evaluation: { ...state.evaluation, stage: data.stage } }),
  "clarification.asked": (state, data) => ({ ...state, clarifications: upsert(state.clarifications, data, byId) }),
  "clarification.answered": (state, data) => ({
    ...state,
    clarifications: upsert(state.clarifications, data, byId),
  }),
  "message.posted": (state, data) => ({ ...state, messages: upsert(state.messages, data, byId) }),
  "report.ready": (state, data) => ({ ...state, report: { sha256: data.sha256, signed_at: null } }),
  "report.signed": (state, data) => ({
    ...state,
    heard: { ...state.heard, report: { ...state.heard.report, [data.member]: { decision: "signed" } } },
  }),
  "report.refused": (state, data) => ({
    ...state,
    heard: {
      ...state.heard,
      report: { ...state.heard.report, [data.member]: { decision: "refused", reasons: data.reasons } },
    },
  }),
  "report.filed": (state, data, frame) => ({
    ...state,
    report: { ...state.report, sha256: data.sha256, signed_at: frame.at },
  }),
  "tender.failed": (state, data) => ({ ...state, heard: { ...state.heard, failed: data } }),
};

/** The kinds of events this reducer knows (a later server's new kinds only move the number on). */
export const EVENT_KINDS = Object.freeze(Object.keys(KINDS));

/** Kinds after which the page's state lacks what only a snapshot carries. */
const STRUCTURAL = new Set(["member.replaced", "stage.opened", "stage.closed", "report.filed"]);

/** Whether, after this event, the page should ask for a fresh snapshot. */
export const needsSnapshot = (frame) => STRUCTURAL.has(frame.kind);

/** The state after one event frame (`{type: "event", seq, kind, at, data}`); an event already applied changes nothing. */
export function applyEvent(state, frame) {
  if (frame.seq <= state.seq) return state;
  const apply = KINDS[frame.kind];
  const next = apply ? apply(state, structuredClone(frame.data), frame) : state;
  return { ...next, seq: frame.seq };
}

/** The state after every event frame of `frames`, in their order. */
export function applyEvents(state, frames) {
  return frames.reduce(applyEvent, state);
}

// --- what the page reads off the state --------------------------------------------------------------------

/** The user's own entry for (sheet, bid, item): its draft, or null. */
export function ownMark(state, sheet, bid, item) {
  return state.you.marks.find((m) => m.sheet === sheet && m.bid === bid && m.item === item) ?? null;
}

/** The members still on the committee (not recused, declined or replaced). */
export const activeMembers = (state) => state.members.filter((m) => m.state === "confirmed");

/** The user's own member row, or null (the supervisor). */
export const me = (state) => state.members.find((m) => m.id === state.you.member) ?? null;

/** Whether this user may act (an expert on the committee; the supervisor only watches). */
export const mayAct = (state) => state.you.role === "expert" && me(state)?.state === "confirmed";

/** Whether this user is the chair. */
export const isChair = (state) => state.you.member !== null && state.evaluation.chair === state.you.member;

/** The sheet of the current stage (qualification or scoring), or null. */
export function stageSheet(state) {
  const stage = state.evaluation.stage;
  return stage === "qualification" || stage === "scoring" ? stage : null;
}

/** The entries the user's sheet still lacks: `[{bid, item}]` (a qualification item needs passed, a criterion a score). */
export function missingEntries(state, sheet) {
  const method = state.evaluation.method;
  const items = sheet === "qualification" ? method.qualification : method.criteria;
  const missing = [];
  for (const bid of state.bids) {
    for (const item of items) {
      const mark = ownMark(state, sheet, bid.id, item.id);
      const done = sheet === "qualification" ? typeof mark?.passed === "boolean" : mark?.score != null;
      if (!done) missing.push({ bid: bid.id, item: item.id });
    }
  }
  return missing;
}

/** The unresolved deviations of the user's own scores. */
export const myOpenDeviations = (state) =>
  state.deviations.filter((d) => d.member === state.you.member && !d.explained_at && !d.revised_at);

/** The path a document URL takes: relative to the bid folder (the container keeps it under `bid/`). */
export const folderPath = (path) => (path.startsWith("bid/") ? path.slice(4) : path);
