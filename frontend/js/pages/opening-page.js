// The opening hall (开标大厅) of one tender: what everyone entitled sees, live,
// and the actions of each role. A bidder opens its own bid's file key and a
// custodian its parts of every bid's key here, in this browser, with private
// keys that never leave it (IndexedDB, non-extractable); only the file key or
// the parts go to the platform, after the opening time. The server checks
// every command again: the buttons only follow what it allows.

import { ApiError, NetworkError, api } from "../lib/api.js";
import "../lib/cards.js"; // the hall's tables as cards at phone width
import { amountInWords, amountText, momentText } from "../lib/format.js";
import { FrameTooLarge, HallClient, HallDisconnected, HallError } from "../lib/hall.js";
import { applyEvent, fromSnapshot } from "../lib/hall-reducer.js";
import { readConfig, setMessages, t } from "../lib/i18n.js";
import { loadBrowserKeys } from "../lib/keys.js";
import { ErrorCode } from "../lib/room-codes.js";
import { fromBase64, toBase64 } from "../sealing/bytes.js";
import { custodianPartInfo, openBidderEnvelope, openEnvelope } from "../sealing/envelopes.js";
import { EnvelopeError, KeyCommitmentError } from "../sealing/errors.js";
import { parseManifest } from "../sealing/manifest.js";
import { refusalReason, signRefusal } from "../sealing/refusal.js";

const config = readConfig("hall-config");
setMessages(config.messages);
const $ = (id) => document.getElementById(id);

// Bids ended as failed for a fault of the platform's own: a manager may retry them until the record is published.
const PLATFORM_FAULT_CODES = ["stored_ciphertext_differs", "decryption_faults", "decryption_interrupted"];

const MOMENTS = ["started_at", "decryption_ends_at", "decryption_concluded_at", "record_published_at", "confirmation_ends_at", "closed_at"];

const hall = {
  roles: new Set(),
  tender: null,
  moments: {},
  bids: new Map(), // bid id → the server's view of it, plus `own`
  custodians: [],
  attendance: [],
  objections: new Map(),
  failures: [],
  record: null,
  failure: null,
  busy: false,
};

// -- small helpers ----------------------------------------------------------------------------------------

function element(tag, attributes = {}, ...content) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const item of content) if (item !== null && item !== undefined) node.append(item);
  return node;
}

// Every moment as the platform writes them (lib/format.js: "2026-12-03 16:30 北京时间", in the server's zone).
const beijing = (iso) => momentText(iso);

function timeElement(iso) {
  return iso ? element("time", { datetime: iso }, beijing(iso)) : t("dash");
}

/** "3050000" → "叁佰零伍万元整" (lib/format.js); "" for what is not an amount. */
function inWords(text) {
  try {
    return amountInWords(text);
  } catch {
    return "";
  }
}

/** "6123456.7" → "6,123,456.70" (lib/format.js: grouped as text, never through a float). */
function yuan(text) {
  try {
    return amountText(text);
  } catch {
    return String(text);
  }
}

function show(id, visible) {
  const node = $(id);
  node.hidden = !visible;
  if (node.parentElement?.tagName === "LI") node.parentElement.hidden = !visible;
}

// Polite announcements for screen readers: what happened within a moment is read as one text (the
// region is cleared first, so that a repeated text is read again).
const announcements = [];

function announce(text) {
  announcements.push(text);
  if (announcements.length > 1) return;
  $("hall-announcer").textContent = "";
  window.setTimeout(() => {
    $("hall-announcer").textContent = announcements.splice(0).join(" ");
  }, 100);
}

function say(text) {
  $("action-error").hidden = true;
  $("action-error").textContent = "";
  $("action-status").textContent = text;
}

function sayError(text) {
  $("action-status").textContent = "";
  $("action-error").textContent = text;
  $("action-error").hidden = !text;
}

function explain(exc) {
  if (exc instanceof HallError || exc instanceof ApiError) {
    const details = exc.fields ? Object.values(exc.fields).flat().join(" ") : "";
    return details ? `${exc.message} ${details}` : exc.message;
  }
  if (exc instanceof HallDisconnected || exc instanceof NetworkError) return t("network_down");
  return exc?.message ? String(exc.message) : String(exc);
}

const has = (role) => hall.roles.has(role);
const stateLabel = (state) => config.states[state] ?? state;
const ownBids = () => [...hall.bids.values()].filter((b) => b.own);
const myCustodian = () => hall.custodians.find((c) => c.position === config.custodianPosition) ?? null;
const signedIn = () => hall.attendance.some((a) => a.name === config.me.name && a.organization === config.me.organization);

