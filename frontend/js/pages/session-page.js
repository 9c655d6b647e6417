// The evaluation session (评标室) of one tender: the committee's members act here, live, and the supervisor
// watches the same page read-only. Every command goes over the session's WebSocket to the evaluation's
// services, which check it again: the forms only follow what the server allows. A sheet and the report are
// signed here, with the signing key this browser holds (IndexedDB, non-extractable); only the signature
// leaves. The bid documents open in the page's pdf.js viewer, by byte ranges, watermarked.

import "../lib/cards.js"; // the tables as cards at phone width
import { amountInWords, amountText, momentText } from "../lib/format.js";
import { readConfig, setMessages, t } from "../lib/i18n.js";
import { loadBrowserKeys } from "../lib/keys.js";
import { PdfViewer } from "../lib/pdf-viewer.js";
import { RoomClient, RoomDisconnected, RoomError } from "../lib/room.js";
import {
  activeMembers,
  applyEvent,
  folderPath,
  fromSnapshot,
  isChair,
  mayAct,
  me,
  missingEntries,
  myOpenDeviations,
  needsSnapshot,
  ownMark,
  stageSheet,
} from "../lib/session-reducer.js";
import { toBase64 } from "../sealing/bytes.js";
import { signStatement } from "../sealing/custody.js";

const config = readConfig("session-config");
setMessages(config.messages);
const $ = (id) => document.getElementById(id);

const STAGES = ["sign_in", "qualification", "scoring", "price", "summary", "report", "concluded"];
const SHEET_TITLES = { qualification: config.stages.qualification, scoring: config.stages.scoring };
const SCORE = /^\d{1,4}(\.\d{1,2})?$/;

let state = null;
let busy = false;
let sheetShape = ""; // what the sheet's table was built for: rebuilt only when it changes
let viewer = null;
let viewed = { bid: null, path: null, page: 0 }; // what the viewer shows (for evidence)

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

const show = (id, visible) => {
  $(id).hidden = !visible;
};

function announce(text) {
  $("session-announcer").textContent = text;
}

function say(text) {
  $("action-status").textContent = text;
  $("action-error").hidden = true;
}

function reasonOf(exc) {
  if (exc instanceof RoomError) return exc.message;
  if (exc instanceof RoomDisconnected) return t("network_down");
  return exc?.message || String(exc);
}

function fail(exc) {
  $("action-error").textContent = t("refused_action", { reason: reasonOf(exc) });
  $("action-error").hidden = false;
}

async function act(work) {
  if (busy) return null;
  busy = true;
  try {
    return await work();
  } catch (exc) {
    fail(exc);
    return null;
  } finally {
    busy = false;
  }
}

const memberName = (id) => state.members.find((m) => m.id === id)?.name ?? t("dash");
const bidOf = (id) => state.bids.find((b) => b.id === id);
function bidName(bid) {
  if (!bid) return t("dash");
  if (bid.bidder === null || state.evaluation.anonymous) return t("bidder_code", { code: bid.code });
  return t("bidder_label", { position: bid.position, bidder: bid.bidder });
}
const methodItem = (id) =>
  [...state.evaluation.method.qualification, ...state.evaluation.method.criteria].find((i) => i.id === id);
const itemTitle = (id) => {
  const item = methodItem(id);
  return item ? `${item.id} ${item.title}` : id;
};

