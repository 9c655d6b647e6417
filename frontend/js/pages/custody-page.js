// 保管确认: a custodian confirms, with this browser's signing key, that it
// serves on the tender at its position with this browser's encryption key,
// k of n (docs/custody.md §C). It refuses unless the tender lists, at its
// slot, exactly the encryption key this browser holds.

import { toBase64 } from "../sealing/bytes.js";
import { custodyStatement, ownSlot, signStatement, StatementError } from "../sealing/custody.js";
import { ApiError, NetworkError, api } from "../lib/api.js";
import "../lib/cards.js"; // the table as cards at phone width
import { momentText } from "../lib/format.js";
import { readConfig, setMessages, t } from "../lib/i18n.js";
import { loadBrowserKeys, registrationOf } from "../lib/keys.js";

const config = readConfig("custody-config");
setMessages(config.messages);
const $ = (id) => document.getElementById(id);

function explain(exc) {
  if (exc instanceof ApiError) return exc.message;
  if (exc instanceof NetworkError) return t("network_down");
  return String(exc?.message ?? exc);
}

function state(text, kind) {
  const box = $("custody-state");
  box.textContent = text;
  box.className = kind ? `message ${kind}` : "";
}

function renderCustodians(custody) {
  $("custodians-body").replaceChildren(
    ...custody.custodians.map((c) => {
      const tr = document.createElement("tr");
      tr.dataset.username = c.username;
      const cells = [String(c.index + 1), `${c.name} (${c.username})`, c.encryption_key.fingerprint, c.confirmation ? t("state_confirmed") : t("state_unconfirmed")];
      for (const text of cells) {
        const td = document.createElement("td");
        td.textContent = text;
        tr.append(td);
      }
      return tr;
    }),
  );
}

/** What the page would sign, once every check passed; null (and says why) otherwise. */
async function prepare() {
  const button = $("confirm-button");
  button.disabled = true;
  const keys = await loadBrowserKeys(config.user);
  if (!keys?.signing || !keys?.encryption) {
    state(t("keys_missing"), "error");
    return null;
  }
  $("custody-encryption").textContent = keys.encryption.fingerprint;
  $("custody-signing").textContent = keys.signing.fingerprint;
  const registered = await registrationOf(keys);
  if (!registered.signing || registered.signing.revoked_at || !registered.encryption || registered.encryption.revoked_at) {
    state(t("keys_unregistered"), "error");
    return null;
  }
  const custody = await api("GET", config.urls.custody);
  renderCustodians(custody);
  let slot;
  try {
    if (custody.tender !== config.tender) throw new StatementError(`the custody record is of tender ${custody.tender}`);
    slot = ownSlot(custody, { username: config.user, encryptionFingerprint: keys.encryption.fingerprint });
  } catch (exc) {
    if (!(exc instanceof StatementError)) throw exc;
    state(t("not_listed", { reason: exc.message }), "error");
    return null;
  }
  $("custody-position").textContent = t("position_value", { position: slot.index + 1, n: custody.recipients.length, k: custody.threshold });
  if (slot.confirmation) {
    const mine = slot.confirmation.signing_key.fingerprint === keys.signing.fingerprint;
    state(mine ? t("confirmed_by_you", { when: momentText(slot.confirmation.confirmed_at) }) : t("confirmed_other_key", { fingerprint: slot.confirmation.signing_key.fingerprint.slice(0, 16) }), mine ? "success" : "error");
    document.body.dataset.custodyState = "confirmed";
    return null;
  }
  state(t("ready_to_confirm"));
  document.body.dataset.custodyState = "ready";
  button.disabled = false;
  return {
    keys,
    statement: custodyStatement({
      tender: custody.tender,
      index: slot.index,
      threshold: custody.threshold,
      recipients: custody.recipients,
      custodian: config.user,
      signingKey: keys.signing.fingerprint,
    }),
  };
}

async function confirm() {
  $("confirm-button").disabled = true;
  try {
    // Checked again right before signing: the record may have changed since the page showed it.
    const ready = await prepare();
    if (!ready) return;
    $("confirm-button").disabled = true;
    state(t("confirming"));
    const signature = await signStatement(ready.statement, ready.keys.signing.privateKey);
    const custody = await api("POST", config.urls.confirmation, { statement: toBase64(ready.statement), signature: toBase64(signature) });
    renderCustodians(custody);
    state(t("confirmed"), "success");
    document.body.dataset.custodyState = "confirmed";
  } catch (exc) {
    state(t("failed", { reason: explain(exc) }), "error");
    $("confirm-button").disabled = false;
  }
}

$("confirm-button").addEventListener("click", confirm);
prepare()
  .catch((exc) => state(t("failed", { reason: explain(exc) }), "error"))
  .finally(() => {
    document.body.dataset.custodyPage = "ready";
  });
