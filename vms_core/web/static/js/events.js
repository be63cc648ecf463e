// The live events feed: a rail beside every page and a full page with filters.

import { on, state } from "./store.js";
import { clear, fmtClock, fmtDate, h } from "./util.js";

// Letters, not emoji: a video-wall PC often has no emoji font.
const ICONS = { gunshot: "G", plate: "P", lpr: "P", person: "H", vehicle: "V", motion: "M", door: "D", speech: "S", camera: "C" };

function icon(type) {
  const key = Object.keys(ICONS).find((k) => type.includes(k));
  return key ? ICONS[key] : type.charAt(0).toUpperCase();
}

export function eventItem(event) {
  const t = Date.parse(event.time);
  const cams = (event.camera_ids || [])
    .map((id) => (state.cameras.find((c) => c.id === id) || { name: `#${id}` }).name)
    .join(", ");
  const detail = event.data && (event.data.plate || event.data.label || event.data.text || "");
  return h(
    "li",
    { class: `event sev-${event.severity}`, dataset: { event: event.id } },
    h(
      "a",
      { href: `#/incident/${encodeURIComponent(event.id)}` },
      h("span", { class: "ev-icon" }, icon(event.type)),
      h("span", { class: "ev-main" }, h("span", { class: "ev-type" }, event.type), h("span", { class: "ev-where" }, [cams, detail].filter(Boolean).join(" · "))),
      h("span", { class: "ev-time", title: fmtDate(t) }, fmtClock(t)),
    ),
  );
}

export function eventsRail() {
  const list = h("ul", { class: "event-list" });
  const status = h("span", { class: "feed-status" });
  const render = () => {
    clear(list);
    for (const e of state.events.slice(0, 60)) list.append(eventItem(e));
    if (!state.events.length) list.append(h("li", { class: "muted" }, "No events yet"));
  };
  const showStatus = () => {
    status.textContent = state.feedStatus === "live" ? "● live" : state.feedStatus;
    status.dataset.state = state.feedStatus;
  };
  on("event", render);
  on("feed", showStatus);
  render();
  showStatus();
  return h("aside", { class: "rail" }, h("div", { class: "side-head" }, h("h3", {}, "Events"), status), list);
}

export function eventsPage(root) {
  const filter = h("input", { type: "search", placeholder: "Filter by type, e.g. gunshot", class: "filter" });
  const severity = h(
    "select",
    {},
    ["", "info", "low", "medium", "high", "critical"].map((s) => h("option", { value: s }, s ? `≥ ${s}` : "All severities")),
  );
  const order = ["info", "low", "medium", "high", "critical"];
  const list = h("ul", { class: "event-list wide" });
  const render = () => {
    clear(list);
    const text = filter.value.trim().toLowerCase();
    const min = order.indexOf(severity.value);
    const shown = state.events.filter((e) => (!text || e.type.includes(text)) && order.indexOf(e.severity) >= min);
    for (const e of shown) list.append(eventItem(e));
    if (!shown.length) list.append(h("li", { class: "muted" }, "No matching events"));
  };
  filter.addEventListener("input", render);
  severity.addEventListener("change", render);
  const off = on("event", render);
  root.append(h("div", { class: "events-page" }, h("header", { class: "page-head" }, h("h2", {}, "Events"), filter, severity), list));
  render();
  return off;
}
