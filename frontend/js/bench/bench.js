// The benchmark page's module (bench/browser_seal_throughput.py serves it):
// window.runBench({sizeMiB, sink}) generates a Blob in the page, seals it in the
// bench worker (the production sealing code) and measures the baselines.

import { fingerprint, exportSpki } from "../sealing/keys.js";

function generatedBlob(size) {
  const chunk = 16 * 1048576;
  const pattern = new Uint8Array(chunk);
  for (let i = 0; i < chunk; i++) pattern[i] = (i * 31 + (i >> 13)) & 255;
  const parts = [];
  for (let at = 0; at < size; at += chunk) parts.push(at + chunk <= size ? pattern : pattern.subarray(0, size - at));
  return new Blob(parts);
}

function call(worker, message) {
  return new Promise((resolve, reject) => {
    worker.onmessage = ({ data }) => (data.ok ? resolve(data.result) : reject(new Error(data.error)));
    worker.onerror = (event) => reject(new Error(event.message));
    worker.postMessage(message);
  });
}

async function p256Spki() {
  const pair = await crypto.subtle.generateKey({ name: "ECDH", namedCurve: "P-256" }, false, ["deriveBits"]);
  return exportSpki(pair.publicKey);
}

window.runBench = async ({ sizeMiB, sinks = ["opfs", "null"], custodians = 3, threshold = 2, repeats = 1 }) => {
  const size = sizeMiB * 1048576;
  const blob = generatedBlob(size);
  const worker = new Worker("bench-worker.js");
  const encryptionSpki = await p256Spki();
  const custodianSpkis = [];
  for (let i = 0; i < custodians; i++) custodianSpkis.push(await p256Spki());
  const signingFingerprint = await fingerprint(await p256Spki());
  const results = { sizeMiB, seal: {}, baselines: [] };
  for (let r = 0; r < repeats; r++) {
    for (const sink of sinks) {
      const job = {
        files: [{ path: "bid/generated.bin", data: blob }],
        lots: [{ lot: "1", price_yuan: "1234567.89", schedule_days: 180, declared: {} }],
        tender: "3f2b8c4e-9a1d-4e6f-8b2c-5d7e9f0a1b2c",
        bid: crypto.randomUUID(),
        bidder: "91360781MA00000015",
        signingKeyFingerprint: signingFingerprint,
        encryptionSpki,
        custodians: custodianSpkis,
        threshold,
        opfsName: sink === "opfs" ? "bench.sealed" : null,
      };
      const sealed = await call(worker, { type: "seal", job });
      (results.seal[sink] ??= []).push(sealed);
    }
    results.baselines.push(await call(worker, { type: "baselines", blob }));
  }
  worker.terminate();
  if (sinks.includes("opfs")) {
    const root = await navigator.storage.getDirectory();
    const folder = await root.getDirectoryHandle("etender-bids", { create: true });
    await folder.removeEntry("bench.sealed").catch(() => {});
  }
  return results;
};
window.benchReady = true;
