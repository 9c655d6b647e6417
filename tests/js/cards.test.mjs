// lib/cards.js labels each cell of a `table.cards` with its column's header, for the phone's card layout.

import assert from "node:assert/strict";
import { test } from "node:test";

import { labelCells } from "../../frontend/js/lib/cards.js";

function cell(text, dataset = {}) {
  return { textContent: text, dataset };
}

test("every cell gets its column's header text, and a label already set is kept", () => {
  const headers = [cell(" 序号 "), cell("投标人"), cell("状态")];
  const rows = [{ children: [cell("1"), cell("甲"), cell("已解密")] }, { children: [cell("2"), cell("乙", { label: "自定" })] }];
  const table = { querySelectorAll: (selector) => (selector === "thead th" ? headers : rows) };
  labelCells(table);
  assert.deepEqual(rows[0].children.map((c) => c.dataset.label), ["序号", "投标人", "状态"]);
  assert.deepEqual(rows[1].children.map((c) => c.dataset.label), ["序号", "自定"]);
});
