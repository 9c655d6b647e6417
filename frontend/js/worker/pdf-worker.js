// pdf.js's worker, bundled from the npm package (pdfjs-dist) and served as this site's own static file (the
// CSP's worker-src 'self'): importing it starts its message handler in this module worker.
import "pdfjs-dist/build/pdf.worker.min.mjs";