async function sha256Hex(bytes) {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return [...digest].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** Signs the statement the server gave (checked against its digest first) with this browser's signing key. */
async function signGiven(reply) {
  const keys = await loadBrowserKeys(config.user);
  if (!keys?.signing) throw new Error(t("no_signing_key"));
  const bytes = new TextEncoder().encode(reply.statement);
  if ((await sha256Hex(bytes)) !== reply.sha256) throw new Error(t("statement_mismatch"));
  const signature = await signStatement(bytes, keys.signing.privateKey);
  return { key: keys.signing.fingerprint, signature: toBase64(signature), sha256: reply.sha256 };
}

// -- the stage bar, the chair, the failed tender -----------------------------------------------------------

function renderStages() {
  const current = STAGES.indexOf(state.evaluation.stage);
  $("stage-bar").replaceChildren(
    ...STAGES.map((stage, index) =>
      element("li", {
        text: config.stages[stage],
        "data-stage": stage,
        "aria-current": index === current ? "step" : null,
        "data-done": index < current ? "" : null,
      }),
    ),
  );
  document.body.dataset.stage = state.evaluation.stage;
  const chair = state.evaluation.chair;
  $("chair-line").textContent = chair ? t("chair_is", { name: memberName(chair) }) : t("no_chair");
  const failed = state.heard.failed;
  show("failed-note", Boolean(failed));
  if (failed) $("failed-note").textContent = t("tender_failed", { message: failed.message });
}

// -- sign-in, declarations, the chair's election -----------------------------------------------------------

function renderSignIn() {
  const mine = me(state);
  const acting = mayAct(state);
  show("signin-panel", acting && !mine.signed_in);
  const declaring = acting && mine.signed_in && !mine.declared;
  show("declare-panel", declaring);
  if (declaring && $("declare-body").dataset.bids !== state.bids.map((b) => b.id).join()) {
    $("declare-body").dataset.bids = state.bids.map((b) => b.id).join();
    $("declare-body").replaceChildren(
      ...state.bids.map((bid) =>
        element(
          "tr",
          { "data-bid": bid.id },
          element("td", { text: bidName(bid) }),
          element(
            "td",
            {},
            element("label", {}, element("input", { type: "checkbox", class: "conflict" }), ` ${t("yes")}`),
          ),
          element("td", {}, element("input", { type: "text", class: "note", maxlength: "500" })),
        ),
      ),
    );
  }
  const electing = acting && mine.signed_in && mine.declared && !state.evaluation.chair;
  show("chair-panel", electing);
  if (electing) {
    const select = $("chair-candidate");
    const ids = activeMembers(state).map((m) => String(m.id));
    if (select.dataset.ids !== ids.join()) {
      select.dataset.ids = ids.join();
      select.replaceChildren(...activeMembers(state).map((m) => element("option", { value: m.id, text: m.name })));
    }
    const votes = Object.keys(state.heard.votes).length;
    $("chair-votes").textContent = votes ? t("votes_cast", { n: votes }) : "";
  }
}

$("signin-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const location = $("signin-location").value.trim();
  act(async () => {
    await client.command("sign_in", { venue: $("signin-venue").value, location });
    say(t("signed_in_done"));
  });
});

$("declare-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const declarations = [...$("declare-body").querySelectorAll("tr")].map((row) => ({
    bid: row.dataset.bid,
    conflict: row.querySelector(".conflict").checked,
    note: row.querySelector(".note").value.trim(),
  }));
  act(async () => {
    await client.command("declare", { declarations });
    say(t("declared_done"));
  });
});

$("chair-form").addEventListener("submit", (event) => {
  event.preventDefault();
  act(async () => {
    await client.command("vote_chair", { candidate: Number($("chair-candidate").value) });
    say(t("voted"));
  });
});

// -- the sheet of the current stage ------------------------------------------------------------------------

function sheetLocked(sheet) {
  return Boolean(me(state)?.sheets?.[sheet]);
}

function entryRow(sheet, bid, item, locked) {
  const row = element("tr", { "data-bid": bid.id, "data-item": item.id });
  row.append(element("th", { scope: "row", text: `${item.id} ${item.title}` }));
  if (sheet === "qualification") {
    const select = element(
      "select",
      { class: "passed", "aria-label": `${bidName(bid)} ${item.title}`, disabled: locked },
      element("option", { value: "", text: t("choose") }),
      element("option", { value: "true", text: t("pass") }),
      element("option", { value: "false", text: t("fail") }),
    );
    row.append(element("td", { "data-label": t("pass") }, select));
  } else {
    const input = element("input", {
      type: "text",
      inputmode: "decimal",
      class: "score",
      "aria-label": `${bidName(bid)} ${item.title} ${t("score_range", { min: item.min_score, max: item.max_score })}`,
      placeholder: t("score_range", { min: item.min_score, max: item.max_score }),
      disabled: locked,
    });
    row.append(element("td", { "data-label": t("score_range", { min: item.min_score, max: item.max_score }) }, input));
  }
  row.append(
    element(
      "td",
      { "data-label": t("reason_label") },
      element("input", { type: "text", class: "reason", maxlength: "2000", "aria-label": t("reason_label"), disabled: locked }),
    ),
  );
  if (sheet === "scoring") {
    row.append(
      element(
        "td",
        { "data-label": t("evidence_label") },
        element("span", { class: "evidence" }),
        " ",
        element("button", { type: "button", class: "secondary pick-evidence", disabled: locked, text: t("evidence_pick") }),
      ),
    );
  }
  return row;
}

