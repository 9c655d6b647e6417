// ESLint (make lint) over the browser's scripts in frontend/js: the recommended rules,
// less the few below that today's code breaks on purpose; a new finding fails make lint.
// The bundles esbuild writes (frontend/static/frontend/build/) are not linted.
import js from "@eslint/js";
import globals from "globals";

export default [
  {
    files: ["frontend/js/**/*.js", "frontend/js/**/*.mjs"],
    ...js.configs.recommended,
    languageOptions: {
      ecmaVersion: 2024,
      sourceType: "module",
      globals: { ...globals.browser },
    },
    rules: {
      ...js.configs.recommended.rules,
      // The validators refuse control characters by matching them (container paths, canonical JSON).
      "no-control-regex": "off",
      // `let data = null; try { data = … } catch { data = null; }`: the explicit default is kept on purpose.
      "no-useless-assignment": "off",
      // A message for people is thrown in place of a library's error; the library's is not shown to them.
      "preserve-caught-error": "off",
      // `const { type: _type, ...rest } = frame` leaves fields out: `_` marks what is unused on purpose.
      "no-unused-vars": ["error", { varsIgnorePattern: "^_", argsIgnorePattern: "^_", ignoreRestSiblings: true }],
    },
  },
  {
    // Web Workers: no window or document, but self, postMessage, importScripts.
    files: ["frontend/js/worker/**/*.js", "frontend/js/bench/bench-worker.js"],
    languageOptions: { globals: { ...globals.worker } },
  },
  {
    // The build script runs in Node.
    files: ["frontend/js/build.mjs"],
    languageOptions: { globals: { ...globals.node } },
  },
];
