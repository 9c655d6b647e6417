// 浏览器密钥: make the key pairs this user needs in this browser (a signing and
// an encryption pair, for bidders and custodians alike; private halves
// non-extractable, kept in IndexedDB), register their public halves on the
// platform with their proof of possession (lib/keys.js), see their state
// (registered, certified by the key CA, revoked), or delete them from this browser.

import { readConfig, setMessages, t } from "../lib/i18n.js";
import { ApiError, NetworkError } from "../lib/api.js";
import "../lib/cards.js"; // the table as cards at phone width
import { momentText } from "../lib/format.js";
import { KeyImportError, importBrowserKeys } from "../lib/key-import.js";
import { deleteBrowserKeys, generateBrowserKeys, heldPurposes, loadBrowserKeys, registerBrowserKeys, registrationOf } from "../lib/keys.js";

const config = readConfig("keys-config");
setMessages(config.messages);
const $ = (id) => document.getElementById(id);
// The purposes this user needs (both, since custodians sign their confirmations too).
const needed = config.purposes ?? ["signing", "encryption"];
const both = needed.length > 1;

function explain(exc) {
  if (exc instanceof ApiError) return exc.message;
  if (exc instanceof NetworkError) return t("network_down");
  return String(exc?.message ?? exc);
}

function say(text, kind = "success") {
  const box = $("keys-message");
  box.textContent = text;
  box.className = `message ${kind}`;
  box.hidden = !text;
}

/** Shows or hides a button with its list item. */
function show(id, visible) {
  $(id).hidden = !visible;
  $(id).parentElement.hidden = !visible;
}

function cell(text, { code = false } = {}) {
  const td = document.createElement("td");
  if (code) {
    const c = document.createElement("code");
    c.className = "fingerprint";
    c.textContent = text;
    td.append(c);
  } else {
    td.textContent = text;
  }
  return td;
}

async function render() {
  const record = await loadBrowserKeys(config.user);
  const held = heldPurposes(record);
  const missing = needed.filter((purpose) => !held.includes(purpose));
  $("keys-none").hidden = held.length > 0;
  $("keys-table").hidden = held.length === 0;
  show("generate-button", missing.length > 0);
  show("register-button", false);
  show("delete-button", held.length > 0);
  if (!held.length) {
    $("keys-body").replaceChildren();
    document.body.dataset.keysState = "none";
    return;
  }
  let registration = { signing: null, encryption: null };
  let unknown = false;
  try {
    registration = await registrationOf(record);
  } catch {
    unknown = true;
  }
  const rows = held.map((purpose) => {
    const key = record[purpose];
    const on = registration[purpose];
    const registered = on?.certificate ? t("state_registered_certified") : t("state_registered");
    const state = unknown ? t("state_unknown") : !on ? t("state_unregistered") : on.revoked_at ? t("state_revoked") : registered;
    const tr = document.createElement("tr");
    tr.dataset.purpose = purpose;
    tr.append(cell(t(`purpose_${purpose}`)), cell(key.fingerprint, { code: true }), cell(momentText(record.createdAt)), cell(state));
    tr.lastChild.className = "key-state";
    return tr;
  });
  $("keys-body").replaceChildren(...rows);
  const unregistered = held.filter((purpose) => !registration[purpose]);
  show("register-button", !unknown && unregistered.length > 0);
  const ready = !missing.length && needed.every((purpose) => registration[purpose]);
  document.body.dataset.keysState = ready ? "registered" : "unregistered";
}

async function guarded(action) {
  for (const id of ["generate-button", "register-button", "delete-button"]) $(id).disabled = true;
  try {
    await action();
  } catch (exc) {
    say(t("failed", { reason: explain(exc) }), "error");
  } finally {
    for (const id of ["generate-button", "register-button", "delete-button"]) $(id).disabled = false;
    await render();
  }
}

$("generate-button").addEventListener("click", () =>
  guarded(async () => {
    await generateBrowserKeys(config.user, needed);
    say(t(both ? "generated" : "generated_encryption"));
  }),
);
$("register-button").addEventListener("click", () =>
  guarded(async () => {
    const record = await loadBrowserKeys(config.user);
    const registration = await registrationOf(record);
    // One half may be on the platform already (an interrupted registration): register the others only.
    const missing = heldPurposes(record).filter((purpose) => !registration[purpose]);
    if (!missing.length) return;
    await registerBrowserKeys(record, `${t("label")} ${new Date().toISOString().slice(0, 10)}`, missing, config.organization);
    say(t("registered"));
  }),
);
$("delete-button").addEventListener("click", () =>
  guarded(async () => {
    if (!window.confirm(t(heldPurposes(await loadBrowserKeys(config.user)).length > 1 ? "confirm_delete" : "confirm_delete_one"))) return;
    await deleteBrowserKeys(config.user);
    say(t("deleted"));
  }),
);

// The demo's keys (var/demo-keys/USERNAME-PURPOSE.pem), on a platform that carries the demo.
const importSection = $("import-section");
$("import-button")?.addEventListener("click", () =>
  guarded(async () => {
    const files = [...$("import-file").files];
    if (!files.length) throw new Error(importSection.dataset.noFile);
    const read = await Promise.all(files.map(async (file) => ({ name: file.name, text: await file.text() })));
    let purposes;
    try {
      purposes = await importBrowserKeys(config.user, read);
    } catch (exc) {
      // Why, in the reader's language (the template's texts): e.g. "bidder1-signing.pem: …".
      if (exc instanceof KeyImportError) throw new Error(`${exc.file} ${importSection.dataset[`refused_${exc.code}`] ?? exc.message}`.trim());
      throw exc;
    }
    say(importSection.dataset.imported.replace("%(purposes)s", purposes.map((p) => t(`purpose_${p}`)).join(", ")));
    $("import-file").value = "";
  }),
);

render()
  .catch((exc) => say(t("failed", { reason: explain(exc) }), "error"))
  .finally(() => {
    document.body.dataset.keysPage = "ready";
  });