function buildSheet(sheet, locked) {
  const items = sheet === "qualification" ? state.evaluation.method.qualification : state.evaluation.method.criteria;
  $("sheet-tables").replaceChildren(
    ...state.bids.map((bid) =>
      element(
        "table",
        { class: "cards sheet-table", "data-bid": bid.id },
        element("caption", { text: bidName(bid) }),
        element("tbody", {}, ...items.map((item) => entryRow(sheet, bid, item, locked))),
      ),
    ),
  );
}

function fillSheet(sheet) {
  for (const row of $("sheet-tables").querySelectorAll("tr[data-item]")) {
    const mark = ownMark(state, sheet, row.dataset.bid, row.dataset.item);
    const reason = row.querySelector(".reason");
    if (document.activeElement !== reason) reason.value = mark?.reason ?? "";
    if (sheet === "qualification") {
      const select = row.querySelector(".passed");
      if (document.activeElement !== select) select.value = typeof mark?.passed === "boolean" ? String(mark.passed) : "";
    } else {
      const score = row.querySelector(".score");
      if (document.activeElement !== score && score.getAttribute("aria-invalid") !== "true") score.value = mark?.score ?? "";
      const evidence = mark?.evidence;
      row.querySelector(".evidence").textContent = evidence
        ? t("evidence_text", { path: folderPath(evidence.path), page: evidence.page })
        : t("evidence_none");
    }
  }
}

function renderSheet() {
  const sheet = stageSheet(state);
  const visible = sheet !== null && (mayAct(state) ? me(state).declared : true) && state.you.role === "expert";
  show("sheet-panel", visible);
  if (!visible) return;
  const locked = sheetLocked(sheet);
  const shape = [sheet, locked, state.evaluation.anonymous, ...state.bids.map((b) => b.id)].join();
  if (shape !== sheetShape) {
    sheetShape = shape;
    buildSheet(sheet, locked);
  }
  $("sheet-heading").textContent = SHEET_TITLES[sheet];
  fillSheet(sheet);
  const missing = missingEntries(state, sheet).length;
  $("sheet-state").textContent = locked
    ? t("sheet_locked")
    : missing
      ? t("sheet_missing", { n: missing })
      : t("sheet_complete");
  $("submit-sheet-button").hidden = locked;
  $("submit-sheet-button").disabled = missing > 0;
}

function entryOf(row) {
  const sheet = stageSheet(state);
  const mark = ownMark(state, sheet, row.dataset.bid, row.dataset.item);
  const entry = { sheet, bid: row.dataset.bid, item: row.dataset.item, reason: row.querySelector(".reason").value.trim() };
  if (sheet === "qualification") {
    const value = row.querySelector(".passed").value;
    if (!value) return null;
    entry.passed = value === "true";
  } else {
    const input = row.querySelector(".score");
    const text = input.value.trim();
    if (!text) return null;
    const item = methodItem(row.dataset.item);
    const ok = SCORE.test(text) && Number(text) >= Number(item.min_score) && Number(text) <= Number(item.max_score);
    input.setAttribute("aria-invalid", ok ? "false" : "true");
    if (!ok) {
      fail(new Error(t("score_invalid", { min: item.min_score, max: item.max_score })));
      return null;
    }
    entry.score = text;
    if (mark?.evidence) entry.evidence = mark.evidence;
  }
  return entry;
}

