// The browser's custody check and key-proof answers under Node, for
// tests/js/test_custody_check.py: not a test file itself.
//
//   node tests/js/custody-check.mjs check JOB.json   → [{name, ok, results}] as JSON
//   node tests/js/custody-check.mjs prove JOB.json   → [{name, proof} | {name, refused}] as JSON

import { readFileSync } from "node:fs";

import { fromBase64 } from "../../frontend/js/sealing/bytes.js";
import { StatementError, answerChallenge, checkCustody, trustFrom } from "../../frontend/js/sealing/custody.js";

const [mode, path] = process.argv.slice(2);
const job = JSON.parse(readFileSync(path, "utf8"));
const out = [];

if (mode === "check") {
  for (const c of job.cases) {
    const result = await checkCustody(c.custody, c.expected, trustFrom(c.trust), new Date(c.now));
    out.push({ name: c.name, ok: result.ok, sealsTo: result.spkis?.length ?? null, results: result.results.map(({ index, username, ok, trustedBy, reason }) => ({ index, username, ok, trustedBy: trustedBy ?? null, reason: reason ?? null })) });
  }
} else if (mode === "prove") {
  for (const c of job.cases) {
    // The private key as the browser keeps it: non-extractable WebCrypto.
    const algorithm = c.purpose === "signing" ? { name: "ECDSA", namedCurve: "P-256" } : { name: "ECDH", namedCurve: "P-256" };
    const privateKey = await crypto.subtle.importKey("pkcs8", fromBase64(c.pkcs8), algorithm, false, c.purpose === "signing" ? ["sign"] : ["deriveBits"]);
    const publicKey = await crypto.subtle.importKey("spki", fromBase64(c.spki), algorithm, true, c.purpose === "signing" ? ["verify"] : []);
    try {
      const proof = await answerChallenge(c.user, c.purpose, { privateKey, publicKey, fingerprint: c.fingerprint }, c.challenge, c.organization);
      out.push({ name: c.name, proof });
    } catch (exc) {
      if (!(exc instanceof StatementError)) throw exc;
      out.push({ name: c.name, refused: exc.message });
    }
  }
}
process.stdout.write(JSON.stringify(out));
