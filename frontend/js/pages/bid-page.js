// The bidder's page for one tender (提交投标文件): check every custodian's
// signed confirmation against this browser's trust list, choose files, fill the
// price summary, seal in a Web Worker into the Origin Private File System,
// upload the parts a window at a time (lib/part-upload.js: retrying, resumable
// after a reload, parts the platform has never sent again), finalize, and check
// the receipt. Prices are read by the CLI's rule (lib/prices.js); a bid may price
// only some lots; a bid too large is refused before sealing; replacing the standing
// bid is confirmed, showing what it replaces; a withdrawal gets its own receipt; the
// page closes itself at the deadline by the platform's clock. The method's required
// documents (一次性告知) are checked against the chosen files, locally, and sealing is
// refused until each is there; the response index (评审因素定位: a file and page per
// criterion and document, chosen in a table) is sealed inside the bid.

import { fromBase64, toBase64, toHex, sha256 } from "../sealing/bytes.js";
import { bidPath, lotPrice } from "../sealing/container.js";
import { sealedSize } from "../sealing/seal.js";
import { MAX_PAGE, missingDocuments, namedFile, responseIndex } from "../sealing/response-index.js";
import { checkCustody, trustFrom } from "../sealing/custody.js";
import { signManifest } from "../sealing/manifest.js";
import { verifyReceipt } from "../sealing/receipt.js";
import { ApiError, NetworkError, api, putPart } from "../lib/api.js";
import { amountText, momentText } from "../lib/format.js";
import { mib, readConfig, setMessages, sizeText, t } from "../lib/i18n.js";
import { loadBrowserKeys, registrationOf } from "../lib/keys.js";
import { opfsFile, opfsNames, removeOpfsFile } from "../lib/opfs.js";
import { MAX_RETRIES, PartMismatch, UploadInterrupted, sendParts as sendPartsInWindow } from "../lib/part-upload.js";
import { isBlank, normalizeAmount, scheduleDays } from "../lib/prices.js";
import { TrustError, importAnchors, loadTrust, pinKey, removeAnchor, unpinKey } from "../lib/trust.js";
import { SEALED, UPLOADS, all, get, put, remove, sealedKey, uploadKey } from "../lib/store.js";

const config = readConfig("bid-config");
setMessages(config.messages);

const $ = (id) => document.getElementById(id);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const SUBMITTED = "tendering.bid.submitted";
const WITHDRAWN = "tendering.bid.withdrawn";

// `bids`: the organization's bids of this tender as the server last listed them; `closed`: past the deadline.
const page = { keys: null, ready: false, busy: false, trustAnchors: null, custody: null, bids: [], closed: !config.open };

// -- small view helpers ---------------------------------------------------------------------------------

function setStatus(text) {
  $("status").textContent = text;
}

function showError(text) {
  const box = $("error");
  box.textContent = text;
  box.hidden = !text;
  if (text) $("progress-section").hidden = false;
}

function setBusy(busy) {
  page.busy = busy;
  const button = $("seal-button");
  if (button) button.disabled = busy || page.closed || !page.ready || !page.custody?.ok;
  for (const id of ["resume-button", "discard-button", "retry-button"]) if ($(id)) $(id).disabled = busy;
  document.querySelectorAll("button.withdraw").forEach((b) => {
    b.disabled = busy;
  });
}

function progress(id, done, total, text) {
  $(id).max = total || 1;
  $(id).value = done;
  $(`${id}-text`).textContent = text;
}

/** Empties both progress bars and their texts: what they showed belongs to an earlier bid. */
function clearProgress() {
  progress("seal-progress", 0, 1, "");
  progress("upload-progress", 0, 1, "");
}

function element(tag, attributes = {}, ...content) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  for (const item of content) node.append(item);
  return node;
}

function explain(exc) {
  if (exc instanceof ApiError) return exc.message;
  if (exc instanceof NetworkError) return t("network_down");
  return exc?.message ? String(exc.message) : String(exc);
}

// -- keys -------------------------------------------------------------------------------------------

async function checkKeys() {
  const box = $("keys-state");
  page.ready = false;
  try {
    page.keys = await loadBrowserKeys(config.user);
    // A custodian's record may hold an encryption key only: a bid needs both.
    if (!page.keys?.signing || !page.keys?.encryption) {
      box.textContent = t("keys_missing");
      return;
    }
    const registered = await registrationOf(page.keys);
    const active = (k) => k && !k.revoked_at;
    if (!active(registered.signing) || !active(registered.encryption)) {
      box.textContent = t("keys_unregistered");
      return;
    }
    box.textContent = t("keys_ready", {
      signing: page.keys.signing.fingerprint.slice(0, 16),
      encryption: page.keys.encryption.fingerprint.slice(0, 16),
    });
    page.ready = true;
  } catch (exc) {
    box.textContent = t("keys_unavailable", { reason: explain(exc) });
  } finally {
    box.dataset.ready = String(page.ready);
    setBusy(page.busy);
  }
}

// -- the custodians' confirmations and the trust list ---------------------------------------------