async function saveEntry(row, extra = {}) {
  const entry = entryOf(row);
  if (!entry) return;
  try {
    await client.command("mark", { ...entry, ...extra });
    say(t("saved"));
  } catch (exc) {
    fail(exc);
  }
}

$("sheet-tables").addEventListener("change", (event) => {
  const row = event.target.closest("tr[data-item]");
  if (row) saveEntry(row);
});

$("sheet-tables").addEventListener("click", (event) => {
  const button = event.target.closest(".pick-evidence");
  if (!button) return;
  const row = button.closest("tr[data-item]");
  if (viewed.bid !== row.dataset.bid || !viewed.path) {
    fail(new Error(t("evidence_pick_none")));
    return;
  }
  saveEntry(row, { evidence: { path: viewed.path, page: viewed.page } });
});

$("submit-sheet-button").addEventListener("click", () => {
  const sheet = stageSheet(state);
  if (!sheet || !window.confirm(t("confirm_submit"))) return;
  act(async () => {
    say(t("sheet_signing"));
    const reply = await client.command("sheet_statement", { sheet });
    const signed = await signGiven(reply);
    await client.command("submit_sheet", { sheet, key: signed.key, signature: signed.signature });
    say(t("sheet_submitted", { sha256: signed.sha256 }));
  });
});

// -- the document viewer -----------------------------------------------------------------------------------

function fileFor(bid, path) {
  return bid?.files.find((f) => folderPath(f.path) === folderPath(path)) ?? null;
}

function renderViewerChoices() {
  const visible = state.you.role === "expert" && mayAct(state) && me(state).declared;
  show("viewer-panel", visible);
  if (!visible) return;
  const select = $("viewer-bid");
  const shape = state.bids.map((b) => `${b.id}:${bidName(b)}`).join();
  if (select.dataset.shape !== shape) {
    const chosen = select.value;
    select.dataset.shape = shape;
    select.replaceChildren(
      element("option", { value: "", text: t("choose") }),
      ...state.bids.map((b) => element("option", { value: b.id, text: bidName(b) })),
    );
    select.value = state.bids.some((b) => b.id === chosen) ? chosen : "";
    renderFiles();
  }
}

function renderFiles() {
  const bid = bidOf($("viewer-bid").value);
  $("viewer-file").replaceChildren(
    element("option", { value: "", text: t("choose") }),
    ...(bid?.files ?? []).map((f) => element("option", { value: f.path, text: folderPath(f.path) })),
  );
  const pointers = bid?.response_index?.pointers ?? [];
  $("viewer-pointers").replaceChildren(
    ...(bid && !pointers.length ? [element("li", { class: "muted", text: t("no_pointers") })] : []),
    ...pointers.map((p) =>
      element(
        "li",
        {},
        element("button", {
          type: "button",
          class: "link pointer",
          "data-item": p.item,
          "data-path": p.path,
          "data-page": p.page,
          text: t("pointer_text", { item: itemTitle(p.item), path: p.path, page: p.page }),
        }),
      ),
    ),
  );
}

function fileUrl(bidId, path) {
  const encoded = folderPath(path).split("/").map(encodeURIComponent).join("/");
  return `${config.urls.files}${bidId}/files/${encoded}`;
}

