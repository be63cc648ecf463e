// The events rail beside every page (live feed, motion grouped per camera and easy to
// hide) and the events page (the catalog searched on the server, a page at a time).

import { api, query } from "./api.js";
import { alarmPanel } from "./alarms.js";
import { on, state } from "./store.js";
import { clear, fmtClock, fmtDate, fmtDateTime, h, toast } from "./util.js";

// Letters, not emoji: a video-wall PC often has no emoji font.
const ICONS = { gunshot: "G", plate: "P", lpr: "P", person: "H", vehicle: "V", motion: "M", door: "D", speech: "S", camera: "C" };
const HIDE_MOTION_KEY = "vms.hideMotion";
const SEVERITIES = ["info", "low", "medium", "high", "critical"];

function icon(type) {
  const key = Object.keys(ICONS).find((k) => type.includes(k));
  return key ? ICONS[key] : type.charAt(0).toUpperCase();
}

const cameraName = (id) => (state.cameras.find((c) => c.id === id) || { name: `#${id}` }).name;
const labelOf = (event) => event.label || event.type;

export function eventItem(event, { withDate = false } = {}) {
  const t = Date.parse(event.time);
  const cams = (event.camera_ids || []).map(cameraName).join(", ");
  const detail = event.data && (event.data.plate || event.data.label || event.data.text || "");
  return h(
    "li",
    { class: `event sev-${event.severity} kind-${event.kind || "detection"}`, dataset: { event: event.id, type: event.type } },
    h(
      "a",
      { href: `#/incident/${encodeURIComponent(event.id)}`, title: `${event.type} (${event.severity}) from ${event.source || "?"}` },
      h("span", { class: "ev-icon" }, icon(event.type)),
      h("span", { class: "ev-main" }, h("span", { class: "ev-type" }, labelOf(event)), h("span", { class: "ev-where" }, [cams, detail].filter(Boolean).join(" · "))),
      h("span", { class: "ev-time", title: fmtDate(t) }, withDate ? fmtDateTime(t) : fmtClock(t)),
    ),
  );
}

/** One row for every motion event of a camera from one detector: the count and the latest. */
function motionGroup(events) {
  const latest = events[0];
  const t = Date.parse(latest.time);
  const camera = (latest.camera_ids || []).map(cameraName).join(", ");
  return h(
    "li",
    { class: "event sev-info kind-motion motion-group", dataset: { event: latest.id, count: String(events.length) } },
    h(
      "a",
      { href: `#/incident/${encodeURIComponent(latest.id)}`, title: `${events.length} motion events; the latest opens` },
      h("span", { class: "ev-icon" }, "M"),
      h("span", { class: "ev-main" }, h("span", { class: "ev-type" }, `${labelOf(latest)} ×${events.length}`), h("span", { class: "ev-where" }, camera)),
      h("span", { class: "ev-time" }, fmtClock(t)),
    ),
  );
}

/** Newest first: everything but motion as it is; motion as one row per camera and detector,
 * placed where its newest event is. */
export function railRows(events, hideMotion) {
  const rows = [];
  const groups = new Map();
  for (const event of events) {
    if (event.kind !== "motion") {
      rows.push({ event });
      continue;
    }
    if (hideMotion) continue;
    const key = `${(event.camera_ids || []).join(",")}|${labelOf(event).replace(/^Motion ended/, "Motion")}`;
    const group = groups.get(key);
    if (group) group.events.push(event);
    else {
      const row = { events: [event] };
      groups.set(key, row);
      rows.push(row);
    }
  }
  return rows;
}

function hideMotionToggle(onChange) {
  const box = h("input", { type: "checkbox", class: "hide-motion", checked: localStorage.getItem(HIDE_MOTION_KEY) === "1" });
  box.addEventListener("change", () => {
    localStorage.setItem(HIDE_MOTION_KEY, box.checked ? "1" : "0");
    onChange(box.checked);
  });
  return { box, label: h("label", { class: "check small-check", title: "Motion from cameras and analytics" }, box, "Hide motion") };
}