// -- the view ----------------------------------------------------------------------------------------------

function renderMoments() {
  for (const name of MOMENTS) {
    const cell = document.querySelector(`[data-moment="${name}"]`);
    if (cell) cell.replaceChildren(timeElement(hall.moments[name]));
  }
  const phase = $("hall-phase");
  const m = hall.moments;
  let text;
  let name;
  if (m.closed_at) [name, text] = ["closed", t("phase_closed")];
  else if (m.record_published_at) [name, text] = ["record", t("phase_record", { when: beijing(m.confirmation_ends_at) })];
  else if (m.decryption_concluded_at) [name, text] = ["concluded", t("phase_concluded")];
  else [name, text] = ["decrypting", t("phase_decrypting", { when: beijing(m.decryption_ends_at) })];
  if (phase.dataset.phase !== name && phase.dataset.phase) announce(text);
  phase.dataset.phase = name;
  phase.textContent = text;
}

function progressCell(bid) {
  const total = bid.size || 1;
  const done = bid.state === "opened" ? total : Math.min(bid.progress_bytes || 0, total);
  const percent = Math.floor((done / total) * 100);
  const label = t("progress_label", { position: bid.position });
  return element(
    "td",
    { class: "progress-cell" },
    element("progress", { max: total, value: done, "aria-label": label, "data-progress": bid.bid }),
    " ",
    element("span", { class: "muted", "data-progress-text": bid.bid }, `${percent}%`),
  );
}

function pricesCell(bid) {
  const lots = bid.price_summary?.lots ?? [];
  // No price is shown to anyone before every bid is final (the record's publication).
  if (!lots.length) return element("td", {}, hall.moments.record_published_at ? t("dash") : t("prices_hidden"));
  const list = element("ul", { class: "prices" });
  for (const lot of lots) {
    const name = config.lots[lot.lot] ? `${lot.lot}. ${config.lots[lot.lot]}` : lot.lot;
    const item = element("li", {}, t("lot_price", { lot: name, price: yuan(lot.price_yuan), days: lot.schedule_days }));
    // The record's amount in capitals too (大写金额), as the signed PDF writes it.
    const words = inWords(lot.price_yuan);
    if (words) item.append(element("span", { class: "amount-words", lang: "zh-Hans" }, words));
    list.append(item);
  }
  return element("td", {}, list);
}

function retryable(bid) {
  if (bid.state === "key_ready" && bid.retry_at) return true; // waiting out a back-off after a fault
  return bid.state === "failed" && PLATFORM_FAULT_CODES.includes(bid.outcome_code) && !hall.moments.record_published_at;
}

function outcomeCell(bid) {
  const cell = element("td");
  if (bid.outcome_detail) cell.append(element("p", { class: "outcome" }, bid.outcome_detail));
  // The bidder's own refused keys (its other tabs and devices hear them too; nobody else does).
  if (bid.own && bid.key_refusals > 0 && bid.state === "awaiting_key" && config.messages.key_refused) {
    cell.append(element("p", { class: "fault", "data-key-refusals": bid.key_refusals }, t("key_refused", { n: bid.key_refusals })));
  }
  if (bid.faults > 0 && bid.state === "key_ready" && bid.retry_at) {
    cell.append(element("p", { class: "fault" }, t("fault_retry", { n: bid.faults, fault: bid.last_fault, when: beijing(bid.retry_at) })));
  }
  if (has("manager") && retryable(bid)) {
    cell.append(element("button", { type: "button", class: "retry", "data-retry": bid.bid }, t("retry_button")));
  }
  if (bid.confirmed_at) cell.append(element("p", { class: "confirmed" }, bid.confirmed_by_default ? t("confirmed_by_default") : t("confirmed")));
  if (!cell.childNodes.length) cell.append(t("dash"));
  return cell;
}

function renderBids() {
  const rows = [...hall.bids.values()]
    .sort((a, b) => a.position - b.position)
    .map((bid) =>
      element(
        "tr",
        { "data-bid": bid.bid, "data-state": bid.state, "data-own": bid.own ? "true" : null },
        element("td", { class: "num" }, String(bid.position)),
        element(
          "th",
          { scope: "row" },
          bid.bidder,
          bid.own ? element("span", { class: "own" }, t("own_bid")) : null,
          element("br"),
          element("span", { class: "muted" }, bid.credit_code),
        ),
        element("td", { class: "state" }, stateLabel(bid.state)),
        element("td", {}, bid.key_source ? (config.keySources[bid.key_source] ?? bid.key_source) : t("dash")),
        progressCell(bid),
        pricesCell(bid),
        outcomeCell(bid),
      ),
    );
  $("bids-body").replaceChildren(...rows);
  $("bids-empty").hidden = rows.length > 0;
  $("bids-table").hidden = rows.length === 0;
}