function refusal(result) {
  return t("custody_refused", { name: result.name || "—", username: result.username || "—", reason: t(`custody_reason_${result.reason}`) });
}

/**
 * Checks every custodian's confirmation (docs/custody.md §C) against this
 * browser's trust list; `page.custody` is `{ok, results, spkis}`, the
 * custodians' encryption keys in `spkis` only when every one holds.
 */
async function checkCustodians() {
  const box = $("custody-state");
  const list = $("custody-list");
  if (!config.custodians.length) {
    page.custody = { ok: true, results: [], spkis: [] };
    box.textContent = t("custody_none");
    box.dataset.ok = "true";
    setBusy(page.busy);
    return page.custody;
  }
  page.custody = null;
  box.textContent = t("custody_checking");
  box.dataset.ok = "pending";
  try {
    const [custody, trust] = await Promise.all([api("GET", config.urls.custody), loadTrust(config.user)]);
    const expected = { tender: config.tender, threshold: config.threshold, recipients: config.custodians.map((c) => c.fingerprint) };
    page.custody = await checkCustody(custody, expected, trustFrom({ anchors: trust.anchors.map((a) => a.pem), pins: trust.pins }));
  } catch (exc) {
    page.custody = { ok: false, results: [], spkis: null, error: t("custody_unavailable", { reason: explain(exc) }) };
  }
  const { ok, results } = page.custody;
  list.replaceChildren(
    ...results.map((r) =>
      element(
        "li",
        { class: r.ok ? "check-ok" : "check-failed", "data-username": r.username, "data-reason": r.reason ?? "" },
        element("span", { "aria-hidden": "true" }, r.ok ? "✓ " : "✗ "),
        r.ok ? `${r.name} (${r.username}) — ${t(`trusted_by_${r.trustedBy}`)} ` : refusal(r),
        ...(r.ok ? [element("code", { class: "fingerprint" }, r.signingKey)] : []),
        ...(r.ok || !r.detail ? [] : [" ", element("span", { class: "muted" }, `(${r.detail})`)]),
      ),
    ),
  );
  // A key changed since the custodians confirmed is the cause to name first, before the confirmations it broke.
  const first = results.find((r) => r.reason === "key_changed") ?? results.find((r) => !r.ok);
  box.textContent = ok ? t("custody_ok", { n: results.length }) : (page.custody.error ?? (first ? refusal(first) : t("custody_not_checked")));
  box.className = ok ? "message success" : "message error";
  box.dataset.ok = String(ok);
  setBusy(page.busy);
  return page.custody;
}

function trustMessage(text, kind = "success") {
  const box = $("trust-message");
  box.textContent = text;
  box.className = text ? `message ${kind}` : "";
}

async function renderTrust() {
  const trust = await loadTrust(config.user);
  const remove = (label, action) =>
    element("button", { type: "button", class: "secondary small", onclick: () => trustChange(action, t("trust_removed")) }, t("trust_remove"), element("span", { class: "visually-hidden" }, ` ${label}`));
  const items = [
    ...trust.anchors.map((a) =>
      element(
        "li",
        { "data-anchor": a.fingerprint },
        `${t("trust_anchor")}: ${a.subject} `,
        element("code", { class: "fingerprint", title: "SHA-256" }, a.fingerprint),
        " ",
        element("span", { class: "muted" }, `(${t("trust_valid_until", { when: momentText(a.notAfter) })}) `),
        remove(a.subject, () => removeAnchor(config.user, a.fingerprint)),
      ),
    ),
    ...trust.pins.map((p) =>
      element(
        "li",
        { "data-pin": p.username },
        `${t("trust_pin")}: ${p.username} `,
        element("code", { class: "fingerprint" }, p.fingerprint),
        " ",
        remove(p.username, () => unpinKey(config.user, p.username, p.fingerprint)),
      ),
    ),
  ];
  $("trust-list").replaceChildren(...(items.length ? items : [element("li", { class: "empty" }, t("trust_empty"))]));
}

/** Changes the trust list, then shows it and checks the custodians again against it. */
async function trustChange(action, done) {
  try {
    const message = await action();
    trustMessage(typeof message === "string" ? message : done);
  } catch (exc) {
    if (exc instanceof TrustError && exc.message === "username") trustMessage(t("trust_bad_username"), "error");
    else if (exc instanceof TrustError && exc.message === "fingerprint") trustMessage(t("trust_bad_fingerprint"), "error");
    else if (exc instanceof TrustError) trustMessage(t("trust_no_certificate"), "error");
    else trustMessage(t("failed", { reason: explain(exc) }), "error");
  }
  await renderTrust();
  await checkCustodians();
}

