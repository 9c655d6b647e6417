// The JavaScript sealing (frontend/js/sealing/) reproduces every test vector of
// docs/sealed-bid-vectors/ (docs/sealed-bid-format.md §10). Node 20's
// globalThis.crypto.subtle is the same WebCrypto API the browser has.

import { readFileSync } from "node:fs";
import { test } from "node:test";

import { vectorChecks } from "../../frontend/js/sealing/vectors.js";

const folder = new URL("../../docs/sealed-bid-vectors/", import.meta.url);
const vectors = Object.fromEntries(
  ["stream", "container", "envelopes", "signature", "bid", "identity", "response-index"].map((name) => [name, JSON.parse(readFileSync(new URL(`${name}.json`, folder), "utf8"))]),
);

for (const check of vectorChecks(vectors)) {
  test(check.name, check.run);
}