function renderProgress(bid) {
  const bar = document.querySelector(`progress[data-progress="${bid.bid}"]`);
  const text = document.querySelector(`[data-progress-text="${bid.bid}"]`);
  if (!bar || !text) return renderBids();
  const total = bid.size || 1;
  const done = Math.min(bid.progress_bytes || 0, total);
  bar.max = total;
  bar.value = done;
  text.textContent = `${Math.floor((done / total) * 100)}%`;
}

function renderAttendance() {
  const items = hall.attendance.map((a) =>
    element(
      "li",
      {},
      a.organization ? t("attendee", { name: a.name, organization: a.organization }) : a.name,
      " · ",
      a.roles.map((r) => config.roleLabels[r] ?? r).join(t("list_separator")),
      " · ",
      timeElement(a.signed_in_at),
    ),
  );
  $("attendance-list").replaceChildren(...items);
  $("attendance-empty").hidden = items.length > 0;
}

function renderCustodians() {
  const rows = hall.custodians.map((c) =>
    element(
      "tr",
      { "data-custodian": c.position, "data-submitted": c.submitted_at ? "true" : "false" },
      element("td", { class: "num" }, String(c.position)),
      element("th", { scope: "row" }, c.name),
      element(
        "td",
        {},
        c.submitted_at ? t("submitted_at", { when: beijing(c.submitted_at) }) : t("not_submitted"),
        c.refusals ? ` ${t("custodian_refusals", { n: c.refusals })}` : "",
      ),
    ),
  );
  $("custodians-body").replaceChildren(...rows);
  $("custodians-section").hidden = !hall.custodians.length;
  $("custodians-rule").textContent =
    hall.tender?.unreleased_bids === "custodians" ? t("custodians_rule", { k: hall.tender.threshold, n: hall.custodians.length }) : t("custodians_not_used");
}

function renderFailures() {
  const items = hall.failures.map((f) =>
    element(
      "li",
      { "data-failure": f.bid },
      t("parts_failed_text", {
        position: f.position,
        subsets: f.failed_subsets.map((s) => `{${s.join(", ")}}`).join(t("list_separator")),
        suspects: f.suspects.map((s) => t("custodian_label", { position: s.position, name: s.name })).join(t("list_separator")) || t("dash"),
      }),
    ),
  );
  $("failures-list").replaceChildren(...items);
  $("failures-section").hidden = !items.length;
}

function renderObjections() {
  // Answers being typed survive a redraw.
  const drafts = new Map([...document.querySelectorAll("textarea[data-answer-for]")].map((a) => [a.dataset.answerFor, a.value]));
  const focused = document.activeElement?.dataset?.answerFor;
  const open = !hall.moments.closed_at;
  const items = [...hall.objections.values()]
    .sort((a, b) => a.id - b.id)
    .map((o) => {
      const item = element(
        "li",
        { class: "objection", "data-objection": o.id, "data-answered": o.answered_at ? "true" : "false" },
        element("p", {}, element("strong", {}, t("objection_by", { position: o.position, bidder: o.bidder })), " · ", timeElement(o.raised_at)),
        element("p", { class: "objection-text" }, o.text),
      );
      if (o.answered_at) {
        item.append(element("p", { class: "answer-text" }, element("strong", {}, t("answer_prefix")), o.answer, " · ", timeElement(o.answered_at)));
      } else {
        item.append(element("p", { class: "muted" }, t("awaiting_answer")));
        if (has("manager") && open) item.append(answerForm(o, drafts.get(String(o.id)) ?? ""));
      }
      return item;
    });
  $("objections-list").replaceChildren(...items);
  $("objections-empty").hidden = items.length > 0;
  if (focused) document.querySelector(`textarea[data-answer-for="${focused}"]`)?.focus();
}

