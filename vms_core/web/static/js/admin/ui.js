// Small building blocks the administration pages share: tables, sizes, two-step buttons.

import { h } from "../util.js";

/** A table: `columns` are header texts, `rows` arrays of cells (nodes or text). */
export function table(columns, rows, { empty = "Nothing here", cls = "" } = {}) {
  const body = h("tbody", {});
  for (const row of rows) body.append(row instanceof Node ? row : h("tr", {}, row.map((cell) => h("td", {}, cell))));
  if (!rows.length) body.append(h("tr", { class: "empty-row" }, h("td", { colSpan: columns.length, class: "muted" }, empty)));
  return h("table", { class: `data ${cls}` }, h("thead", {}, h("tr", {}, columns.map((c) => h("th", {}, c)))), body);
}

export function fmtBytes(value) {
  if (value === null || value === undefined) return "—";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let n = Number(value);
  let unit = 0;
  while (n >= 1000 && unit < units.length - 1) {
    n /= 1000;
    unit += 1;
  }
  return `${n >= 100 || unit === 0 ? Math.round(n) : n.toFixed(1)} ${units[unit]}`;
}

/** A button that asks once more ("Confirm …") before it acts: no modal dialog needed. */
export function twoStep(label, confirmLabel, action, cls = "small warn") {
  const button = h("button", { type: "button", class: cls }, label);
  let armed = false;
  let timer = 0;
  button.addEventListener("click", async () => {
    if (!armed) {
      armed = true;
      button.textContent = confirmLabel;
      button.classList.add("armed");
      timer = setTimeout(() => {
        armed = false;
        button.textContent = label;
        button.classList.remove("armed");
      }, 5000);
      return;
    }
    clearTimeout(timer);
    button.disabled = true;
    try {
      await action();
    } finally {
      button.disabled = false;
      armed = false;
      button.textContent = label;
      button.classList.remove("armed");
    }
  });
  return button;
}

export const section = (title, ...children) => h("section", { class: "panel admin-section" }, h("h3", {}, title), ...children);

/** Local date-time input value -> ISO time with Z (empty stays empty). */
export const localIso = (value) => (value ? new Date(value).toISOString() : "");
