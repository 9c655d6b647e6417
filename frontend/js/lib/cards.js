// Tables that become one card per row at phone width (site.css, `table.cards`): each cell needs its
// column's name in `data-label`. Server-rendered tables write it; for tables a page's script fills,
// importing this module labels every cell of every `table.cards` from its header, now and whenever
// rows change.

/** Copies each column's header text into the `data-label` of that column's cells (leaves set ones). */
export function labelCells(table) {
  const names = [...table.querySelectorAll("thead th")].map((th) => th.textContent.trim());
  for (const row of table.querySelectorAll("tbody tr")) {
    [...row.children].forEach((cell, index) => {
      if (names[index] && !cell.dataset.label) cell.dataset.label = names[index];
    });
  }
}

/** Labels every `table.cards` under `root`, and again whenever its rows change. */
export function watchCards(root = document) {
  for (const table of root.querySelectorAll("table.cards")) {
    labelCells(table);
    new MutationObserver(() => labelCells(table)).observe(table, { childList: true, subtree: true });
  }
}

if (typeof document !== "undefined") watchCards();