function answerForm(objection, draft) {
  const id = `answer-${objection.id}`;
  const text = element("textarea", { id, rows: 2, maxlength: config.maxTextChars, "data-answer-for": String(objection.id) });
  text.value = draft;
  const form = element(
    "form",
    { class: "answer-form", "data-answer-form": objection.id },
    element("label", { for: id }, t("answer_label", { position: objection.position })),
    text,
    element("button", { type: "submit" }, t("answer_button")),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const value = text.value.trim();
    if (!value) {
      sayError(t("answer_empty"));
      text.focus();
      return;
    }
    act(async () => {
      await client.command("answer_objection", { objection: objection.id, text: value });
      say(t("answer_sent"));
    });
  });
  return form;
}

function renderRecord() {
  $("record-link").hidden = !hall.record;
  if (hall.record) $("record-sha256").textContent = hall.record.sha256;
}

// 招标失败: the reason, the counts and what the tenderer must do, once the close found fewer than three valid bids.
function renderFailure() {
  const section = $("failed-section");
  const failure = hall.failure;
  section.hidden = !failure;
  if (!failure) return;
  $("failed-reason").textContent = config.failureReasons[failure.reason] ?? failure.reason;
  $("failed-counts").textContent = t("failed_counts", { opened: failure.opened, bids: failure.bids, when: beijing(failure.failed_at) });
}

function renderActions() {
  const m = hall.moments;
  const closed = Boolean(m.closed_at);
  const concluded = Boolean(m.decryption_concluded_at);
  const participant = has("manager") || has("bidder") || has("custodian");
  $("actions-section").hidden = !participant;
  $("read-only-note").hidden = participant;
  const me = signedIn();
  show("sign-in-button", participant && !me && !closed);
  $("sign-in-state").textContent = participant && me ? t("signed_in_yes") : "";
  const awaiting = ownBids().filter((b) => b.state === "awaiting_key");
  show("decrypt-button", has("bidder") && !concluded && !closed && awaiting.length > 0);
  const custodian = myCustodian();
  const custodiansUsed = hall.tender?.unreleased_bids === "custodians";
  show("parts-button", has("custodian") && custodiansUsed && !concluded && !closed && custodian !== null && !custodian.submitted_at);
  show("conclude-button", has("manager") && !concluded && !closed);
  const recordOpen = Boolean(m.record_published_at) && !closed;
  const unconfirmed = ownBids().some((b) => !b.confirmed_at);
  show("confirm-button", has("bidder") && recordOpen && unconfirmed);
  $("objection-form").hidden = !(has("bidder") && recordOpen);
  show("close-button", has("manager") && recordOpen);
  for (const button of document.querySelectorAll("#actions-section button, .answer-form button")) button.disabled = hall.busy;
}

function renderAll() {
  renderMoments();
  renderBids();
  renderAttendance();
  renderCustodians();
  renderFailures();
  renderObjections();
  renderRecord();
  renderFailure();
  renderActions();
}

// -- the hall's stream ---------------------------------------------------------------------------------------

// The hall as the server last said it (the snapshot's shape, kept up to date by lib/hall-reducer.js),
// and the page's indexes of it.
let state = null;

function adopt(next) {
  state = next;
  hall.roles = new Set(next.roles);
  hall.tender = next.tender;
  hall.moments = next.moments;
  hall.bids = new Map(next.bids.map((b) => [b.bid, b]));
  hall.custodians = next.custodians;
  hall.attendance = next.attendance;
  hall.objections = new Map(next.objections.map((o) => [o.id, o]));
  hall.failures = next.custodian_failures;
  hall.record = next.record;
  hall.failure = next.failure ?? null;
}

function onSnapshot(frame) {
  adopt(fromSnapshot(frame));
  renderAll();
  document.body.dataset.hallSeq = String(frame.seq);
}

// What the page shows and says once an event is applied (`before`: the state it was applied to).
const SHOWN = {
  "opening.started": () => {
    renderMoments();
    renderActions();
  },
  "opening.moments": () => renderAll(),
  attendance: (data) => {
    renderAttendance();
    renderActions();
    announce(t("ann_attendance", { name: data.name }));
  },
  "bid.state": (data, before) => {
    renderBids();
    renderActions();
    const was = before.bids.find((b) => b.bid === data.bid);
    if (was?.state !== data.state) announce(t("ann_bid_state", { position: data.position, bidder: data.bidder, state: stateLabel(data.state) }));
  },
  "bid.progress": (data) => {
    const bid = hall.bids.get(data.bid);
    if (bid) renderProgress(bid);
  },
  "bid.key_refused": () => renderBids(),
  "custodian.submitted": (data) => {
    renderCustodians();
    renderActions();
    announce(t("ann_custodian", { name: data.name }));
  },
  "custodian.parts_failed": (data) => {
    renderFailures();
    announce(t("ann_parts_failed", { position: data.position }));
  },
  "opening.revealed": () => {
    renderBids();
    announce(t("ann_revealed"));
  },
  "record.confirmed": (data) => {
    renderBids();
    renderActions();
    if (!data.by_default) announce(t("ann_confirmed", { bidder: data.bidder }));
  },
  objection: (data, before) => {
    renderObjections();
    renderActions();
    const known = before.objections.some((o) => o.id === data.id);
    announce(known ? t("ann_answer", { bidder: data.bidder }) : t("ann_objection", { bidder: data.bidder }));
  },
  "record.filed": () => {
    renderRecord();
    announce(t("ann_record_filed"));
  },
  "tender.failed": () => {
    renderFailure();
    announce(t("ann_tender_failed"));
  },
};

