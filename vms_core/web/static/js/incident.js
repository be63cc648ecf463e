// Responding to an incident: where it happened, and the nearest cameras both live and
// at the moment it happened.

import { alarmItem, alarms, syncList, watchAlarms } from "./alarms.js";
import { api } from "./api.js";
import { LiveView } from "./live.js";
import { PlaybackView } from "./playback.js";
import { eventPosition, fitLabels, planSvg } from "./plan.js";
import { state, streamFor } from "./store.js";
import { fmtDateTime, h, metresBetween } from "./util.js";

const NEAREST = 3;
const LEAD_MS = 10000; // start a little before the incident

export function nearestCameras(event, count = NEAREST) {
  const at = eventPosition(event);
  const named = new Set(event.camera_ids || []);
  const ranked = state.cameras
    .filter((c) => c.enabled)
    .map((c) => ({
      camera: c,
      metres: at && c.lat !== null && c.lon !== null ? metresBetween(at, c) : Infinity,
    }))
    .sort((a, b) => (named.has(b.camera.id) - named.has(a.camera.id)) || a.metres - b.metres);
  return ranked.slice(0, count);
}

/** The event by id from the catalog, whatever its age (with its alarm, if any). */
async function findEvent(id) {
  try {
    return await api(`/api/events/${encodeURIComponent(id)}`);
  } catch (err) {
    if (err.status === 404) return null;
    throw err;
  }
}

/** The event's alarm with its actions, kept current as anyone works it. */
function alarmBox(first) {
  const box = h("ul", { class: "alarm-list incident-alarm alarm-queue" });
  let current = first;
  const render = () => {
    current = alarms.latest.get(current.id) || current;
    syncList(box, [current], (a) => alarmItem(a, { full: true }));
  };
  const off = watchAlarms(render);
  render();
  return { box, off };
}

export function incidentPage(root, { id }) {
  const views = [];
  const offs = [];
  const body = h("div", { class: "incident-page" }, h("div", { class: "empty" }, "Loading incident…"));
  root.append(body);
  let closed = false;
  findEvent(id)
    .then((event) => {
      if (closed) return;
      body.replaceChildren();
      if (!event) {
        body.append(h("div", { class: "empty" }, `No event ${id}.`));
        return;
      }
      const t = Date.parse(event.time);
      const alarm = event.alarm ? alarmBox(event.alarm) : null;
      if (alarm) offs.push(alarm.off);
      const rows = nearestCameras(event).map(({ camera, metres }) => {
        const live = new LiveView({ label: `${camera.name} · live` });
        const past = new PlaybackView();
        views.push(live, past);
        live.start(camera, streamFor(camera, "sub"));
        past.play(camera.id, t - LEAD_MS);
        const distance = Number.isFinite(metres) ? `${Math.round(metres)} m` : "position unknown";
        return h(
          "div",
          { class: "incident-camera", dataset: { camera: camera.id } },
          h("div", { class: "incident-camera-head" }, h("a", { href: `#/camera/${camera.id}?t=${t - LEAD_MS}` }, camera.name), h("span", { class: "muted" }, distance)),
          h("div", { class: "pair" }, live.el, past.el),
        );
      });
      const plan = planSvg({ focus: event, onCamera: (c) => (location.hash = `#/camera/${c.id}`) });
      body.append(
        h(
          "header",
          { class: "page-head" },
          h("h2", { title: event.type }, event.label || event.type),
          h("span", { class: `health sev-${event.severity}` }, event.severity),
          h("span", { class: "muted" }, `${fmtDateTime(t)} · ${event.source || ""}`),
        ),
        h(
          "div",
          { class: "incident-grid" },
          h("div", { class: "incident-cameras" }, rows.length ? rows : h("div", { class: "empty" }, "No cameras")),
          h("div", { class: "incident-plan" }, alarm ? alarm.box : null, plan, h("pre", { class: "event-data" }, JSON.stringify(event.data || {}, null, 2))),
        ),
      );
      fitLabels(plan);
    })
    .catch((err) => body.replaceChildren(h("div", { class: "empty" }, err.message)));
  return () => {
    closed = true;
    views.forEach((v) => v.stop());
    offs.forEach((off) => off());
  };
}
