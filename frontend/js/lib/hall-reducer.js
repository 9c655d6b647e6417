// The opening hall's state, kept up to date from its events: one pure function per event kind.
//
// The state has the shape of the server's snapshot frame (docs/opening.md §5), so that a snapshot
// plus the events after it equals a fresh snapshot: tests/js/hall-reducer.test.mjs checks exactly
// that against frames recorded by the Python consumer tests. Nothing here touches the page; the
// page (pages/opening-page.js) renders what `applyEvent` returns. Inputs are never changed.

/** Fields of a bid's view that are the reader's own, not in the events: kept when a new view comes. */
const READERS_OWN = ["own", "key_refusals"];

/** The state a snapshot frame gives (the frame's `type` and `ref` are the reply's, not the hall's). */
export function fromSnapshot(frame) {
  const { type: _type, ref: _ref, ...state } = structuredClone(frame);
  return state;
}

function withView(bids, view) {
  return bids.map((bid) => {
    if (bid.bid !== view.bid) return bid;
    const kept = {};
    for (const name of READERS_OWN) if (name in bid) kept[name] = bid[name];
    return { ...view, ...kept };
  });
}

const KINDS = {
  "opening.started": (state, data) => ({ ...state, moments: data }),
  "opening.moments": (state, data) => ({ ...state, moments: data }),
  attendance: (state, data) => ({ ...state, attendance: [...state.attendance, data] }),
  "bid.state": (state, data) => ({ ...state, bids: withView(state.bids, data) }),
  "bid.progress": (state, data) => ({
    ...state,
    bids: state.bids.map((bid) => (bid.bid === data.bid ? { ...bid, progress_bytes: data.bytes } : bid)),
  }),
  // Heard by the bidder whose key was refused only.
  "bid.key_refused": (state, data) => ({
    ...state,
    bids: state.bids.map((bid) => (bid.bid === data.bid ? { ...bid, key_refusals: data.refusals } : bid)),
  }),
  "custodian.submitted": (state, data) => ({
    ...state,
    custodians: state.custodians.map((c) =>
      c.position === data.position ? { ...c, submitted_at: data.at, refusals: data.refusals } : c,
    ),
  }),
  "custodian.parts_failed": (state, data) => ({ ...state, custodian_failures: [...state.custodian_failures, data] }),
  // Every bid final: their views again, now with prices and files.
  "opening.revealed": (state, data) => ({ ...state, bids: data.bids.reduce(withView, state.bids) }),
  "record.confirmed": (state, data) => ({
    ...state,
    bids: state.bids.map((bid) =>
      bid.position === data.position
        ? { ...bid, confirmed_at: data.at, confirmed_by_default: Boolean(data.by_default) }
        : bid,
    ),
  }),
  objection: (state, data) => {
    const known = state.objections.some((o) => o.id === data.id);
    const objections = known ? state.objections.map((o) => (o.id === data.id ? data : o)) : [...state.objections, data];
    return { ...state, objections };
  },
  "record.filed": (state, data) => ({ ...state, record: { sha256: data.sha256, ledger_seq: data.ledger_seq } }),
  // The opening closed with fewer than three valid bids: the tender failed (招标失败).
  "tender.failed": (state, data) => ({ ...state, failure: data }),
};

/** The kinds of events this reducer knows (a later server's new kinds only move the number on). */
export const EVENT_KINDS = Object.freeze(Object.keys(KINDS));

/** The state after one event frame (`{type: "event", seq, kind, at, data}`); an event already applied changes nothing. */
export function applyEvent(state, frame) {
  if (frame.seq <= state.seq) return state;
  const apply = KINDS[frame.kind];
  const next = apply ? apply(state, structuredClone(frame.data)) : state;
  return { ...next, seq: frame.seq };
}

/** The state after every event frame of `frames`, in their order. */
export function applyEvents(state, frames) {
  return frames.reduce(applyEvent, state);
}
