// The sealing Web Worker (bundled to build/seal-worker.js): receives the chosen
// files and the tender's keys from the bid page, seals in the background, writes
// the ciphertext to the Origin Private File System and answers with the
// manifest to sign. Nothing it reads is ever sent over the network from here.

import { runSealJob } from "./seal-job.js";

self.onmessage = async (event) => {
  const { type, job } = event.data ?? {};
  if (type !== "seal") return;
  try {
    const sealed = await runSealJob(job, (message) => self.postMessage(message));
    self.postMessage({
      type: "sealed",
      manifest: sealed.manifest,
      manifestBytes: sealed.manifestBytes,
      size: sealed.size,
      ciphertextSha256: sealed.ciphertextSha256,
      seconds: sealed.seconds,
    });
  } catch (exc) {
    self.postMessage({ type: "error", name: exc?.name ?? "Error", message: String(exc?.message ?? exc) });
  }
};
