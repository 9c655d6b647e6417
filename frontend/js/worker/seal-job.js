// One sealing job as the worker runs it: the files chosen in the page, sealed
// into the Origin Private File System (or, for the benchmark, into nothing).
// Plaintext stays in this worker and in the encryptor's buffers; only the
// ciphertext is written, and only the manifest goes back to the page.

import { sealBid } from "../sealing/seal.js";
import { opfsSink } from "../lib/opfs.js";
import { offloadedSha256 } from "./hash-offload.js";

const PROGRESS_EVERY_MS = 100;

function nullSink() {
  let size = 0;
  return {
    write(bytes) {
      size += bytes.length;
    },
    close() {},
    abort() {},
    get size() {
      return size;
    },
  };
}

/** Runs `job`; `post(message)` receives `{type: "progress", done, total}` now and then. */
export async function runSealJob(job, post) {
  const sink = job.opfsName ? await opfsSink(job.opfsName) : nullSink();
  let last = 0;
  const started = performance.now();
  try {
    const sealed = await sealBid({
      files: job.files,
      lots: job.lots,
      tender: job.tender,
      bid: job.bid,
      bidder: job.bidder,
      signingKeyFingerprint: job.signingKeyFingerprint,
      encryptionSpki: job.encryptionSpki,
      custodians: job.custodians,
      threshold: job.threshold,
      responseIndex: job.responseIndex ?? null,
      sink,
      clientTime: job.clientTime ?? null,
      hasher: offloadedSha256(new URL("hash-worker.js", self.location.href).href),
      onProgress(done, total) {
        const now = performance.now();
        if (done === total || now - last >= PROGRESS_EVERY_MS) {
          last = now;
          post({ type: "progress", done, total });
        }
      },
    });
    sink.close();
    return { ...sealed, seconds: (performance.now() - started) / 1000 };
  } catch (exc) {
    sink.abort();
    throw exc;
  }
}
