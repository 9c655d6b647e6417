// 评标办法编辑: the draft form's evaluation method (etender-method-v1, docs/evaluation.md §1) as rows
// of inputs. It writes the method's JSON into the form's textarea on every change, so the server
// receives exactly what a page without JavaScript would post, and checks it: every problem is shown
// next to the form after saving. Without JavaScript the textarea itself is the editor.

import { readConfig, setMessages, t } from "../lib/i18n.js";

const config = readConfig("method-editor-config");
setMessages(config.messages);

const textarea = document.getElementById("id_method");
const root = document.getElementById("method-editor");
const methodSelect = document.getElementById("id_evaluation_method");

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (value === true) node.setAttribute(key, "");
    else if (value !== false && value != null) node.setAttribute(key, value);
  }
  node.append(...children);
  return node;
}

/** An input bound to ``obj[key]``; decimals stay strings, as the format has them. */
function input(obj, key, label, attrs = {}) {
  const field = el("input", {
    value: obj[key] ?? "",
    "aria-label": label,
    oninput: (event) => {
      obj[key] = event.target.value;
      write();
    },
    ...attrs,
  });
  return field;
}

function decimalInput(obj, key, label) {
  return input(obj, key, label, { inputmode: "decimal", size: 7, class: "num" });
}

function removeButton(list, index) {
  return el("button", {
    type: "button",
    class: "small secondary",
    text: t("remove"),
    onclick: () => {
      list.splice(index, 1);
      render();
    },
  });
}

let method = null;

function write() {
  textarea.value = JSON.stringify(method, null, 2);
  const total = root.querySelector("[data-weights-total]");
  if (total) total.textContent = t("weights_total", { total: weightsTotal() });
}

function weightsTotal() {
  // In hundredths (integers), so the sum is exact like the server's.
  const cents = (value) => {
    const match = /^(\d+)(?:\.(\d{1,2}))?$/.exec(String(value ?? "").trim());
    return match ? Number(match[1]) * 100 + Number((match[2] ?? "").padEnd(2, "0")) : NaN;
  };
  let sum = method.price.rule === "lowest_evaluated" ? 0 : cents(method.price.weight);
  for (const criterion of method.criteria) sum += cents(criterion.weight);
  return Number.isNaN(sum) ? "?" : `${Math.floor(sum / 100)}.${String(sum % 100).padStart(2, "0")}`;
}

function qualificationSection() {
  const rows = method.qualification.map((item, i) => {
    item.documents ??= [];
    const documents = el(
      "ul",
      { class: "method-documents" },
      ...item.documents.map((doc, j) =>
        el(
          "li",
          {},
          input(doc, "id", t("id"), { size: 5 }),
          input(doc, "name", t("name")),
          removeButton(item.documents, j),
        ),
      ),
    );
    const addDocument = el("button", {
      type: "button",
      class: "small secondary",
      text: t("add_document"),
      onclick: () => {
        item.documents.push({ id: `D${Date.now() % 100000}`, name: "" });
        render();
      },
    });
    return el(
      "tr",
      {},
      el("td", { "data-label": t("id") }, input(item, "id", t("id"), { size: 5 })),
      el("td", { "data-label": t("title") }, input(item, "title", t("title"))),
      el("td", { "data-label": t("documents") }, documents, addDocument),
      el("td", {}, removeButton(method.qualification, i)),
    );
  });
  return el(
    "section",
    { class: "method-qualification" },
    el("h3", { text: t("qualification") }),
    el("p", { class: "helptext", text: t("qualification_help") }),
    el(
      "table",
      { class: "cards" },
      el(
        "thead",
        {},
        el(
          "tr",
          {},
          el("th", { scope: "col", text: t("id") }),
          el("th", { scope: "col", text: t("title") }),
          el("th", { scope: "col", text: t("documents") }),
          el("th", { scope: "col" }),
        ),
      ),
      el("tbody", {}, ...rows),
    ),
    el("button", {
      type: "button",
      class: "small secondary",
      text: t("add_item"),
      onclick: () => {
        method.qualification.push({ id: `Q${method.qualification.length + 1}`, title: "", documents: [] });
        render();
      },
    }),
  );
}

