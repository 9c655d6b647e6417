// Page texts come translated from the server (gettext, Chinese first) in the
// page's JSON configuration; `%(name)s` placeholders are filled here.

let messages = {};

export function setMessages(table) {
  messages = table || {};
}

export function t(key, values = {}) {
  const template = messages[key] ?? key;
  return template.replace(/%\((\w+)\)[sd]/g, (_, name) => (name in values ? String(values[name]) : `%(${name})s`));
}

export function mib(bytes) {
  return (bytes / 1048576).toFixed(bytes < 10 * 1048576 ? 2 : 1);
}

/** A file size for people: bytes, KiB or MiB. */
export function sizeText(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1048576) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${mib(bytes)} MiB`;
}

export function readConfig(id) {
  const element = document.getElementById(id);
  return element ? JSON.parse(element.textContent) : null;
}