function onEvent(frame) {
  const before = state;
  adopt(applyEvent(state, frame));
  SHOWN[frame.kind]?.(frame.data, before);
  document.body.dataset.hallSeq = String(frame.seq);
}

function onStatus({ state, attempt, delayMs, message }) {
  const box = $("hall-status");
  box.dataset.state = state;
  document.body.dataset.hall = state;
  if (state === "reconnecting") document.body.dataset.hallDrops = String(Number(document.body.dataset.hallDrops ?? 0) + 1);
  if (state === "connecting") box.textContent = t("status_connecting");
  else if (state === "live") box.textContent = t("status_live");
  else if (state === "reconnecting")
    box.textContent = delayMs ? t("status_reconnecting_in", { seconds: Math.ceil(delayMs / 1000), attempt }) : t("status_reconnecting", { attempt });
  else if (state === "waiting") box.textContent = t("status_waiting", { when: beijing(config.openingTime) });
  else if (state === "refused") box.textContent = t("status_refused", { reason: message || t("network_down") });
  renderActions();
}

const scheme = window.location.protocol === "https:" ? "wss" : "ws";
const client = new HallClient(`${scheme}://${window.location.host}${config.urls.socket}`, {
  openingTime: config.openingTime,
  onSnapshot,
  onEvent,
  onStatus,
});

// -- actions ----------------------------------------------------------------------------------------------

// A refusal that means this page's view is out of date (another tab or person acted first).
const STALE = new Set([
  ErrorCode.KEY_ALREADY_READY,
  ErrorCode.PARTS_ALREADY_SUBMITTED,
  ErrorCode.DECRYPTION_CONCLUDED,
  ErrorCode.ALREADY_CONFIRMED,
  ErrorCode.ALREADY_ANSWERED,
  ErrorCode.OPENING_CLOSED,
  ErrorCode.DECRYPTION_WINDOW_CLOSED,
]);

async function act(action) {
  if (hall.busy) return;
  hall.busy = true;
  renderActions();
  try {
    await action();
  } catch (exc) {
    // The server's refusals say so; what went wrong in this browser is said as it is.
    const refused = exc instanceof HallError || (exc instanceof ApiError && exc.status < 500);
    sayError(t(refused ? "refused_action" : "failed", { reason: explain(exc) }));
    if (exc instanceof HallError && STALE.has(exc.code)) client.refresh();
  } finally {
    hall.busy = false;
    renderActions();
  }
}

async function encryptionKey(missing) {
  const keys = await loadBrowserKeys(config.user);
  if (!keys?.encryption) {
    $("keys-hint").hidden = false;
    throw new Error(t(missing));
  }
  return keys.encryption;
}

async function signingKey() {
  const keys = await loadBrowserKeys(config.user);
  if (!keys?.signing) {
    $("keys-hint").hidden = false;
    throw new Error(t("parts_signing_missing"));
  }
  return keys.signing;
}

async function manifests() {
  const found = await api("GET", config.urls.manifests);
  return Promise.all(found.map(async (m) => ({ ...m, parsed: await parseManifest(fromBase64(m.manifest)) })));
}

$("sign-in-button").addEventListener("click", () =>
  act(async () => {
    await client.command("sign_in");
    say(t("signed_in_done"));
  }),
);