export function eventsRail() {
  const list = h("ul", { class: "event-list" });
  const status = h("span", { class: "feed-status" });
  const { box, label } = hideMotionToggle(() => render());
  function render() {
    clear(list);
    const rows = railRows(state.events, box.checked).slice(0, 60);
    for (const row of rows) list.append(row.event ? eventItem(row.event) : motionGroup(row.events));
    if (!rows.length) list.append(h("li", { class: "muted" }, state.events.length ? "Only motion (hidden)" : "No events yet"));
  }
  const showStatus = () => {
    status.textContent = state.feedStatus === "live" ? "● live" : state.feedStatus;
    status.dataset.state = state.feedStatus;
  };
  on("event", render);
  on("feed", showStatus);
  on("cameras", render);
  render();
  showStatus();
  return h(
    "aside",
    { class: "rail" },
    alarmPanel(),
    h("section", { class: "events-feed" }, h("div", { class: "side-head" }, h("h3", {}, "Events"), label, status), list),
  );
}

const localIso = (value) => (value ? new Date(value).toISOString() : "");

/** `#/events`: the whole catalog, searched on the server, newest first, page by page. */
export function eventsPage(root) {
  const type = h("input", { type: "search", name: "type", placeholder: "Type, e.g. gunshot", class: "filter-type" });
  const camera = h("select", { name: "camera" }, h("option", { value: "" }, "All cameras"), state.cameras.map((c) => h("option", { value: c.id }, c.name)));
  const severity = h("select", { name: "severity" }, SEVERITIES.map((s, i) => h("option", { value: i ? s : "" }, i ? `≥ ${s}` : "All severities")));
  const motion = h("input", { type: "checkbox", name: "motion", checked: localStorage.getItem(HIDE_MOTION_KEY) !== "1" });
  const since = h("input", { type: "datetime-local", name: "since", step: 1 });
  const until = h("input", { type: "datetime-local", name: "until", step: 1 });
  const submit = h("button", { type: "submit", class: "primary" }, "Search");
  const list = h("ul", { class: "event-list wide results" });
  const more = h("button", { type: "button", class: "more", hidden: true }, "Older events");
  const summary = h("span", { class: "muted result-count" });
  let next = null;
  let shown = 0;
  let generation = 0;

  function params() {
    const text = type.value.trim();
    return {
      type: text ? (text.endsWith("*") ? text : `${text}*`) : "",
      camera: camera.value,
      severity: severity.value,
      kind: motion.checked ? "" : "detection,system",
      since: localIso(since.value),
      until: localIso(until.value),
    };
  }

  async function load(reset) {
    const mine = reset ? ++generation : generation;
    if (reset) {
      next = null;
      shown = 0;
    }
    submit.disabled = more.disabled = true;
    try {
      const page = await api(`/api/events/search${query({ ...params(), limit: 100, after: next })}`);
      if (mine !== generation) return;
      if (reset) clear(list);
      for (const event of page.events) list.append(eventItem(event, { withDate: true }));
      shown += page.events.length;
      next = page.next;
      more.hidden = !next;
      summary.textContent = shown ? `${shown} event${shown === 1 ? "" : "s"}${next ? " (more below)" : ""}` : "";
      if (!shown) list.append(h("li", { class: "muted" }, "No matching events"));
    } catch (err) {
      toast(err.message, "error", 6000);
    } finally {
      submit.disabled = more.disabled = false;
    }
  }

  const form = h(
    "form",
    { class: "event-search" },
    type,
    camera,
    severity,
    h("label", { class: "check" }, motion, "Motion"),
    h("label", {}, "From ", since),
    h("label", {}, "to ", until),
    submit,
  );
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    load(true);
  });
  more.addEventListener("click", () => load(false));
  root.append(h("div", { class: "events-page" }, h("header", { class: "page-head" }, h("h2", {}, "Events"), form, summary), list, more));
  load(true);
  return () => {
    generation += 1;
  };
}