async function openFile(bidId, path, page = 1) {
  const bid = bidOf(bidId);
  const file = fileFor(bid, path);
  if (!file) return;
  $("viewer-bid").value = bidId;
  if ($("viewer-file").options.length <= 1 || ![...$("viewer-file").options].some((o) => o.value === file.path)) renderFiles();
  $("viewer-file").value = file.path;
  if (!/\.pdf$/i.test(file.path)) {
    $("viewer-message").replaceChildren(
      t("viewer_not_pdf"),
      " ",
      element("a", { href: fileUrl(bidId, file.path), text: folderPath(file.path) }),
    );
    await viewer?.close();
    return;
  }
  viewer ??= new PdfViewer($("pdf-pages"), {
    workerUrl: config.urls.pdfWorker,
    dataUrl: config.urls.pdfData,
    viewer: config.me,
    onPage: ({ page: shown, pages, path: shownPath }) => {
      viewed = { bid: $("viewer-bid").value, path: shownPath, page: shown };
      $("viewer-page").textContent = t("viewer_page", { page: shown, pages });
      $("viewer-page-input").value = String(shown);
      $("viewer-message").textContent = "";
    },
    onError: (exc) => {
      $("viewer-message").textContent = t("viewer_failed", { reason: exc?.message ?? String(exc) });
    },
  });
  $("viewer-message").textContent = t("viewer_loading");
  viewed = { bid: bidId, path: null, page: 0 };
  await viewer.open(fileUrl(bidId, file.path), file.path, page);
}

$("viewer-bid").addEventListener("change", () => renderFiles());
$("viewer-file").addEventListener("change", () => {
  if ($("viewer-file").value) openFile($("viewer-bid").value, $("viewer-file").value, 1);
});
$("viewer-previous").addEventListener("click", () => viewer?.previous());
$("viewer-next").addEventListener("click", () => viewer?.next());
$("viewer-page-input").addEventListener("change", () => viewer?.show(Number($("viewer-page-input").value)));
$("viewer-pointers").addEventListener("click", (event) => {
  const button = event.target.closest("button.pointer");
  if (button) openFile($("viewer-bid").value, button.dataset.path, Number(button.dataset.page));
});

// -- deviations, closing a stage ---------------------------------------------------------------------------

function renderDeviations() {
  const mine = mayAct(state) ? myOpenDeviations(state) : [];
  const all = state.deviations;
  show("deviations-panel", all.length > 0);
  $("deviations-list").replaceChildren(
    ...all.map((d) => {
      const text = t("deviation_text", {
        bidder: bidName(bidOf(d.bid)),
        item: itemTitle(d.item),
        score: d.score,
        mean: Number(d.mean).toFixed(2),
        percent: d.percent ?? t("dash"),
      });
      const item = element("li", { "data-deviation": d.id }, element("p", {}, t("labelled", { label: memberName(d.member), text })));
      if (d.explained_at) item.append(element("p", { class: "muted", text: t("deviation_resolved_explained", { explanation: d.explanation }) }));
      else if (d.revised_at) item.append(element("p", { class: "muted", text: t("deviation_resolved_revised") }));
      else if (mine.some((m) => m.id === d.id)) {
        const explanation = element("textarea", { rows: "2", maxlength: "2000", class: "explanation", "aria-label": t("explain_button") });
        const score = element("input", { type: "text", inputmode: "decimal", class: "score", "aria-label": t("revise_button") });
        item.append(
          explanation,
          element("button", { type: "button", class: "explain", text: t("explain_button") }),
          " ",
          score,
          element("button", { type: "button", class: "secondary revise", text: t("revise_button") }),
        );
      }
      return item;
    }),
  );
}

$("deviations-list").addEventListener("click", (event) => {
  const item = event.target.closest("li[data-deviation]");
  if (!item) return;
  const deviation = Number(item.dataset.deviation);
  const explanation = item.querySelector(".explanation")?.value.trim() ?? "";
  if (event.target.closest(".explain")) {
    act(async () => {
      await client.command("explain_deviation", { deviation, explanation });
      say(t("explained_done"));
    });
  } else if (event.target.closest(".revise")) {
    act(async () => {
      await client.command("revise_score", { deviation, score: item.querySelector(".score").value.trim(), reason: explanation });
      say(t("revised_done"));
    });
  }
});

const CLOSABLE = new Set(["sign_in", "qualification", "scoring", "price", "summary"]);

function renderClose() {
  const stage = state.evaluation.stage;
  const visible = mayAct(state) && isChair(state) && CLOSABLE.has(stage);
  show("close-panel", visible);
  if (visible) $("close-stage-button").textContent = t("close_stage_button", { stage: config.stages[stage] });
}