function setUpTrust() {
  $("trust-ca-file").addEventListener("change", (event) => {
    const file = event.target.files[0];
    if (!file) return;
    trustChange(async () => {
      const added = await importAnchors(config.user, await file.text());
      event.target.value = "";
      return t("trust_imported", { n: added.length });
    });
  });
  $("trust-offer-button").addEventListener("click", () =>
    trustChange(async () => {
      const offered = (await api("GET", config.urls.keyCa)).certificates;
      if (!offered.length) return t("trust_offer_none");
      if (!window.confirm($("trust-offer-warning").textContent)) return "";
      const added = await importAnchors(config.user, offered.join("\n"));
      return t("trust_imported", { n: added.length });
    }),
  );
  $("pin-button").addEventListener("click", () =>
    trustChange(async () => {
      const username = $("pin-username").value;
      await pinKey(config.user, username, $("pin-fingerprint").value);
      $("pin-username").value = "";
      $("pin-fingerprint").value = "";
      return t("trust_pinned", { username: username.trim() });
    }),
  );
}

// -- the form ---------------------------------------------------------------------------------------

function chosenFiles() {
  const input = $("bid-files");
  return input ? [...input.files] : [];
}

function renderFiles() {
  const list = $("file-list");
  list.replaceChildren(
    ...chosenFiles().map((file) => element("li", {}, `${file.name} `, element("span", { class: "muted" }, `(${sizeText(file.size)})`))),
  );
  renderPointers();
}

// -- the response index and the required materials ------------------------------------------------------

const chosenNames = () => chosenFiles().map((file) => file.name.normalize("NFC"));
const pointerRows = () => [...document.querySelectorAll("#response-table tr[data-item]")];

/** Each row's file list is the chosen files; a document's row starts on the file named after it. */
function renderPointers() {
  const names = chosenNames();
  for (const row of pointerRows()) {
    const select = row.querySelector("select.pointer-file");
    const kept = names.includes(select.value) ? select.value : "";
    const none = element("option", { value: "" }, t("pointer_none"));
    select.replaceChildren(none, ...names.map((name) => element("option", { value: name }, name)));
    select.value = kept || (row.dataset.kind === "document" ? (namedFile(row.dataset.name, names) ?? "") : "");
  }
  updateMaterials();
}

/** The pointers the table holds now (a page that is not a number counts as page 1 here; readForm refuses it). */
function tablePointers() {
  return pointerRows()
    .map((row) => ({ row, path: row.querySelector("select.pointer-file").value, text: row.querySelector("input.pointer-page").value.trim() }))
    .filter((p) => p.path)
    .map(({ row, path, text }) => ({ row, item: row.dataset.item, path, page: /^[0-9]{1,6}$/.test(text) ? Number(text) : 1 }));
}

/** Lists the required documents the chosen files lack; returns them as [item, document] pairs. */
function updateMaterials() {
  const box = $("materials-state");
  if (!box) return [];
  const missing = missingDocuments(config.method, chosenNames(), { pointers: tablePointers() });
  if (!missing.length) {
    box.replaceChildren(element("p", { class: "muted" }, t("materials_complete")));
    box.dataset.missing = "0";
    return missing;
  }
  box.replaceChildren(
    element("p", { class: "form-errors" }, t("materials_missing", { n: missing.length })),
    element("ul", { id: "missing-documents" }, ...missing.map(([q, d]) => element("li", { "data-document": d.id }, t("material_line", { item: q.id, title: q.title, name: d.name })))),
  );
  box.dataset.missing = String(missing.length);
  return missing;
}

/** The response index of the table (null when no row points anywhere), or undefined after marking what is wrong. */
function readPointers() {
  let ok = true;
  for (const row of pointerRows()) {
    const select = row.querySelector("select.pointer-file");
    const page = row.querySelector("input.pointer-page");
    const text = page.value.trim();
    const valid = !select.value || (/^[0-9]{1,6}$/.test(text) && Number(text) >= 1 && Number(text) <= MAX_PAGE);
    ok = fieldError(page, valid ? "" : t("page_invalid")) && ok;
    fieldError(select, "");
  }
  for (const [, document_] of updateMaterials()) {
    const select = $(`pointer-file-${document_.id}`);
    if (select) ok = fieldError(select, t("material_required", { name: document_.name })) && ok;
  }
  if (!ok) return undefined;
  const pointers = tablePointers().map(({ item, path, page }) => ({ item, path, page }));
  return pointers.length ? responseIndex(pointers) : null;
}

function fieldError(input, message) {
  const holder = input.closest("td, fieldset, .field");
  let note = holder.querySelector(".errorlist");
  if (!note) {
    note = element("p", { class: "errorlist", id: `${input.id}-error` });
    holder.append(note);
  }
  note.textContent = message || "";
  note.hidden = !message;
  if (message) {
    input.setAttribute("aria-invalid", "true");
    input.setAttribute("aria-describedby", note.id);
  } else {
    input.removeAttribute("aria-invalid");
  }
  return !message;
}

/** Clears every mark `fieldError` left, as after `form.reset()`. */
function clearFieldErrors(form) {
  for (const note of form.querySelectorAll(".errorlist")) {
    note.textContent = "";
    note.hidden = true;
  }
  for (const input of form.querySelectorAll("[aria-invalid]")) input.removeAttribute("aria-invalid");
}

