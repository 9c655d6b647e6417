// The benchmark's worker: the production sealing path (worker/seal-job.js) on a
// generated Blob, and in the same worker the baselines over the same segments:
// raw WebCrypto AES-GCM, raw SHA-256 with hash-wasm, and reading the Blob.

import { runSealJob } from "../worker/seal-job.js";
import { createSha256 } from "../sealing/sha256.js";
import { SEGMENT_SIZE, TAG_SIZE, segmentNonce } from "../sealing/stream.js";
import { randomBytes } from "../sealing/bytes.js";
import { opfsSink, removeOpfsFile } from "../lib/opfs.js";

const SEGMENT_PLAINTEXT = SEGMENT_SIZE - TAG_SIZE;

function segmentsOf(size) {
  const out = [];
  for (let at = 0; at < size; at += SEGMENT_PLAINTEXT) out.push([at, Math.min(size, at + SEGMENT_PLAINTEXT)]);
  return out;
}

// The Blob is read in windows of 64 segments (not timed), so that a 1 GiB run needs no 1 GiB buffer.
const WINDOW = 64 * SEGMENT_PLAINTEXT;

async function windows(blob, each) {
  for (let at = 0; at < blob.size; at += WINDOW) {
    await each(new Uint8Array(await blob.slice(at, Math.min(blob.size, at + WINDOW)).arrayBuffer()));
  }
}

/** Raw WebCrypto AES-256-GCM over the Blob's 1 MiB segments, `depth` calls in flight; seconds. */
async function aesBaseline(blob, depth) {
  const key = await crypto.subtle.importKey("raw", randomBytes(32), "AES-GCM", false, ["encrypt"]);
  const prefix = randomBytes(7);
  let seconds = 0;
  let index = 0;
  await windows(blob, async (bytes) => {
    const started = performance.now();
    const inFlight = [];
    for (const [from, to] of segmentsOf(bytes.length)) {
      inFlight.push(crypto.subtle.encrypt({ name: "AES-GCM", iv: segmentNonce(prefix, index++, false) }, key, bytes.subarray(from, to)));
      if (inFlight.length >= depth) await inFlight.shift();
    }
    await Promise.all(inFlight);
    seconds += (performance.now() - started) / 1000;
  });
  return seconds;
}

/** Raw incremental SHA-256 (hash-wasm, the sealing's) over the same bytes in 1 MiB updates; seconds. */
async function shaBaseline(blob) {
  const hasher = await createSha256();
  let seconds = 0;
  await windows(blob, async (bytes) => {
    const started = performance.now();
    for (let at = 0; at < bytes.length; at += SEGMENT_SIZE) hasher.update(bytes.subarray(at, Math.min(bytes.length, at + SEGMENT_SIZE)));
    seconds += (performance.now() - started) / 1000;
  });
  const started = performance.now();
  hasher.digest("hex");
  return seconds + (performance.now() - started) / 1000;
}

/** WebCrypto's one-shot SHA-256 of each window, for scale (it cannot hash a stream); seconds. */
async function webcryptoShaBaseline(blob) {
  let seconds = 0;
  await windows(blob, async (bytes) => {
    const started = performance.now();
    await crypto.subtle.digest("SHA-256", bytes);
    seconds += (performance.now() - started) / 1000;
  });
  return seconds;
}

async function readBaseline(blob) {
  const started = performance.now();
  for (let at = 0; at < blob.size; at += SEGMENT_PLAINTEXT) await blob.slice(at, Math.min(blob.size, at + SEGMENT_PLAINTEXT)).arrayBuffer();
  return (performance.now() - started) / 1000;
}

/** Writing the same number of bytes to the Origin Private File System in 1 MiB writes (sync access handle); seconds. */
async function opfsBaseline(size) {
  const sink = await opfsSink("bench-write.sealed");
  const chunk = new Uint8Array(SEGMENT_SIZE).fill(7);
  const started = performance.now();
  for (let at = 0; at < size; at += SEGMENT_SIZE) sink.write(at + SEGMENT_SIZE <= size ? chunk : chunk.subarray(0, size - at));
  sink.close();
  const seconds = (performance.now() - started) / 1000;
  await removeOpfsFile("bench-write.sealed");
  return seconds;
}

self.onmessage = async ({ data }) => {
  try {
    let result;
    if (data.type === "seal") {
      const sealed = await runSealJob(data.job, () => {});
      result = { seconds: sealed.seconds, size: sealed.size };
    } else if (data.type === "baselines") {
      result = {
        aesSequential: await aesBaseline(data.blob, 1),
        aesPipelined: await aesBaseline(data.blob, 3),
        sha256: await shaBaseline(data.blob),
        webcryptoSha256OneShot: await webcryptoShaBaseline(data.blob),
        blobRead: await readBaseline(data.blob),
        opfsWrite: await opfsBaseline(data.blob.size),
      };
    }
    self.postMessage({ ok: true, result });
  } catch (exc) {
    self.postMessage({ ok: false, error: String(exc?.message ?? exc) });
  }
};
