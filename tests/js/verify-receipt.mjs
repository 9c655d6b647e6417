// Checks a receipt with the browser's verifier under Node, for
// tests/js/test_node_interop.py: not a test file itself.
//
//   node tests/js/verify-receipt.mjs RECEIPT.json CA.pem EXPECTED.json [TSA-CA.pem]   → prints the result as JSON

import { readFileSync } from "node:fs";

import { verifyReceipt } from "../../frontend/js/sealing/receipt.js";

const [receipt, ca, expected, tsa] = process.argv.slice(2);
const result = await verifyReceipt(readFileSync(receipt), {
  trustAnchors: readFileSync(ca, "utf8"),
  tsaAnchors: tsa ? readFileSync(tsa, "utf8") : "",
  expected: JSON.parse(readFileSync(expected, "utf8")),
});
process.stdout.write(JSON.stringify(result));