/**
 * The lots and files of the form, or null after marking what is wrong. Prices and
 * schedules are read by the CLI's rule (lib/prices.js); a lot whose row is left
 * wholly blank is not bid for, as the CLI prices only the lots it is given.
 */
function readForm() {
  let ok = true;
  const lots = [];
  const rows = [...document.querySelectorAll("tr[data-lot]")];
  for (const row of rows) {
    const lot = row.dataset.lot;
    const price = row.querySelector("input.price");
    const days = row.querySelector("input.days");
    const fields = [...row.querySelectorAll("input.declared")];
    if ([price, days, ...fields].every((input) => isBlank(input.value))) {
      fieldError(price, "");
      fieldError(days, "");
      continue;
    }
    const priceYuan = normalizeAmount(price.value);
    ok = fieldError(price, priceYuan === null ? t("price_invalid") : "") && ok;
    const scheduled = isBlank(days.value) ? 0 : scheduleDays(days.value);
    ok = fieldError(days, scheduled === null ? t("days_invalid") : "") && ok;
    if (priceYuan === null || scheduled === null) continue;
    const declared = {};
    for (const input of fields) {
      if (input.value.trim()) declared[input.dataset.field] = input.value.trim();
    }
    try {
      lots.push(lotPrice({ lot, price_yuan: priceYuan, schedule_days: scheduled, declared }));
    } catch (exc) {
      ok = fieldError(price, exc.message) && ok;
    }
  }
  if (ok && rows.length && !lots.length) ok = fieldError(rows[0].querySelector("input.price"), t("lots_missing"));
  const input = $("bid-files");
  const files = [];
  let filesError = "";
  if (!chosenFiles().length) filesError = t("files_missing");
  for (const file of chosenFiles()) {
    try {
      files.push({ path: bidPath(file.name), data: file });
    } catch (exc) {
      filesError = t("file_name_invalid", { name: file.name, reason: exc.message });
    }
  }
  const seen = new Set(files.map((f) => f.path));
  if (!filesError && seen.size !== files.length) filesError = t("file_names_repeat");
  const index = readPointers();
  if (index === undefined) ok = false;
  if (!filesError && ok) {
    // Refused here, before sealing: the platform refuses a larger upload only after the whole sealing.
    try {
      const size = sealedSize(files, lots, { tender: config.tender, bid: crypto.randomUUID(), bidder: config.bidder }, index);
      if (size > config.maxBidBytes) filesError = t("bid_too_large", { size: mib(size), limit: mib(config.maxBidBytes) });
    } catch (exc) {
      filesError = exc.message;
    }
  }
  ok = fieldError(input, filesError) && ok;
  if (!ok) {
    document.querySelector("[aria-invalid=true]")?.focus();
    return null;
  }
  return { lots, files, index };
}

// -- sealing -----------------------------------------------------------------------------------------

function sealInWorker(job) {
  return new Promise((resolve, reject) => {
    const worker = new Worker(config.worker);
    const started = performance.now();
    worker.onmessage = ({ data }) => {
      if (data.type === "progress") {
        const seconds = (performance.now() - started) / 1000;
        const rate = seconds > 0 ? (data.done / 1048576 / seconds).toFixed(0) : "";
        progress("seal-progress", data.done, data.total, t("sealed_so_far", { done: mib(data.done), total: mib(data.total), rate }));
      } else if (data.type === "sealed") {
        worker.terminate();
        resolve(data);
      } else if (data.type === "error") {
        worker.terminate();
        reject(sealingFailure(data));
      }
    };
    worker.onerror = (event) => {
      worker.terminate();
      reject(new Error(event.message || "worker error"));
    };
    worker.postMessage({ type: "seal", job });
  });
}

/** The worker's refusal in the reader's words where it is a known one. */
function sealingFailure({ name, message }) {
  if (name === "QuotaExceededError") return new Error(t("storage_full"));
  if (name === "NotReadableError" || name === "NotFoundError" || /changed while it was being sealed/.test(message)) {
    return new Error(t("file_changed"));
  }
  return new Error(message);
}

/** What replacing the standing bid replaces, as the server lists it and with the prices this browser sealed into it. */
async function replaceQuestion(standing) {
  const known = await get(SEALED, sealedKey(config.user, standing.bid_id)).catch(() => null);
  const prices = known?.lots?.length
    ? t("confirm_replace_prices", { prices: known.lots.map((l) => t("lot_price", { lot: l.lot, price: amountText(l.price_yuan) })).join("；") })
    : "";
  return t("confirm_replace", { bid: standing.bid_id, when: momentText(standing.accepted_at), prices });
}