$("close-stage-button").addEventListener("click", () => {
  const stage = state.evaluation.stage;
  if (!window.confirm(t("confirm_close_stage", { stage: config.stages[stage] }))) return;
  act(async () => {
    await client.command("close_stage", { stage });
    say(t("stage_closed_done"));
  });
});

// -- the committee, the revealed marks, the results --------------------------------------------------------

function renderMembers() {
  $("members-body").replaceChildren(
    ...state.members.map((m) => {
      const yes = (flag, on, off) => element("td", { class: flag ? "yes" : "no", text: flag ? on : off });
      const marks = [m.id === state.evaluation.chair ? t("chair_mark") : "", m.id === state.you.member ? t("you_mark") : ""].join("");
      return element(
        "tr",
        { "data-member": m.id, "data-state": m.state, "data-online": m.online ? "true" : "false" },
        element("th", { scope: "row", text: `${m.name}${marks}` }),
        element("td", { text: m.specialty }),
        m.state === "recused"
          ? element("td", { text: t("recused") })
          : yes(m.signed_in, t("signed_in_at", { venue: config.venues[m.venue] ?? m.venue, location: m.location }), t("not_signed_in")),
        yes(m.online, t("online"), t("offline")),
        yes(m.declared, t("declared"), t("not_declared")),
        yes(m.sheets.qualification, t("submitted"), t("not_submitted")),
        yes(m.sheets.scoring, t("submitted"), t("not_submitted")),
      );
    }),
  );
}

function renderRevealed() {
  show("revealed-panel", state.revealed.length > 0);
  const tables = [];
  for (const sheet of ["qualification", "scoring"]) {
    const marks = state.revealed.filter((m) => m.sheet === sheet);
    if (!marks.length) continue;
    const members = [...new Set(marks.map((m) => m.member))];
    const rows = [];
    for (const bid of state.bids) {
      const items = sheet === "qualification" ? state.evaluation.method.qualification : state.evaluation.method.criteria;
      for (const item of items) {
        const cells = members.map((member) => {
          const mark = marks.find((m) => m.member === member && m.bid === bid.id && m.item === item.id);
          const value = !mark ? t("dash") : sheet === "qualification" ? (mark.passed ? t("pass") : t("fail")) : mark.score;
          return element("td", { "data-label": memberName(member), text: mark?.reason ? t("with_reason", { value, reason: mark.reason }) : value });
        });
        const verdicts = marks.filter((m) => m.bid === bid.id && m.item === item.id).map((m) => m.passed);
        const split = sheet === "qualification" && new Set(verdicts).size > 1;
        rows.push(
          element(
            "tr",
            { "data-bid": bid.id, "data-item": item.id },
            element("th", { scope: "row", text: `${bidName(bid)} · ${item.id}` }, split ? element("span", { class: "disagreement", text: ` ${t("disagreement")}` }) : null),
            ...cells,
          ),
        );
      }
    }
    tables.push(
      element(
        "table",
        { class: "cards revealed", "data-sheet": sheet },
        element("caption", { text: SHEET_TITLES[sheet] }),
        element("thead", {}, element("tr", {}, element("th", { scope: "col", text: t("revealed_row_header") }), ...members.map((m) => element("th", { scope: "col", text: memberName(m) })))),
        element("tbody", {}, ...rows),
      ),
    );
  }
  $("revealed-tables").replaceChildren(...tables);
}

function money(value) {
  return value == null ? t("dash") : t("amount_yuan", { amount: amountText(value), words: amountInWords(value) });
}

