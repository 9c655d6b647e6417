// The ciphertext's SHA-256 in a worker of its own (bundled to build/hash-worker.js),
// so that hashing runs beside reading, encrypting and writing instead of after
// them. Each segment's buffer is transferred (not copied) once it is written;
// at most `window` segments wait in the hashing worker's queue, so memory stays flat.

import { createSha256 } from "../sealing/sha256.js";

/** A hasher factory for the Encryptor, or the in-thread one where a worker cannot start workers. */
export function offloadedSha256(url, { window = 8 } = {}) {
  return async () => {
    if (typeof Worker === "undefined") return createSha256();
    const worker = new Worker(url);
    let sent = 0;
    let acknowledged = 0;
    let waiting = null;
    let finished = null;
    let failure = null;
    worker.onmessage = ({ data }) => {
      if (data.type === "ack") {
        acknowledged = data.count;
        if (waiting && sent - acknowledged < window) {
          waiting();
          waiting = null;
        }
      } else if (data.type === "digest") {
        finished?.resolve(data.hex);
      }
    };
    worker.onerror = (event) => {
      failure = new Error(`the hashing worker failed: ${event.message}`);
      waiting?.();
      finished?.reject(failure);
    };
    return {
      async update(bytes) {
        if (failure) throw failure;
        const whole = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength;
        const buffer = whole ? bytes.buffer : bytes.slice().buffer;
        worker.postMessage({ type: "update", buffer }, [buffer]);
        sent++;
        if (sent - acknowledged >= window) await new Promise((resolve) => (waiting = resolve));
        if (failure) throw failure;
      },
      async digest() {
        const hex = await new Promise((resolve, reject) => {
          finished = { resolve, reject };
          worker.postMessage({ type: "digest" });
        });
        worker.terminate();
        return hex;
      },
    };
  };
}