async function submit(event) {
  event.preventDefault();
  if (page.busy || page.closed) return;
  showError("");
  const form = readForm();
  if (!form) return;
  await checkKeys();
  if (!page.ready) {
    showError(t("keys_not_ready"));
    return;
  }
  // Checked again now, not trusted from when the page loaded: the platform may have changed a key since.
  const custody = await checkCustodians();
  if (!custody.ok) {
    showError($("custody-state").textContent);
    return;
  }
  // A new bid replaces the standing one: asked, with what it holds, from the server's list as it is now.
  await loadBids();
  const standing = page.bids.find((bid) => bid.status === "accepted");
  if (standing && !window.confirm(await replaceQuestion(standing))) {
    $("progress-section").hidden = false;
    clearProgress();
    setStatus(t("replace_cancelled"));
    return;
  }
  setBusy(true);
  $("progress-section").hidden = false;
  $("receipt-section").hidden = true;
  clearProgress();
  const bid = crypto.randomUUID();
  let record = {
    key: uploadKey(config.user, config.tender),
    user: config.user,
    tender: config.tender,
    bid,
    opfsName: `bid-${bid}.sealed`,
    phase: "sealing",
    createdAt: new Date().toISOString(),
    // Kept in this browser only, to show what a later submission would replace (lib/store.js).
    lots: form.lots.map(({ lot, price_yuan, schedule_days }) => ({ lot, price_yuan, schedule_days })),
  };
  try {
    await navigator.storage.persist?.().catch(() => false);
    // A new sealing replaces an unfinished one: its upload is abandoned and its local copy deleted.
    const earlier = await get(UPLOADS, record.key);
    if (earlier) await discard(earlier, { quiet: true });
    await put(UPLOADS, record);
    setStatus(t("sealing"));
    const sealed = await sealInWorker({
      files: form.files,
      lots: form.lots,
      tender: config.tender,
      bid,
      bidder: config.bidder,
      signingKeyFingerprint: page.keys.signing.fingerprint,
      encryptionSpki: page.keys.encryption.spki,
      custodians: custody.spkis,
      threshold: config.threshold,
      responseIndex: form.index,
      opfsName: record.opfsName,
    });
    const signature = await signManifest(sealed.manifestBytes, page.keys.signing.privateKey);
    record = {
      ...record,
      phase: "sealed",
      size: sealed.size,
      ciphertextSha256: sealed.ciphertextSha256,
      manifest: toBase64(sealed.manifestBytes),
      manifestSha256: toHex(await sha256(sealed.manifestBytes)),
      signature: toBase64(signature),
      uploadId: null,
    };
    await put(UPLOADS, record);
    setStatus(t("sealed_done", { size: mib(sealed.size), seconds: sealed.seconds.toFixed(1) }));
    await upload(record);
  } catch (exc) {
    if (record.phase === "sealing") {
      await removeOpfsFile(record.opfsName);
      await remove(UPLOADS, record.key);
    }
    failed(exc, record.phase === "sealing" ? "sealing_failed" : null);
  } finally {
    setBusy(false);
  }
}

/** After a sealing or an upload that did not end in a bid: the error, and a status that says where the bid stands. */
function failed(exc, status = null) {
  showError(t("failed", { reason: explain(exc) }));
  setStatus(t(status ?? ($("retry-button").hidden ? "upload_failed" : "upload_paused")));
  if (exc instanceof ApiError && exc.code === "deadline_passed") closePage();
}

// -- uploading -------------------------------------------------------------------------------------------
// Parts go a window at a time (lib/part-upload.js); finalize and resuming after a reload stay here.

async function partDigest(file, number, partSize) {
  const from = (number - 1) * partSize;
  return toHex(await sha256(new Uint8Array(await file.slice(from, Math.min(file.size, from + partSize)).arrayBuffer())));
}

async function uploadStatus(record) {
  return api("GET", `${config.urls.uploads}${record.uploadId}`);
}

/** What the upload loop tells, in the page's words. */
function uploadNote(event) {
  if (event.type === "checking") setStatus(t("checking_parts", { n: event.n, total: event.total }));
  else if (event.type === "uploading") setStatus(t("uploading_part", { n: event.n, total: event.total }));
  else if (event.error instanceof ApiError) {
    // The platform answered, but has not confirmed the part yet (still receiving it, its store down, …).
    setStatus(t("retrying_part", { n: event.n, reason: event.error.message, seconds: event.seconds, attempt: event.attempt, max: event.max }));
  } else setStatus(t("retrying", { seconds: event.seconds, attempt: event.attempt, max: event.max }));
}

/** Sends the parts the platform lacks, checking those it has; resolves once it has every one with our bytes' SHA-256. */
async function sendParts(record, file, status) {
  const partSize = status.part_size;
  const url = (number) => `${config.urls.uploads}${record.uploadId}/parts/${number}`;
  const slice = (number) => file.slice((number - 1) * partSize, Math.min(file.size, number * partSize));
  try {
    await sendPartsInWindow(status, {
      digest: (number) => partDigest(file, number, partSize),
      put: (number, { onLoaded, onSent, signal }) => putPart(url(number), slice(number), { onProgress: onLoaded, onSent, signal }),
      status: () => uploadStatus(record),
      sleep,
      say: uploadNote,
      progress: (bytes) => progress("upload-progress", bytes, record.size, t("uploaded_so_far", { done: mib(bytes), total: mib(record.size) })),
    });
  } catch (exc) {
    if (exc instanceof PartMismatch) throw new Error(t("part_mismatch", { n: exc.number }));
    if (exc instanceof UploadInterrupted) throw new UploadPaused(t("upload_interrupted", { n: exc.number }));
    throw exc;
  }
}

