// Small DOM and time helpers shared by every view.

const SVG_NS = "http://www.w3.org/2000/svg";

function apply(node, attrs) {
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      node.addEventListener(key.slice(2), value);
    } else if (key === "class") {
      node.setAttribute("class", value);
    } else if (key === "dataset") {
      Object.assign(node.dataset, value);
    } else if (key in node && !(node instanceof SVGElement)) {
      node[key] = value;
    } else {
      node.setAttribute(key, value === true ? "" : String(value));
    }
  }
}

function append(node, children) {
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** h("div", {class: "x", onclick: fn}, child, ...) */
export function h(tag, attrs, ...children) {
  const node = document.createElement(tag);
  apply(node, attrs);
  return append(node, children);
}

export function s(tag, attrs, ...children) {
  const node = document.createElementNS(SVG_NS, tag);
  apply(node, attrs);
  return append(node, children);
}

export function clear(node) {
  while (node.firstChild) node.firstChild.remove();
  return node;
}

export const clamp = (v, lo, hi) => Math.min(hi, Math.max(lo, v));

export function parseTime(value) {
  if (value === null || value === undefined) return null;
  if (typeof value === "number") return value > 1e14 ? value / 1000 : value; // µs or ms
  const t = Date.parse(value);
  return Number.isNaN(t) ? null : t;
}

export const isoZ = (ms) => new Date(Math.round(ms)).toISOString();

const pad = (n, w = 2) => String(n).padStart(w, "0");

export function fmtClock(ms, withSeconds = true) {
  const d = new Date(ms);
  const hm = `${pad(d.getHours())}:${pad(d.getMinutes())}`;
  return withSeconds ? `${hm}:${pad(d.getSeconds())}` : hm;
}

export function fmtDate(ms) {
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

export const fmtDateTime = (ms) => `${fmtDate(ms)} ${fmtClock(ms)}`;

export function fmtAgo(ms) {
  const sec = Math.max(0, Math.round((Date.now() - ms) / 1000));
  if (sec < 60) return `${sec}s ago`;
  if (sec < 3600) return `${Math.floor(sec / 60)}m ago`;
  if (sec < 86400) return `${Math.floor(sec / 3600)}h ago`;
  return `${Math.floor(sec / 86400)}d ago`;
}

export function toast(message, kind = "info", ms = 4000) {
  const box = document.getElementById("toasts");
  if (!box) return;
  const node = h("div", { class: `toast toast-${kind}`, role: kind === "error" ? "alert" : "status" }, message);
  box.append(node);
  setTimeout(() => node.remove(), ms);
}

/** Distance in metres between two lat/lon points (haversine). */
export function metresBetween(a, b) {
  const rad = Math.PI / 180;
  const dLat = (b.lat - a.lat) * rad;
  const dLon = (b.lon - a.lon) * rad;
  const x = Math.sin(dLat / 2) ** 2 + Math.cos(a.lat * rad) * Math.cos(b.lat * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * 6371000 * Math.asin(Math.sqrt(x));
}

export function debounce(fn, ms) {
  let timer = 0;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A date and time an operator types: "2026-12-06 19:31[:38]" (local time, "T" or a space
 * between), or ISO 8601 with a zone ("…Z", "…+01:00"). Milliseconds, or null.
 */
export function parseTyped(text) {
  const value = String(text || "").trim();
  if (!value) return null;
  if (/^\d{10,13}$/.test(value)) return value.length > 10 ? Number(value) : Number(value) * 1000;
  const local = value.match(/^(\d{4})-(\d{2})-(\d{2})[ T](\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3}))?)?$/);
  if (local) {
    const [, y, mo, d, hh, mm, ss = "0", ms = "0"] = local;
    const t = new Date(+y, +mo - 1, +d, +hh, +mm, +ss, +ms.padEnd(3, "0")).getTime();
    return Number.isNaN(t) ? null : t;
  }
  if (/(Z|[+-]\d{2}:?\d{2})$/.test(value)) {
    const t = Date.parse(value);
    return Number.isNaN(t) ? null : t;
  }
  return null;
}

/** "2026-12-06 19:31:38.400" in local time, for a clock that steps by frames. */
export function fmtPrecise(ms) {
  return `${fmtDateTime(ms)}.${pad(Math.floor(((ms % 1000) + 1000) % 1000), 3)}`;
}

/** Save `blob` as a file named `name` (the browser's download). */
export function download(blob, name) {
  const url = URL.createObjectURL(blob);
  const a = h("a", { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
}

/** True when a key press is typing into a field, not a shortcut. */
export function typing(ev) {
  const t = ev.target;
  return t instanceof HTMLElement && (t.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(t.tagName));
}