$("decrypt-button").addEventListener("click", () =>
  act(async () => {
    const key = await encryptionKey("decrypt_keys_missing");
    say(t("decrypt_working"));
    // The bids this page sees waiting for their key: the server refuses any that is no longer (another tab was quicker).
    const awaiting = new Set(ownBids().filter((b) => b.state === "awaiting_key").map((b) => b.bid));
    const waiting = (await manifests()).filter((m) => awaiting.has(m.bid));
    if (!waiting.length) throw new Error(t("decrypt_nothing"));
    for (const m of waiting) {
      const recipient = m.parsed.envelopes.bidder.recipient;
      if (recipient !== key.fingerprint) {
        $("keys-hint").hidden = false;
        throw new Error(t("decrypt_key_mismatch", { expected: recipient.slice(0, 16), actual: key.fingerprint.slice(0, 16) }));
      }
      let fileKey;
      try {
        fileKey = await openBidderEnvelope(m.parsed, key, key.fingerprint);
      } catch (exc) {
        if (exc instanceof KeyCommitmentError) throw new Error(t("decrypt_kc_failed"));
        if (exc instanceof EnvelopeError) throw new Error(t("decrypt_envelope_failed", { reason: exc.message }));
        throw exc;
      }
      try {
        await client.command("release_key", { bid: m.bid, file_key: toBase64(fileKey) });
      } finally {
        fileKey.fill(0);
      }
      say(t("decrypt_sent", { position: m.position }));
    }
  }),
);

$("parts-button").addEventListener("click", () =>
  act(async () => {
    const key = await encryptionKey("parts_keys_missing");
    const found = await manifests();
    say(t("parts_working", { bids: found.length }));
    const parts = [];
    const refusals = [];
    let signer = null;
    for (const m of found) {
      const { threshold, recipients, subsets } = m.parsed.envelopes.custodians;
      const position = recipients.indexOf(key.fingerprint);
      if (position < 0) {
        $("keys-hint").hidden = false;
        throw new Error(t("parts_not_custodian_key", { position: m.position }));
      }
      const identity = { tender: m.parsed.tender, bid: m.parsed.bid, bidder: m.parsed.bidder };
      for (const subset of subsets) {
        const j = subset.members.indexOf(position);
        if (j < 0) continue;
        const sealed = fromBase64(subset.parts[j]);
        const info = custodianPartInfo(identity, threshold, recipients.length, subset.members, position, key.fingerprint);
        let part;
        try {
          part = await openEnvelope(sealed, key, info);
        } catch (exc) {
          if (!(exc instanceof EnvelopeError)) throw exc;
          // A part that does not open stops nothing: a statement signed with this browser's signing key replaces it.
          signer ??= await signingKey();
          const fields = { tender: m.parsed.tender, bid: m.parsed.bid, members: subset.members, index: position, reason: refusalReason(sealed) };
          const { statement, signature } = await signRefusal(fields, signer);
          refusals.push({ statement: toBase64(statement), signature: toBase64(signature) });
          say(t("parts_refused", { position: m.position, members: subset.members.map((p) => p + 1).join(t("list_separator")) }));
          continue;
        }
        parts.push({ bid: m.bid, members: [...subset.members], part: toBase64(part) });
        part.fill(0);
      }
    }
    let reply;
    try {
      reply = await client.command("submit_parts", { parts, refusals });
    } catch (exc) {
      // Many bids × many subsets can outgrow a frame: the same service takes them over HTTP, still in one action.
      if (!(exc instanceof FrameTooLarge)) throw exc;
      reply = await api("POST", config.urls.parts, { parts, refusals });
    }
    say(t("parts_sent", { parts: reply.parts, refusals: reply.refusals ?? 0 }));
  }),
);

$("bids-body").addEventListener("click", (event) => {
  const button = event.target.closest("button[data-retry]");
  if (!button) return;
  act(async () => {
    await client.command("retry_decryption", { bid: button.dataset.retry });
    say(t("retry_sent"));
  });
});

$("conclude-button").addEventListener("click", () => {
  if (!window.confirm(t("confirm_conclude"))) return;
  act(async () => {
    await client.command("conclude_decryption");
    say(t("concluded"));
  });
});

$("confirm-button").addEventListener("click", () =>
  act(async () => {
    await client.command("confirm_record");
    say(t("record_confirmed"));
  }),
);

$("objection-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const text = $("objection-text").value.trim();
  if (!text) {
    sayError(t("objection_empty"));
    $("objection-text").focus();
    return;
  }
  act(async () => {
    await client.command("object", { text });
    $("objection-text").value = "";
    say(t("objection_sent"));
  });
});

$("close-button").addEventListener("click", () => {
  if (!window.confirm(t("confirm_close"))) return;
  act(async () => {
    await client.command("close_opening");
    say(t("closed"));
  });
});

renderActions();
client.start();
document.body.dataset.hallPage = "ready";