/** The upload stopped after its retries: "Resume upload" (or the retry button) continues it. */
class UploadPaused extends Error {}

async function finalize(record) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await api("POST", `${config.urls.uploads}${record.uploadId}/finalize`, { manifest: record.manifest, signature: record.signature });
    } catch (exc) {
      if (exc instanceof ApiError && exc.code === "already_finalized") return api("GET", `${config.urls.bids}/${record.bid}`);
      if (!(exc instanceof NetworkError) || attempt > MAX_RETRIES) throw exc;
      const wait = Math.min(30, 2 ** (attempt - 1));
      setStatus(t("retrying", { seconds: wait, attempt, max: MAX_RETRIES }));
      await sleep(wait * 1000);
    }
  }
}

async function upload(record) {
  $("retry-button").hidden = true;
  const file = await opfsFile(record.opfsName);
  if (!file || file.size !== record.size) {
    await discard(record, { quiet: true });
    throw new Error(t("local_copy_lost"));
  }
  try {
    if (!record.uploadId) {
      const started = await api("POST", config.urls.startUpload, { bid_id: record.bid, size: record.size });
      record = { ...record, uploadId: started.upload_id };
      await put(UPLOADS, record);
    }
    const status = await uploadStatus(record);
    if (status.state === "finalized") {
      await accepted(record, await api("GET", `${config.urls.bids}/${record.bid}`));
      return;
    }
    if (status.state !== "open") {
      await discard(record, { quiet: true });
      throw new Error(t("upload_closed", { state: status.state }));
    }
    await sendParts(record, file, status);
    setStatus(t("finalizing"));
    await accepted(record, await finalize(record));
  } catch (exc) {
    if (exc instanceof UploadPaused || exc instanceof NetworkError) {
      $("retry-button").hidden = false;
      $("retry-button").onclick = () => resumeUpload();
    }
    throw exc;
  }
}

async function accepted(record, bid) {
  await remove(UPLOADS, record.key);
  await removeOpfsFile(record.opfsName);
  $("resume").hidden = true;
  progress("upload-progress", record.size, record.size, t("uploaded_so_far", { done: mib(record.size), total: mib(record.size) }));
  setStatus(t("accepted"));
  await rememberSealed(record);
  // The form is emptied: a second click cannot submit (and so replace) the same bid again unasked.
  const form = $("bid-form");
  if (form) {
    form.reset();
    clearFieldErrors(form);
    renderFiles();
  }
  await showReceipt(bid, {
    expected: { ciphertext_sha256: record.ciphertextSha256, size: record.size, manifest_sha256: record.manifestSha256 },
  });
  await loadBids();
}

/** Keeps what this browser sealed into the bid now standing, and forgets what it kept of the bids it replaced. */
async function rememberSealed(record) {
  try {
    for (const kept of await all(SEALED)) {
      if (kept.user === config.user && kept.tender === config.tender) await remove(SEALED, kept.key);
    }
    if (record.lots) {
      await put(SEALED, { key: sealedKey(config.user, record.bid), user: config.user, tender: config.tender, bid: record.bid, lots: record.lots });
    }
  } catch {
    // Only the replacement question would miss it: it then names the bid without its prices.
  }
}

async function discard(record, { quiet = false } = {}) {
  if (record.uploadId) {
    try {
      await api("DELETE", `${config.urls.uploads}${record.uploadId}`);
    } catch {
      // already closed, or offline: the server expires it at the deadline
    }
  }
  await removeOpfsFile(record.opfsName);
  await remove(UPLOADS, record.key);
  $("resume").hidden = true;
  if (!quiet) setStatus(t("discarded"));
}

async function resumeUpload() {
  if (page.busy) return;
  const record = await get(UPLOADS, uploadKey(config.user, config.tender));
  if (!record) return;
  showError("");
  setBusy(true);
  $("progress-section").hidden = false;
  progress("seal-progress", record.size, record.size, t("sealed_earlier"));
  try {
    await upload(record);
  } catch (exc) {
    failed(exc);
  } finally {
    setBusy(false);
  }
}

async function checkPending() {
  const record = await get(UPLOADS, uploadKey(config.user, config.tender));
  const mine = new Set((await all(UPLOADS)).map((r) => r.opfsName));
  for (const name of await opfsNames()) if (!mine.has(name)) await removeOpfsFile(name); // left over by a closed tab
  if (!record) return;
  if (page.closed) {
    // Past the deadline an unfinished upload can no longer become a bid: its local copy goes.
    await discard(record, { quiet: true });
    setStatus(t("upload_failed"));
    $("progress-section").hidden = false;
    return;
  }
  if (record.phase !== "sealed") {
    await discard(record, { quiet: true });
    setStatus(t("sealing_was_interrupted"));
    $("progress-section").hidden = false;
    return;
  }
  $("resume-text").textContent = t("resume_text", { bid: record.bid, size: mib(record.size), when: momentText(record.createdAt) });
  $("resume").hidden = false;
  $("resume-button").onclick = () => resumeUpload();
  $("discard-button").onclick = async () => {
    if (!window.confirm(t("confirm_discard"))) return;
    await discard(record);
    $("progress-section").hidden = false;
  };
}

