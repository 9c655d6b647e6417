// 专家抽取: the supervisor's secret (揭示值) is made here, in the browser, with crypto.getRandomValues; it is
// kept in localStorage and offered as a file, and only its SHA-256 (the commitment) is sent before the bid
// deadline. At the draw the same secret is sent back (docs/evaluation.md §3).

import { commitmentOf, makeSecret, parseSecret, toHex } from "../lib/draw-secret.js";

const $ = (id) => document.getElementById(id);

const storageKey = (tender) => `etender-draw-secret:${tender}`;

function offerFile(tender, secretHex) {
  const blob = new Blob([`${secretHex}\n`], { type: "text/plain" });
  const link = document.createElement("a");
  link.href = URL.createObjectURL(blob);
  link.download = `揭示值-${tender}.txt`;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 1000);
}

function setUpCommit(form) {
  const tender = form.dataset.tender;
  const state = $("commit-state");
  $("make-secret").addEventListener("click", async () => {
    const secret = makeSecret();
    const secretHex = toHex(secret);
    localStorage.setItem(storageKey(tender), secretHex);
    offerFile(tender, secretHex);
    $("commitment").value = await commitmentOf(secret);
    state.textContent = `${state.dataset.made ?? ""} ${$("commitment").value}`.trim();
    $("send-commitment").disabled = false;
  });
}

function setUpReveal(form) {
  const tender = form.dataset.tender;
  const input = $("secret");
  const kept = localStorage.getItem(storageKey(tender));
  if (kept && !input.value) input.value = kept;
  $("secret-file").addEventListener("change", async (event) => {
    const file = event.target.files?.[0];
    if (!file) return;
    const text = (await file.text()).trim();
    if (parseSecret(text)) input.value = text;
  });
}

const commitForm = $("commit-form");
if (commitForm) setUpCommit(commitForm);
const revealForm = $("reveal-form");
if (revealForm) setUpReveal(revealForm);
