// The hashing worker (build/hash-worker.js): SHA-256 of the ciphertext segments it is
// sent, in order, acknowledging each so that the sender never runs far ahead.

import { createSha256 } from "../sealing/sha256.js";

let count = 0;
// Messages are handled one after the other on this chain: the hasher is made
// asynchronously, and no segment may overtake another while it is.
let chain = createSha256();

self.onmessage = ({ data }) => {
  chain = chain.then((hasher) => {
    if (data.type === "update") {
      hasher.update(new Uint8Array(data.buffer));
      count++;
      self.postMessage({ type: "ack", count });
    } else if (data.type === "digest") {
      self.postMessage({ type: "digest", hex: hasher.digest("hex") });
    }
    return hasher;
  });
};