// -- receipts -----------------------------------------------------------------------------------------

/** The anchors the platform's receipt chain and its time-stamp authority must chain to: `{trustAnchors, tsaAnchors}`. */
async function receiptAnchors() {
  if (page.trustAnchors === null) {
    try {
      const trust = await api("GET", config.urls.trust);
      page.trustAnchors = { trustAnchors: trust.trust_anchors.join("\n"), tsaAnchors: trust.tsa_trust_anchors.join("\n") };
    } catch {
      page.trustAnchors = { trustAnchors: "", tsaAnchors: "" };
    }
  }
  return page.trustAnchors;
}

/**
 * Shows and checks the receipt of a bid's submission, or (`withdrawal`) of its
 * withdrawal, naming this bid; `expected` adds what this browser knows of it.
 * A receipt the platform has not issued yet (its time-stamp authority did not
 * answer) is said so, with nothing of an earlier receipt left beside it.
 */
async function showReceipt(bid, { withdrawal = false, expected = {} } = {}) {
  const section = $("receipt-section");
  section.hidden = false;
  $("receipt-heading").textContent = t(withdrawal ? "receipt_heading_withdrawal" : "receipt_heading_bid");
  const encoded = withdrawal ? bid.withdrawal_receipt : bid.receipt;
  const verdict = $("receipt-verdict");
  const download = $("receipt-download");
  $("receipt-pending").hidden = Boolean(encoded);
  download.hidden = !encoded;
  if (!encoded) {
    $("receipt-pending").textContent = t("receipt_pending");
    for (const id of ["receipt-facts", "receipt-checks"]) $(id).replaceChildren();
    verdict.textContent = "";
    verdict.className = "";
    verdict.dataset.verified = "pending";
    section.scrollIntoView({ block: "start" });
    return null;
  }
  const receipt = fromBase64(encoded);
  const result = await verifyReceipt(receipt, {
    expected: { bid_id: bid.bid_id, tender_id: config.tender, ciphertext_sha256: bid.sha256, ...expected },
    action: withdrawal ? WITHDRAWN : SUBMITTED,
    ...(await receiptAnchors()),
  });
  const facts = [
    [t("bid_id"), bid.bid_id],
    [t("status"), config.statuses[bid.status] ?? bid.status],
    [t("ciphertext_sha256"), bid.sha256],
    [t("size"), `${bid.size} ${t("bytes")}`],
    withdrawal ? [t("withdrawn_at"), momentText(bid.withdrawn_at)] : [t("accepted_at"), momentText(bid.accepted_at)],
    [t("ledger_position"), t("ledger_position_value", { seq: result.seq ?? (withdrawal ? bid.withdrawal_ledger_seq : bid.ledger_seq), size: result.treeSize ?? "?" })],
    [t("timestamp_time"), result.timestampTime ? momentText(result.timestampTime) : "—"],
  ];
  $("receipt-facts").replaceChildren(...facts.flatMap(([label, value]) => [element("dt", {}, label), element("dd", {}, element("code", {}, String(value)))]));
  const label = (check) => t(withdrawal && check === "subject" ? "check_subject_withdrawal" : `check_${check}`);
  $("receipt-checks").replaceChildren(
    ...result.checks.map((check) =>
      element(
        "li",
        { class: check.ok ? "check-ok" : "check-failed" },
        element("span", { "aria-hidden": "true" }, check.ok ? "✓ " : "✗ "),
        `${label(check.check)}${check.ok ? "" : ` — ${check.detail}`}`,
      ),
    ),
  );
  verdict.textContent = result.ok ? t("receipt_verified") : t("receipt_not_verified", { reason: result.reason });
  verdict.className = result.ok ? "message success" : "message error";
  verdict.dataset.verified = String(result.ok);
  verdict.dataset.receipt = withdrawal ? "withdrawal" : "bid";
  if (download.href.startsWith("blob:")) URL.revokeObjectURL(download.href);
  download.href = URL.createObjectURL(new Blob([receipt], { type: "application/json" }));
  download.download = `${withdrawal ? "withdrawal-receipt" : "receipt"}-${bid.bid_id}.json`;
  download.textContent = t(withdrawal ? "download_withdrawal_receipt" : "download_receipt");
  section.scrollIntoView({ block: "start" });
  return result;
}

/** The bid as the server has it now (which issues a receipt still missing), then its receipt checked. */
async function verifyStored(bidId, withdrawal) {
  try {
    await showReceipt(await api("GET", `${config.urls.bids}/${bidId}`), { withdrawal });
  } catch (exc) {
    showError(t("failed", { reason: explain(exc) }));
  }
}

// -- the bidder's bids ---------------------------------------------------------------------------------