function criteriaSection() {
  const rows = method.criteria.map((criterion, i) => {
    const kind = el(
      "select",
      {
        "aria-label": t("kind"),
        onchange: (event) => {
          criterion.kind = event.target.value;
          write();
        },
      },
      ...["technical", "commercial"].map((value) =>
        el("option", { value, selected: criterion.kind === value, text: t(value) }),
      ),
    );
    return el(
      "tr",
      {},
      el("td", { "data-label": t("id") }, input(criterion, "id", t("id"), { size: 5 })),
      el("td", { "data-label": t("title") }, input(criterion, "title", t("title"))),
      el("td", { "data-label": t("kind") }, kind),
      el("td", { "data-label": t("weight") }, decimalInput(criterion, "weight", t("weight"))),
      el("td", { "data-label": t("min_score") }, decimalInput(criterion, "min_score", t("min_score"))),
      el("td", { "data-label": t("max_score") }, decimalInput(criterion, "max_score", t("max_score"))),
      el("td", {}, removeButton(method.criteria, i)),
    );
  });
  return el(
    "section",
    { class: "method-criteria" },
    el("h3", { text: t("criteria") }),
    el(
      "table",
      { class: "cards" },
      el(
        "thead",
        {},
        el(
          "tr",
          {},
          ...["id", "title", "kind", "weight", "min_score", "max_score"].map((key) =>
            el("th", { scope: "col", text: t(key) }),
          ),
          el("th", { scope: "col" }),
        ),
      ),
      el("tbody", {}, ...rows),
    ),
    el("button", {
      type: "button",
      class: "small secondary",
      text: t("add_criterion"),
      onclick: () => {
        method.criteria.push({
          id: `T${method.criteria.length + 1}`,
          title: "",
          kind: "technical",
          weight: "0.00",
          min_score: "0.00",
          max_score: "10.00",
        });
        render();
      },
    }),
  );
}

function priceSection() {
  const price = method.price;
  const choices = methodSelect?.value === "lowest_price" ? ["lowest_evaluated"] : ["lowest_ratio", "benchmark"];
  const rule = el(
    "select",
    {
      "aria-label": t("price"),
      onchange: (event) => {
        const weight = price.weight ?? "50.00";
        method.price =
          event.target.value === "benchmark"
            ? {
                rule: "benchmark",
                weight,
                factors: ["-0.03", "-0.02", "-0.01", "0.00"],
                deduct_above: "1.00",
                deduct_below: "0.50",
              }
            : { rule: event.target.value, weight };
        render();
      },
    },
    ...choices.map((value) => el("option", { value, selected: price.rule === value, text: t(`rule_${value}`) })),
  );
  const parts = [el("h3", { text: t("price") }), el("label", {}, rule)];
  if (price.rule !== "lowest_evaluated") {
    parts.push(el("label", {}, `${t("price_weight")} `, decimalInput(price, "weight", t("price_weight"))));
    parts.push(el("p", { "data-weights-total": true, class: "helptext" }));
  }
  if (price.rule === "benchmark") {
    const factors = el("input", {
      value: (price.factors ?? []).join(", "),
      "aria-label": t("factors"),
      oninput: (event) => {
        price.factors = event.target.value
          .split(/[,，\s]+/)
          .map((value) => value.trim())
          .filter(Boolean);
        write();
      },
    });
    parts.push(el("label", {}, `${t("factors")} `, factors));
    parts.push(el("label", {}, `${t("deduct_above")} `, decimalInput(price, "deduct_above", t("deduct_above"))));
    parts.push(el("label", {}, `${t("deduct_below")} `, decimalInput(price, "deduct_below", t("deduct_below"))));
  }
  return el("section", { class: "method-price" }, ...parts);
}

function otherSection() {
  const anonymous = el("input", {
    type: "checkbox",
    checked: method.anonymous_technical === true,
    onchange: (event) => {
      method.anonymous_technical = event.target.checked;
      write();
    },
  });
  return el(
    "section",
    { class: "method-other" },
    el("label", {}, anonymous, ` ${t("anonymous_technical")}`),
    el(
      "label",
      {},
      `${t("deviation_threshold_percent")} `,
      decimalInput(method, "deviation_threshold_percent", t("deviation_threshold_percent")),
    ),
  );
}

function render() {
  const sections = [qualificationSection()];
  if (method.price.rule !== "lowest_evaluated") sections.push(criteriaSection());
  sections.push(priceSection(), otherSection());
  root.replaceChildren(...sections);
  write();
}

/** The other evaluation method's shape: lowest evaluated price has no criteria; comprehensive needs a weight. */
function followEvaluationMethod() {
  const lowest = methodSelect.value === "lowest_price";
  if (lowest && method.price.rule !== "lowest_evaluated") {
    method.criteria = [];
    method.price = { rule: "lowest_evaluated" };
    method.anonymous_technical = false;
  } else if (!lowest && method.price.rule === "lowest_evaluated") {
    const template = config.templates.comprehensive;
    method.criteria = structuredClone(template.criteria);
    method.price = structuredClone(template.price);
  }
  render();
}

function start() {
  if (!textarea || !root) return;
  try {
    method = JSON.parse(textarea.value || "null");
  } catch {
    method = null;
  }
  const sound =
    method && typeof method === "object" && Array.isArray(method.qualification) && Array.isArray(method.criteria);
  if (!sound || !method.price || typeof method.price !== "object") {
    // The textarea stays the editor: the server names what is wrong with it.
    root.hidden = false;
    root.replaceChildren(el("p", { class: "helptext", text: t("json_unreadable") }));
    return;
  }
  textarea.hidden = true;
  const label = document.querySelector('label[for="id_method"]');
  if (label) label.hidden = true;
  root.hidden = false;
  methodSelect?.addEventListener("change", followEvaluationMethod);
  render();
}

start();
