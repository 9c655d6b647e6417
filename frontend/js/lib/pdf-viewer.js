// The session's viewer of a bid's PDF files (pdf.js from npm), reading each file by byte ranges from
// GET /evaluation/<tender>/bids/<bid>/files/<path> (frontend/views/evaluation.py): pdf.js asks for the
// ranges it needs (disableAutoFetch, disableStream), so a 200-page bid opens at the page asked for without
// the whole file coming first. Each page is rendered into a canvas of its own, and the watermark (the
// viewing expert's name and the time, as format.js writes moments) is drawn into that canvas over the page,
// so a screenshot or a print of the page carries it. A page shown again is drawn again once the minute its
// watermark names has passed. Tests: tests/js/pdf-viewer.test.mjs, tests/browser/test_evaluation_session.py.

import { GlobalWorkerOptions, getDocument } from "pdfjs-dist/build/pdf.min.mjs";

import { momentText } from "./format.js";

// pdf.js asks the server for this many bytes at a time.
export const RANGE_CHUNK_BYTES = 64 * 1024;

/** The watermark's text: who views, and when (`专家1 · 2026-12-03 16:30 北京时间`). */
export function watermarkText(name, moment = new Date()) {
  return `${name} · ${momentText(moment)}`;
}

/** Draws `text` over the whole canvas, diagonally, repeated, half transparent. */
export function drawWatermark(canvas, text) {
  const context = canvas.getContext("2d");
  const size = Math.max(14, Math.round(canvas.width / 28));
  context.save();
  context.globalAlpha = 0.22;
  context.fillStyle = "#b00020";
  context.font = `bold ${size}px sans-serif`;
  context.textBaseline = "middle";
  const width = context.measureText(text).width + size * 3;
  context.translate(canvas.width / 2, canvas.height / 2);
  context.rotate(-Math.PI / 6);
  const reach = Math.hypot(canvas.width, canvas.height);
  for (let y = -reach / 2; y < reach / 2; y += size * 5) {
    for (let x = -reach / 2; x < reach / 2; x += width) context.fillText(text, x, y);
  }
  context.restore();
}

export class PdfViewer {
  /**
   * `element`: where the pages go; `workerUrl`: the pdf.js worker (a static file); `dataUrl`: the folder of
   * pdf.js's data (frontend/js/build.mjs copies it: cmaps/, standard_fonts/, wasm/, iccs/);
   * `viewer`: the viewing expert's name; `onPage({page, pages, path})` after each page is shown;
   * `now()`: the time the watermark names (the clock, but for tests).
   */
  constructor(element, { workerUrl, dataUrl, viewer, onPage = () => {}, onError = () => {}, now = () => new Date() }) {
    GlobalWorkerOptions.workerSrc = workerUrl;
    this.dataUrl = dataUrl;
    this.element = element;
    this.viewer = viewer;
    this.now = now;
    this.onPage = onPage;
    this.onError = onError;
    this.document = null;
    this.task = null;
    this.path = null;
    this.page = 0;
    this.canvases = new Map(); // page number → { text: its watermark, canvas: a promise of the drawn canvas }
  }

  get pages() {
    return this.document?.numPages ?? 0;
  }

  /** Opens the file at `url` (named `path`) and shows `page` (1 if not given or out of range). */
  async open(url, path, page = 1) {
    if (this.path === path && this.url === url && this.document) return this.show(page);
    await this.close();
    this.url = url;
    this.path = path;
    this.element.dataset.state = "loading";
    this.task = getDocument({
      url,
      rangeChunkSize: RANGE_CHUNK_BYTES,
      disableAutoFetch: true,
      disableStream: true,
      // Under the site's CSP (no 'unsafe-eval'): pdf.js draws fonts without compiling code.
      isEvalSupported: false,
      enableXfa: false,
      useSystemFonts: true,
      // Chinese text in a font the PDF does not embed (STSong-Light over UniGB-UCS2-H) needs the CMaps.
      cMapUrl: `${this.dataUrl}cmaps/`,
      cMapPacked: true,
      standardFontDataUrl: `${this.dataUrl}standard_fonts/`,
      wasmUrl: `${this.dataUrl}wasm/`,
      iccUrl: `${this.dataUrl}iccs/`,
    });
    try {
      this.document = await this.task.promise;
    } catch (exc) {
      this.element.dataset.state = "failed";
      this.onError(exc);
      return null;
    }
    this.element.dataset.pages = String(this.pages);
    return this.show(page);
  }

  /**
   * Shows page `number` (clamped to the file's pages). Each page is rendered into a canvas of its own once, and
   * again when the minute its watermark names has passed: the watermark says when the page is read, not when it
   * was first drawn. A page asked for twice while it renders is rendered once.
   */
  async show(number) {
    if (!this.document) return null;
    const page = Math.min(Math.max(1, Number(number) || 1), this.pages);
    this.page = page;
    const text = watermarkText(this.viewer, this.now());
    let drawn = this.canvases.get(page);
    if (!drawn || drawn.text !== text) {
      drawn = { text, canvas: this.render(page, text) };
      this.canvases.set(page, drawn);
    }
    let canvas;
    try {
      canvas = await drawn.canvas;
    } catch (exc) {
      if (this.canvases.get(page) === drawn) this.canvases.delete(page);
      if (this.page !== page) return null;
      this.element.dataset.state = "failed";
      this.onError(exc);
      return null;
    }
    // Another page was asked for meanwhile, or this one again with a newer watermark.
    if (this.page !== page || this.canvases.get(page) !== drawn) return null;
    for (const other of this.element.querySelectorAll("canvas.pdf-page")) {
      if (other !== canvas && other.dataset.page === String(page)) other.remove();
      else other.hidden = other !== canvas;
    }
    if (canvas.parentNode !== this.element) this.element.append(canvas);
    this.element.dataset.page = String(page);
    this.element.dataset.state = "shown";
    this.onPage({ page, pages: this.pages, path: this.path });
    return page;
  }

  /** Page `number` drawn into a new canvas, with the watermark `text` drawn over it into the same bitmap. */
  async render(number, text) {
    const page = await this.document.getPage(number);
    const canvas = document.createElement("canvas");
    canvas.className = "pdf-page";
    canvas.dataset.page = String(number);
    const width = Math.max(320, this.element.clientWidth || 800);
    const base = page.getViewport({ scale: 1 });
    const scale = Math.min(2, width / base.width) * (window.devicePixelRatio || 1);
    const viewport = page.getViewport({ scale });
    canvas.width = Math.floor(viewport.width);
    canvas.height = Math.floor(viewport.height);
    canvas.style.width = `${Math.floor(viewport.width / (window.devicePixelRatio || 1))}px`;
    await page.render({ canvas, canvasContext: canvas.getContext("2d"), viewport }).promise;
    drawWatermark(canvas, text);
    canvas.dataset.watermark = text;
    return canvas;
  }

  next() {
    return this.show(this.page + 1);
  }

  previous() {
    return this.show(this.page - 1);
  }

  async close() {
    this.canvases.clear();
    this.element.replaceChildren();
    delete this.element.dataset.page;
    delete this.element.dataset.pages;
    const task = this.task;
    this.task = null;
    this.document = null;
    this.path = null;
    this.page = 0;
    if (task) await task.destroy();
  }
}