function resultBlock(stage, result) {
  const block = element("div", { class: "result", "data-stage": stage }, element("h3", { text: config.stages[stage] ?? stage }));
  const list = element("ul");
  if (stage === "qualification") {
    for (const bid of state.bids) {
      const ok = result.qualified?.includes(bid.id);
      list.append(element("li", { text: t("labelled", { label: bidName(bid), text: ok ? t("qualified") : t("not_qualified") }) }));
    }
    for (const d of result.disagreements ?? []) {
      const verdict = result.verdicts?.[d.bid]?.[d.item];
      list.append(
        element("li", { class: "disagreement", text: t("labelled", { label: t("disagreement"), text: `${bidName(bidOf(d.bid))} · ${itemTitle(d.item)} · ${t("verdict", { passed: verdict?.passed_by?.length ?? 0, failed: verdict?.failed_by?.length ?? 0 })}` }) }),
      );
    }
  } else if (stage === "scoring") {
    for (const [bid, points] of Object.entries(result.points ?? {})) {
      list.append(element("li", { text: t("labelled", { label: bidName(bidOf(bid)), text: Object.entries(points).map(([c, p]) => `${c} ${p}`).join(t("list_separator")) }) }));
    }
  } else if (stage === "price") {
    for (const [bid, score] of Object.entries(result.price_scores ?? {})) {
      list.append(element("li", { text: t("labelled", { label: bidName(bidOf(bid)), text: t("price_score", { score }) }) }));
    }
  } else if (stage === "summary") {
    for (const r of result.ranking ?? []) {
      const label = t(r.candidate ? "rank_candidate" : "rank", { rank: r.rank, bidder: bidName(bidOf(r.bid)) });
      const line = t("labelled", { label, text: money(r.price) });
      const points =
        r.total == null
          ? ""
          : t("points_label", { technical: r.technical_points ?? t("dash"), commercial: r.commercial_points ?? t("dash"), price: r.price_score ?? t("dash"), total: r.total });
      list.append(element("li", { "data-rank": r.rank, text: points ? t("ranked_with_points", { line, points }) : line }));
    }
  }
  block.append(list);
  return block;
}

function renderResults() {
  const stages = STAGES.filter((s) => state.results[s]);
  show("results-panel", stages.length > 0);
  $("results-body").replaceChildren(...stages.map((s) => resultBlock(s, state.results[s])));
}

// -- clarifications, discussion ----------------------------------------------------------------------------

function renderClarifications() {
  $("clarifications-empty").hidden = state.clarifications.length > 0;
  $("clarifications-list").replaceChildren(
    ...state.clarifications.map((c) =>
      element(
        "li",
        { class: "objection", "data-clarification": c.id },
        element("p", { class: "muted", text: t("clarification_to", { bidder: bidName(bidOf(c.bid)), deadline: momentText(c.reply_deadline) }) }),
        element("p", { text: c.question }),
        element("p", { text: c.answered_at ? t("clarification_answer", { when: momentText(c.answered_at), answer: c.answer }) : t("clarification_waiting") }),
      ),
    ),
  );
  const chair = mayAct(state) && isChair(state) && ["qualification", "scoring", "price", "summary"].includes(state.evaluation.stage);
  show("clarification-form", chair);
  if (chair) {
    const select = $("clarification-bid");
    const shape = state.bids.map((b) => `${b.id}:${bidName(b)}`).join();
    if (select.dataset.shape !== shape) {
      select.dataset.shape = shape;
      select.replaceChildren(...state.bids.map((b) => element("option", { value: b.id, text: bidName(b) })));
    }
  }
  show("message-form", mayAct(state));
  $("messages-list").replaceChildren(
    ...state.messages.map((m) =>
      element("li", { "data-message": m.id }, element("span", { class: "meta", text: `${m.name} ${momentText(m.created_at)}` }), m.text),
    ),
  );
}

$("clarification-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const local = $("clarification-deadline").value;
  // datetime-local is the browser's own zone: sent as an instant.
  const deadline = local ? new Date(local).toISOString() : "";
  act(async () => {
    await client.command("ask_clarification", { bid: $("clarification-bid").value, question: $("clarification-question").value.trim(), reply_deadline: deadline });
    $("clarification-question").value = "";
    say(t("clarification_sent"));
  });
});

$("message-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const text = $("message-text").value.trim();
  act(async () => {
    await client.command("message", { text });
    $("message-text").value = "";
    say(t("message_sent"));
  });
});

// -- the report --------------------------------------------------------------------------------------------