async function loadBids() {
  let bids;
  try {
    bids = await api("GET", `${config.urls.bids}?tender=${encodeURIComponent(config.tender)}`);
  } catch (exc) {
    $("bids-empty").textContent = t("failed", { reason: explain(exc) });
    $("bids-empty").hidden = false;
    return;
  }
  bids.reverse();
  page.bids = bids;
  $("bids-empty").hidden = bids.length > 0;
  $("bids-table").hidden = bids.length === 0;
  const button = (text, bid, className, onclick) =>
    element("button", { type: "button", class: `secondary small ${className}`, onclick }, text, element("span", { class: "visually-hidden" }, ` ${bid.bid_id}`));
  $("bids-body").replaceChildren(
    ...bids.map((bid) => {
      const actions = element("td", { class: "actions" });
      actions.append(button(t("verify_receipt"), bid, "verify", () => verifyStored(bid.bid_id, false)));
      if (bid.status === "withdrawn" && bid.withdrawal_ledger_seq) {
        actions.append(" ", button(t("verify_withdrawal_receipt"), bid, "verify-withdrawal", () => verifyStored(bid.bid_id, true)));
      }
      if (bid.status === "accepted" && !page.closed) {
        actions.append(" ", button(t("withdraw"), bid, "withdraw", () => withdraw(bid)));
      }
      return element(
        "tr",
        { "data-bid": bid.bid_id, "data-status": bid.status },
        element("td", {}, element("code", {}, bid.bid_id)),
        element("td", { class: "bid-status" }, config.statuses[bid.status] ?? bid.status),
        element("td", {}, momentText(bid.accepted_at)),
        element("td", { class: "num" }, sizeText(bid.size)),
        element("td", {}, element("code", { class: "sha256" }, bid.sha256)),
        actions,
      );
    }),
  );
  setBusy(page.busy);
}

async function withdraw(bid) {
  if (page.busy || page.closed || !window.confirm(t("confirm_withdraw", { bid: bid.bid_id }))) return;
  setBusy(true);
  showError("");
  try {
    const withdrawn = await api("POST", `${config.urls.bids}/${bid.bid_id}/withdraw`);
    // What the page showed of the submission (its progress, its receipt) no longer describes where the bid stands.
    $("progress-section").hidden = false;
    clearProgress();
    setStatus(t("withdrawn", { bid: bid.bid_id }));
    await remove(SEALED, sealedKey(config.user, bid.bid_id)).catch(() => {});
    await loadBids();
    await showReceipt(withdrawn, { withdrawal: true });
  } catch (exc) {
    showError(t("failed", { reason: explain(exc) }));
    if (exc instanceof ApiError && exc.code === "deadline_passed") closePage();
  } finally {
    setBusy(false);
  }
}

// -- the deadline ------------------------------------------------------------------------------------------

/** The platform's time now, from the moment it served the page and the time passed since in this browser. */
const served = { platform: Date.parse(config.now), local: performance.now() };
const platformNow = () => served.platform + (performance.now() - served.local);

/** From the deadline on, the page offers nothing it can no longer do, and says why; from the opening, where it is. */
function closePage() {
  page.closed = true;
  config.open = false;
  const form = $("bid-form");
  if (form) form.hidden = true;
  $("resume").hidden = true;
  const note = $("deadline-state");
  const parts = [t("deadline_passed", { when: momentText(config.deadline) })];
  if (platformNow() >= Date.parse(config.openingTime)) {
    parts.push(" ", t("opening_started"), " ", element("a", { href: config.hallUrl, id: "hall-link" }, t("hall_link")));
  }
  note.replaceChildren(...parts);
  note.hidden = false;
  note.dataset.closed = "true";
  setBusy(page.busy);
  return loadBids();
}

/** Closes the page at the deadline and says so again at the opening time, by the platform's clock. */
function watchDeadline() {
  const deadline = Date.parse(config.deadline);
  const opening = Date.parse(config.openingTime);
  const step = () => {
    const now = platformNow();
    const stage = now >= opening ? "opening" : now >= deadline ? "closed" : "open";
    if (stage !== page.stage) {
      page.stage = stage;
      if (stage !== "open") closePage();
    }
    if (stage === "opening") return;
    // setTimeout waits at most 2**31 - 1 ms: a deadline weeks away is reached in steps.
    setTimeout(step, Math.min((stage === "open" ? deadline : opening) - now + 50, 6 * 3600 * 1000));
  };
  step();
}

// -- start -------------------------------------------------------------------------------------------------

async function start() {
  const form = $("bid-form");
  if (form) {
    form.addEventListener("submit", submit);
    $("bid-files").addEventListener("change", renderFiles);
    $("response-table")?.addEventListener("change", updateMaterials);
    renderPointers();
  }
  setBusy(false);
  setUpTrust();
  await renderTrust();
  await checkKeys();
  await checkCustodians();
  await loadBids();
  await checkPending();
  watchDeadline();
  document.body.dataset.bidPage = "ready";
}

start().catch((exc) => showError(t("failed", { reason: explain(exc) })));
