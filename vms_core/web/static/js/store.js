// Shared state: the camera list (polled) and the live events feed (one SSE connection).

import { api } from "./api.js";

const listeners = { cameras: new Set(), event: new Set(), feed: new Set(), alarm: new Set() };

export const state = {
  me: null,
  cameras: [],
  events: [], // newest first, bounded
  feedStatus: "connecting",
};

const MAX_EVENTS = 300;
let pollTimer = 0;
let source = null;

export function on(kind, fn) {
  listeners[kind].add(fn);
  return () => listeners[kind].delete(fn);
}

function emit(kind, value) {
  for (const fn of listeners[kind]) {
    try {
      fn(value);
    } catch (err) {
      console.error(err);
    }
  }
}

export const cameraById = (id) => state.cameras.find((c) => c.id === Number(id)) || null;

export async function refreshCameras() {
  try {
    const list = await api("/api/cameras");
    state.cameras = list.sort((a, b) => a.name.localeCompare(b.name, undefined, { numeric: true }));
    emit("cameras", state.cameras);
  } catch (err) {
    console.warn("camera list:", err.message);
  }
}

function addEvents(list) {
  const known = new Set(state.events.map((e) => e.id));
  const fresh = list.filter((e) => !known.has(e.id));
  if (!fresh.length) return;
  state.events = [...fresh, ...state.events]
    .sort((a, b) => Date.parse(b.time) - Date.parse(a.time))
    .slice(0, MAX_EVENTS);
  for (const e of fresh) emit("event", e);
}

function setFeed(status) {
  state.feedStatus = status;
  emit("feed", status);
}

export async function startStore() {
  await refreshCameras();
  pollTimer = setInterval(refreshCameras, 10000);
  try {
    addEvents(await api("/api/events?limit=100"));
  } catch (err) {
    console.warn("events:", err.message);
  }
  source = new EventSource("/api/events/stream");
  source.addEventListener("open", () => setFeed("live"));
  source.addEventListener("error", () => setFeed("reconnecting"));
  source.addEventListener("event", (msg) => {
    try {
      addEvents([JSON.parse(msg.data)]);
    } catch (err) {
      console.warn("bad event message", err);
    }
  });
  // A new alarm, or one acknowledged, assigned, noted or closed by anyone (alarms.js).
  source.addEventListener("alarm", (msg) => {
    try {
      emit("alarm", JSON.parse(msg.data));
    } catch (err) {
      console.warn("bad alarm message", err);
    }
  });
}

export function stopStore() {
  clearInterval(pollTimer);
  if (source) source.close();
  source = null;
  for (const set of Object.values(listeners)) set.clear(); // the shell is rebuilt on login
  state.cameras = [];
  state.events = [];
}

export const HEALTH = {
  // "Online", not "Live": the camera page shows it beside "Playback" too.
  streaming: { label: "Online", cls: "ok" },
  online: { label: "Online", cls: "ok" },
  recording: { label: "Recording", cls: "ok" },
  connecting: { label: "Connecting", cls: "warn" },
  idle: { label: "Idle", cls: "idle" },
  stopped: { label: "Stopped", cls: "idle" },
  unknown: { label: "Unknown", cls: "idle" },
  lost: { label: "Signal lost", cls: "bad" },
  error: { label: "Error", cls: "bad" },
  offline: { label: "Offline", cls: "bad" },
};

export function health(camera) {
  if (!camera.enabled) return { label: "Disabled", cls: "idle" };
  return HEALTH[camera.state] || { label: camera.state || "Unknown", cls: "idle" };
}

export function streamFor(camera, wanted) {
  const roles = (camera.streams || []).map((s) => s.role);
  if (roles.includes(wanted)) return wanted;
  return roles.includes("main") ? "main" : roles[0] || wanted;
}