function renderReport() {
  const report = state.report;
  show("report-panel", Boolean(report));
  if (!report) return;
  $("report-state").textContent = report.signed_at ? t("report_filed", { sha256: report.sha256 }) : t("report_ready", { sha256: report.sha256 });
  const decided = state.heard.report;
  $("report-decisions").replaceChildren(
    ...Object.entries(decided).map(([member, d]) =>
      element("li", {
        text:
          d.decision === "signed"
            ? t("report_signed_by", { name: memberName(Number(member)) })
            : d.reasons
              ? t("report_refused_by", { name: memberName(Number(member)), reasons: d.reasons })
              : t("report_refused_no_reason", { name: memberName(Number(member)) }),
      }),
    ),
  );
  const mine = state.you.member !== null && String(state.you.member) in decided;
  show("report-actions", mayAct(state) && !report.signed_at && !mine);
}

$("sign-report-button").addEventListener("click", () => {
  act(async () => {
    say(t("report_signing"));
    const reply = await client.command("report_statement");
    const signed = await signGiven(reply);
    await client.command("sign_report", { key: signed.key, signature: signed.signature });
    say(t("report_signed_done"));
  });
});

$("refuse-form").addEventListener("submit", (event) => {
  event.preventDefault();
  act(async () => {
    await client.command("refuse_report", { reasons: $("refuse-reasons").value.trim() });
    say(t("report_refused_done"));
  });
});

// -- the live connection -----------------------------------------------------------------------------------

function render() {
  if (!state) return;
  renderStages();
  renderSignIn();
  renderSheet();
  renderViewerChoices();
  renderDeviations();
  renderClose();
  renderMembers();
  renderRevealed();
  renderResults();
  renderClarifications();
  renderReport();
  document.body.dataset.sessionSeq = String(state.seq);
}

const ANNOUNCE = {
  "member.signed_in": (d) => t("ann_signed_in", { name: memberName(d.member) }),
  "member.presence": (d) => t(d.online ? "ann_presence_on" : "ann_presence_off", { name: memberName(d.member) }),
  "member.recused": (d) => t("ann_recused", { name: memberName(d.member) }),
  "member.replaced": (d) => t("ann_replaced", { name: memberName(d.member) }),
  "chair.elected": (d) => t("ann_chair", { name: memberName(d.member) }),
  "sheet.submitted": (d) => t("ann_sheet_submitted", { name: memberName(d.member), sheet: SHEET_TITLES[d.sheet] }),
  "scores.revealed": (d) => t("ann_revealed", { sheet: SHEET_TITLES[d.sheet] }),
  "deviation.flagged": () => t("ann_deviation"),
  "stage.opened": (d) => t("ann_stage", { stage: config.stages[d.stage] }),
  "message.posted": (d) => t("ann_message", { name: d.name, text: d.text }),
  "clarification.asked": () => t("ann_clarification"),
  "clarification.answered": () => t("ann_clarification_answered"),
  "report.ready": () => t("ann_report"),
  "tender.failed": (d) => t("tender_failed", { message: d.message }),
};

function statusText({ state: connection, attempt, delayMs, message }) {
  switch (connection) {
    case "live":
      return t("status_live");
    case "reconnecting":
      return delayMs
        ? t("status_reconnecting_in", { seconds: Math.ceil(delayMs / 1000), attempt })
        : t("status_reconnecting", { attempt });
    case "waiting":
      return t("status_waiting");
    case "refused":
      return t("status_refused", { reason: message || t("dash") });
    default:
      return t("status_connecting");
  }
}

const scheme = window.location.protocol === "https:" ? "wss" : "ws";
const client = new RoomClient(`${scheme}://${window.location.host}${config.urls.socket}`, {
  onSnapshot(frame) {
    state = fromSnapshot(frame, state);
    render();
  },
  onEvent(frame) {
    const before = state;
    state = applyEvent(state, frame);
    if (state !== before) {
      const words = ANNOUNCE[frame.kind]?.(frame.data);
      if (words) announce(words);
      if (needsSnapshot(frame)) client.refresh();
      render();
    }
  },
  onStatus(status) {
    $("session-status").dataset.state = status.state;
    $("session-status").textContent = statusText(status);
  },
});
client.start();
