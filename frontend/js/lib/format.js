// How the pages write moments and amounts, the same text as config/formatting.py writes
// on the server's pages and PDFs:
//   a moment   2026-12-03 16:30 北京时间   (local time in the server's TIME_ZONE, to the minute,
//                                          then the zone's name as people call it)
//   an amount  3,050,000.00               (yuan, thousands separators, to the 分)
//   in words   叁佰零伍万元整              (大写金额)
// The zone and its name come from the page: base.html writes them in the JSON script
// element #platform-format ({"time_zone", "zone_label"}), from the server's setting.

let configured = null;

/** The page's zone and the zone's name; UTC where a page carries none (a test's page). */
export function formatConfig() {
  if (configured) return configured;
  const element = typeof document === "undefined" ? null : document.getElementById("platform-format");
  const data = element ? JSON.parse(element.textContent) : {};
  configured = { timeZone: data.time_zone || "UTC", zoneLabel: data.zone_label || data.time_zone || "UTC" };
  return configured;
}

/** Sets the zone by hand (node's tests; a page whose configuration arrives another way). */
export function setFormatConfig({ timeZone, zoneLabel = timeZone }) {
  configured = { timeZone, zoneLabel };
}

const partsFormatters = new Map();

function partsOf(date, timeZone) {
  let formatter = partsFormatters.get(timeZone);
  if (!formatter) {
    formatter = new Intl.DateTimeFormat("en-GB", {
      timeZone,
      hourCycle: "h23",
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
    });
    partsFormatters.set(timeZone, formatter);
  }
  return Object.fromEntries(formatter.formatToParts(date).map((part) => [part.type, part.value]));
}

/**
 * A moment (ISO 8601 text, a Date or milliseconds) as `2026-12-03 16:30 北京时间`;
 * `{ label: false }` leaves out the zone's name. An unreadable moment gives "".
 */
export function momentText(moment, { label = true } = {}) {
  if (moment === null || moment === undefined || moment === "") return "";
  const date = moment instanceof Date ? moment : new Date(moment);
  if (Number.isNaN(date.getTime())) return "";
  const { timeZone, zoneLabel } = formatConfig();
  const p = partsOf(date, timeZone);
  const text = `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}`;
  return label ? `${text} ${zoneLabel}` : text;
}

const AMOUNT = /^(\d+)(?:\.(\d{1,2}))?$/;

function amountParts(value) {
  const text = typeof value === "number" ? String(value) : String(value ?? "").trim();
  const match = AMOUNT.exec(text);
  if (!match) throw new RangeError(`not an amount in yuan to the 分: ${JSON.stringify(value)}`);
  return { yuan: match[1].replace(/^0+(?=\d)/, ""), cents: (match[2] ?? "").padEnd(2, "0") };
}

/** `3050000.5` (text or number) → `3,050,000.50`; throws RangeError on what is not an amount. */
export function amountText(value) {
  const { yuan, cents } = amountParts(value);
  return `${yuan.replace(/\B(?=(\d{3})+(?!\d))/g, ",")}.${cents}`;
}

const DIGITS = "零壹贰叁肆伍陆柒捌玖";
const PLACES = ["仟", "佰", "拾", ""];
const GROUPS = ["", "万", "亿", "万亿"];

function groupInWords(number) {
  let words = "";
  let pendingZero = false;
  String(number).padStart(4, "0").split("").forEach((digit, i) => {
    if (digit === "0") {
      pendingZero = words !== "";
      return;
    }
    if (pendingZero) words += "零";
    pendingZero = false;
    words += DIGITS[Number(digit)] + PLACES[i];
  });
  return words;
}

/** `3050000` → `叁佰零伍万元整`, as config/formatting.py's amount_in_words (the same worked examples test both). */
export function amountInWords(value) {
  const { yuan, cents } = amountParts(value);
  if (yuan.length > 16) throw new RangeError(`an amount in words is below 10^16 yuan: ${JSON.stringify(value)}`);
  const padded = yuan.padStart(16, "0");
  const groups = [0, 1, 2, 3].map((i) => Number(padded.slice(12 - 4 * i, 16 - 4 * i)));
  const jiao = Number(cents[0]);
  const fen = Number(cents[1]);
  const hasYuan = groups.some((g) => g > 0);
  let words = "";
  let higher = false;
  let gap = false;
  for (let index = GROUPS.length - 1; index >= 0; index--) {
    const group = groups[index];
    if (group === 0) {
      gap = higher;
      continue;
    }
    if (higher && (gap || group < 1000)) words += "零";
    words += groupInWords(group) + GROUPS[index];
    higher = true;
    gap = false;
  }
  if (hasYuan) words += "元";
  if (jiao) words += `${DIGITS[jiao]}角`;
  else if (fen && hasYuan) words += "零";
  if (fen) words += `${DIGITS[fen]}分`;
  else if (hasYuan || jiao) words += "整";
  return words || "零元整";
}
