// Bundles the browser scripts with esbuild into frontend/static/frontend/build/
// (git-ignored; `make js` or `npm run build` makes it):
//   seal-worker.js    the sealing Web Worker (classic script)
//   hash-worker.js    the ciphertext's SHA-256, started by the sealing worker
//   bid-page.js       the bid page (ES module)
//   keys-page.js      the browser keys page (ES module)
//   custody-page.js   the custodian's confirmation page (ES module)
//   opening-page.js   the opening hall's page (ES module)
//   session-page.js   the evaluation session's page (ES module), with pdf.js
//   pdf-worker.js     pdf.js's worker (a module worker the session page starts)
//   pdfjs/            pdf.js's data, copied from the package: the predefined CMaps (Chinese text in fonts a
//                     PDF does not embed), the standard fonts, the image decoders (wasm) and the ICC profile
//   method-editor.js  the draft form's evaluation method editor (ES module)
//   draw-page.js      the expert draw's page: the supervisor's secret and commitment (ES module)
//   vector-checks.js  the test vectors' checks, for the browser test (ES module)
//   bench.js, bench-worker.js   bench/browser_seal_throughput.py
import { build } from "esbuild";
import { cpSync } from "node:fs";
import { fileURLToPath } from "node:url";

const here = (path) => fileURLToPath(new URL(path, import.meta.url));
const outdir = here("../static/frontend/build");
const common = {
  bundle: true,
  target: ["chrome102", "firefox111", "safari16.4"],
  sourcemap: true,
  legalComments: "linked",
  logLevel: "warning",
  charset: "utf8",
};

await Promise.all([
  build({ ...common, entryPoints: {
      "seal-worker": here("worker/seal-worker.js"),
      "hash-worker": here("worker/hash-worker.js"),
      "bench-worker": here("bench/bench-worker.js"),
    }, outdir, format: "iife" }),
  build({
    ...common,
    entryPoints: {
      "bid-page": here("pages/bid-page.js"),
      "keys-page": here("pages/keys-page.js"),
      "custody-page": here("pages/custody-page.js"),
      "opening-page": here("pages/opening-page.js"),
      "session-page": here("pages/session-page.js"),
      "pdf-worker": here("worker/pdf-worker.js"),
      "method-editor": here("pages/method-editor.js"),
      "draw-page": here("pages/draw-page.js"),
      "vector-checks": here("sealing/vectors.js"),
      bench: here("bench/bench.js"),
    },
    outdir,
    format: "esm",
  }),
]);
for (const folder of ["cmaps", "standard_fonts", "wasm", "iccs"]) {
  cpSync(here(`../../node_modules/pdfjs-dist/${folder}`), `${outdir}/pdfjs/${folder}`, { recursive: true });
}
console.log(`built into ${outdir}`);
