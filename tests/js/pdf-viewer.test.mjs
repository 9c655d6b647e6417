// frontend/js/lib/pdf-viewer.js under Node, on a stand-in for pdf.js's document and for the page's canvases: a
// page is drawn once and shown again from its canvas, drawn again when the minute its watermark names has
// passed, rendered once when asked for twice at once, and a page that fails is reported and tried again.
// (The real pdf.js, ranges and pixels: tests/browser/test_evaluation_session.py in Chromium.)

import assert from "node:assert/strict";
import { test } from "node:test";

import { setFormatConfig } from "../../frontend/js/lib/format.js";

// pdf.js's build looks for DOMMatrix when loaded; nothing here draws with it.
globalThis.DOMMatrix ??= class {};
const { PdfViewer, watermarkText } = await import("../../frontend/js/lib/pdf-viewer.js");

class Context {
  constructor() {
    this.texts = [];
  }
  save() {}
  restore() {}
  translate() {}
  rotate() {}
  measureText(text) {
    return { width: text.length * 10 };
  }
  fillText(text) {
    this.texts.push(text);
  }
}

class Canvas {
  constructor() {
    this.dataset = {};
    this.style = {};
    this.hidden = false;
    this.parentNode = null;
    this.context = new Context();
  }
  getContext() {
    return this.context;
  }
  remove() {
    if (this.parentNode) this.parentNode.children = this.parentNode.children.filter((c) => c !== this);
    this.parentNode = null;
  }
}

class Pages {
  constructor() {
    this.children = [];
    this.dataset = {};
    this.clientWidth = 800;
  }
  querySelectorAll() {
    return [...this.children];
  }
  append(child) {
    this.children.push(child);
    child.parentNode = this;
  }
  replaceChildren() {
    this.children = [];
  }
}

globalThis.window = { devicePixelRatio: 1 };
globalThis.document = { createElement: () => new Canvas() };

/** A viewer over a six-page stand-in document whose clock the test moves; `failing` pages fail once. */
function viewerOn({ failing = new Set() } = {}) {
  const clock = { now: new Date("2026-12-03T08:30:10Z") };
  const fetched = [];
  const errors = [];
  const element = new Pages();
  const viewer = new PdfViewer(element, {
    workerUrl: "/static/pdf-worker.js",
    viewer: "专家1",
    now: () => clock.now,
    onError: (exc) => errors.push(exc.message),
  });
  viewer.path = "bid/技术标.pdf";
  viewer.document = {
    numPages: 6,
    async getPage(number) {
      fetched.push(number);
      if (failing.delete(number)) throw new Error(`page ${number} unreadable`);
      return {
        getViewport: ({ scale }) => ({ width: 595 * scale, height: 842 * scale }),
        render: () => ({ promise: Promise.resolve() }),
      };
    },
  };
  return { viewer, element, clock, fetched, errors };
}

const shown = (element) => element.children.filter((c) => !c.hidden);

test("the watermark names the viewer and the minute, and is drawn into the page's own canvas", async () => {
  setFormatConfig({ timeZone: "Asia/Shanghai", zoneLabel: "北京时间" });
  const { viewer, element } = viewerOn();
  assert.equal(await viewer.show(4), 4);
  const [canvas] = shown(element);
  assert.equal(canvas.dataset.page, "4");
  assert.equal(canvas.dataset.watermark, "专家1 · 2026-12-03 16:30 北京时间");
  assert.equal(watermarkText("专家1", new Date("2026-12-03T08:30:10Z")), canvas.dataset.watermark);
  assert.ok(canvas.context.texts.length > 3 && canvas.context.texts.every((t) => t === canvas.dataset.watermark));
  assert.equal(element.dataset.page, "4");
  assert.equal(element.dataset.state, "shown");
});

test("a page shown again within the minute comes from its canvas; a minute later it is drawn again", async () => {
  setFormatConfig({ timeZone: "Asia/Shanghai", zoneLabel: "北京时间" });
  const { viewer, element, clock, fetched } = viewerOn();
  await viewer.show(4);
  const first = shown(element)[0];
  await viewer.show(1);
  clock.now = new Date("2026-12-03T08:30:50Z");
  await viewer.show(4);
  assert.deepEqual(fetched, [4, 1]);
  assert.equal(shown(element)[0], first);
  clock.now = new Date("2026-12-03T08:31:00Z");
  await viewer.show(4);
  assert.deepEqual(fetched, [4, 1, 4]);
  const again = shown(element);
  assert.equal(again.length, 1);
  assert.notEqual(again[0], first);
  assert.equal(again[0].dataset.watermark, "专家1 · 2026-12-03 16:31 北京时间");
  // the stale canvas of page 4 is gone; page 1's stays, hidden
  assert.deepEqual(element.children.map((c) => [c.dataset.page, c.hidden]), [["1", true], ["4", false]]);
});

test("a page asked for twice while it renders is rendered once; the last page asked for is the one shown", async () => {
  const { viewer, element, fetched } = viewerOn();
  const [a, b, c] = await Promise.all([viewer.show(2), viewer.show(2), viewer.show(3)]);
  assert.deepEqual([a, b, c], [null, null, 3]);
  assert.deepEqual(fetched, [2, 3]);
  assert.deepEqual(shown(element).map((canvas) => canvas.dataset.page), ["3"]);
  assert.equal(await viewer.show(2), 2);
  assert.deepEqual(fetched, [2, 3]);
  assert.equal(await viewer.show(99), 6);
  assert.equal(await viewer.show(0), 1);
});

test("a page that fails to render is reported, shows nothing, and is tried again when asked for again", async () => {
  const { viewer, element, fetched, errors } = viewerOn({ failing: new Set([5]) });
  assert.equal(await viewer.show(5), null);
  assert.deepEqual(errors, ["page 5 unreadable"]);
  assert.equal(element.dataset.state, "failed");
  assert.equal(element.children.length, 0);
  assert.equal(await viewer.show(5), 5);
  assert.deepEqual(fetched, [5, 5]);
  assert.equal(element.dataset.state, "shown");
});
