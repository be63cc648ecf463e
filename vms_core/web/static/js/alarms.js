// The alarm queue: severe events (a gunshot, a hotlist hit) waiting for a person. The
// server holds the queue, so every operator sees the same one; changes arrive on the
// events stream (`event: alarm`) and are merged here by their `updated` time.

import { api, ApiError } from "./api.js";
import { on, state } from "./store.js";
import { clear, fmtClock, fmtDateTime, h, toast } from "./util.js";

const SOUND_KEY = "vms.alarmSound";
const STATE_ORDER = { new: 0, acknowledged: 1, closed: 2 };

// open: the queue; latest: the newest version seen of any alarm, closed ones too (a page
// showing one alarm follows it to the end).
export const alarms = { open: new Map(), latest: new Map() };
const watchers = new Set();
let sound = localStorage.getItem(SOUND_KEY) === "on";
let audio = null;
let sounded = 0;

function changed() {
  for (const fn of watchers) {
    try {
      fn();
    } catch (err) {
      console.error(err);
    }
  }
}

/** Call `fn` whenever the queue changes; returns the unsubscribe function. */
export function watchAlarms(fn) {
  watchers.add(fn);
  return () => watchers.delete(fn);
}

// What a drawn alarm shows: its changes, and its picture (taken after it was created).
const version = (alarm) => `${alarm.updated}|${alarm.thumbnail.state}`;

/** Keep `alarm` if it is newer than what we hold; closed alarms leave the open queue. */
function merge(alarm) {
  const known = alarms.latest.get(alarm.id);
  if (known && known.updated > alarm.updated) return false;
  alarms.latest.set(alarm.id, alarm);
  if (alarm.state === "closed") alarms.open.delete(alarm.id);
  else alarms.open.set(alarm.id, alarm);
  return true;
}

export function openAlarms() {
  return [...alarms.open.values()].sort(
    (a, b) => STATE_ORDER[a.state] - STATE_ORDER[b.state] || Date.parse(b.time) - Date.parse(a.time) || b.id - a.id,
  );
}

export function newCount() {
  let count = 0;
  for (const a of alarms.open.values()) if (a.state === "new") count += 1;
  return count;
}

export async function startAlarms() {
  alarms.open.clear();
  alarms.latest.clear();
  watchers.clear(); // the views of a previous sign-in are gone
  // Subscribe before loading, so a change that lands in between is not lost.
  on("alarm", (alarm) => {
    const fresh = !alarms.latest.has(alarm.id) && alarm.state === "new";
    if (!merge(alarm)) return;
    if (fresh) ring();
    changed();
  });
  try {
    const page = await api("/api/alarms?limit=500");
    for (const alarm of page.alarms) merge(alarm);
  } catch (err) {
    console.warn("alarms:", err.message);
  }
  changed();
}

// A short two-tone beep (WebAudio: no sound file, works offline). Browsers allow sound
// only after a user gesture on the page; turning sound on is one.
function ring() {
  if (!sound) return;
  try {
    audio = audio || new AudioContext();
    const now = audio.currentTime;
    for (const [at, pitch] of [[0, 880], [0.18, 660]]) {
      const tone = audio.createOscillator();
      const gain = audio.createGain();
      tone.frequency.value = pitch;
      gain.gain.setValueAtTime(0.12, now + at);
      gain.gain.exponentialRampToValueAtTime(0.001, now + at + 0.16);
      tone.connect(gain).connect(audio.destination);
      tone.start(now + at);
      tone.stop(now + at + 0.17);
    }
    sounded += 1;
    for (const node of document.querySelectorAll(".alarm-queue")) node.dataset.sounds = String(sounded);
  } catch (err) {
    console.warn("alarm sound:", err.message);
  }
}

function soundToggle() {
  const button = h("button", { type: "button", class: "small sound-toggle" });
  const show = () => {
    button.textContent = sound ? "Sound on" : "Sound off";
    button.classList.toggle("active", sound);
    button.title = sound ? "A tone sounds for each new alarm" : "No tone for new alarms";
  };
  button.addEventListener("click", () => {
    sound = !sound;
    localStorage.setItem(SOUND_KEY, sound ? "on" : "off");
    if (sound && !audio) audio = new AudioContext(); // created inside the click: allowed
    show();
  });
  show();
  return button;
}

function cameraNames(alarm) {
  return (alarm.event.camera_ids || [])
    .map((id) => (state.cameras.find((c) => c.id === id) || { name: `#${id}` }).name)
    .join(", ");
}

function stateText(alarm) {
  if (alarm.state === "closed") return `Closed by ${alarm.closed_by}`;
  const who = alarm.assignee ? ` · assigned to ${alarm.assignee}` : "";
  if (alarm.state === "acknowledged") return `Acknowledged by ${alarm.acknowledged_by}${who}`;
  return `New${who}`;
}

function thumbnail(alarm) {
  const t = alarm.thumbnail;
  if (t.state === "ready") return h("img", { class: "alarm-thumb", src: t.url, alt: `Camera at ${fmtClock(Date.parse(alarm.time))}` });
  return h("div", { class: "alarm-thumb empty-thumb", title: t.note || "" }, t.state === "pending" ? "Taking picture…" : "No picture");
}

async function act(alarm, action, body) {
  try {
    const updated = await api(`/api/alarms/${alarm.id}/${action}`, { method: "POST", json: body || {} });
    if (merge(updated)) changed();
    return updated;
  } catch (err) {
    toast(err instanceof ApiError ? err.message : String(err), "error", 6000);
    return null;
  }
}

/** One alarm: picture, what and where, its state, and the actions an operator has. */
export function alarmItem(alarm, { full = false } = {}) {
  const t = Date.parse(alarm.time);
  const operator = state.me && state.me.role !== "viewer";
  const actions = h("div", { class: "alarm-actions" });
  if (operator && alarm.state === "new") {
    actions.append(h("button", { type: "button", class: "small primary ack", onclick: () => act(alarm, "acknowledge") }, "Acknowledge"));
  }
  if (operator && alarm.state !== "closed" && alarm.assignee !== state.me.username) {
    actions.append(h("button", { type: "button", class: "small assign-me", onclick: () => act(alarm, "assign", { assignee: state.me.username }) }, "Assign to me"));
  }
  actions.append(h("a", { class: "small-link", href: `#/incident/${encodeURIComponent(alarm.event.id)}` }, "Open"));
  const node = h(
    "li",
    { class: `alarm sev-${alarm.severity}`, dataset: { alarm: alarm.id, state: alarm.state, event: alarm.event.id, version: version(alarm) } },
    thumbnail(alarm),
    h(
      "div",
      { class: "alarm-main" },
      h("span", { class: "alarm-title" }, alarm.event.label || alarm.event.type),
      h("span", { class: "alarm-where" }, [cameraNames(alarm), full ? fmtDateTime(t) : fmtClock(t)].filter(Boolean).join(" · ")),
      h("span", { class: "alarm-state" }, stateText(alarm)),
    ),
    actions,
  );
  if (full) node.append(alarmDetail(alarm, operator));
  return node;
}

function alarmDetail(alarm, operator) {
  const notes = h(
    "ul",
    { class: "alarm-notes" },
    alarm.notes.map((n) => h("li", {}, h("span", { class: "muted" }, `${fmtClock(Date.parse(n.time))} ${n.username}: `), n.text)),
  );
  const box = h("div", { class: "alarm-detail" }, notes);
  if (!operator || alarm.state === "closed") return box;
  const text = h("input", { class: "note-text", placeholder: "Note (also used as the closing note)", maxLength: 2000 });
  const assignee = h("input", { class: "assignee", placeholder: "Assign to user…", maxLength: 64, value: alarm.assignee || "" });
  box.append(
    h(
      "div",
      { class: "row" },
      text,
      h("button", { type: "button", class: "small add-note", onclick: async () => text.value.trim() && (await act(alarm, "notes", { text: text.value })) && (text.value = "") }, "Add note"),
      h("button", { type: "button", class: "small warn close-alarm", onclick: () => act(alarm, "close", { note: text.value || null }) }, "Close"),
    ),
    h(
      "div",
      { class: "row" },
      assignee,
      h("button", { type: "button", class: "small assign", onclick: () => act(alarm, "assign", { assignee: assignee.value.trim() || null }) }, "Assign"),
    ),
  );
  return box;
}

/** Show `items` in `list`, keeping the node of an alarm that did not change (and what is
 * typed in it) instead of drawing it again. */
export function syncList(list, items, make, empty) {
  const old = new Map();
  for (const node of list.children) if (node.dataset.alarm) old.set(node.dataset.alarm, node);
  const nodes = items.map((alarm) => {
    const node = old.get(String(alarm.id));
    return node && node.dataset.version === version(alarm) ? node : make(alarm);
  });
  if (!nodes.length && empty) nodes.push(h("li", { class: "muted" }, empty));
  list.replaceChildren(...nodes);
}

/** The compact queue at the top of the events rail. */
export function alarmPanel() {
  const list = h("ul", { class: "alarm-list" });
  const count = h("span", { class: "alarm-count" });
  const render = () => {
    const shown = openAlarms();
    syncList(list, shown.slice(0, 6), (a) => alarmItem(a), "No open alarms");
    if (shown.length > 6) list.append(h("li", { class: "muted more" }, h("a", { href: "#/alarms" }, `${shown.length - 6} more…`)));
    count.textContent = shown.length ? `${newCount()} new · ${shown.length} open` : "";
  };
  watchAlarms(render);
  render();
  return h(
    "section",
    { class: "alarm-queue", dataset: { sounds: String(sounded) } },
    h("div", { class: "side-head" }, h("h3", {}, h("a", { href: "#/alarms" }, "Alarms")), count, soundToggle()),
    list,
  );
}

/** The nav link's badge: how many alarms nobody has acknowledged yet. */
export function alarmBadge() {
  const badge = h("span", { class: "nav-badge" });
  const show = () => {
    const n = newCount();
    badge.textContent = n ? String(n) : "";
    badge.hidden = !n;
  };
  watchAlarms(show);
  show();
  return badge;
}

/** `#/alarms`: the open queue with notes and every action, and the closed ones on demand. */
export function alarmsPage(root) {
  const list = h("ul", { class: "alarm-list wide" });
  const closedList = h("ul", { class: "alarm-list wide closed" });
  const more = h("button", { type: "button", class: "small", hidden: true }, "Older closed alarms");
  let next = null;
  const render = () => syncList(list, openAlarms(), (a) => alarmItem(a, { full: true }), "No open alarms");
  async function loadClosed(reset) {
    if (reset) {
      clear(closedList);
      next = null;
    }
    const page = await api(`/api/alarms?state=closed&limit=50${next ? `&after=${encodeURIComponent(next)}` : ""}`);
    for (const alarm of page.alarms) closedList.append(alarmItem(alarm, { full: true }));
    if (!closedList.children.length) closedList.append(h("li", { class: "muted" }, "No closed alarms"));
    next = page.next;
    more.hidden = !next;
  }
  more.addEventListener("click", () => loadClosed(false));
  const showClosed = h("input", { type: "checkbox", class: "show-closed" });
  showClosed.addEventListener("change", () => {
    closedList.hidden = !showClosed.checked;
    if (showClosed.checked) loadClosed(true).catch((err) => toast(err.message, "error"));
    else more.hidden = true;
  });
  closedList.hidden = true;
  const off = watchAlarms(render);
  root.append(
    h(
      "div",
      { class: "alarms-page alarm-queue", dataset: { sounds: String(sounded) } },
      h("header", { class: "page-head" }, h("h2", {}, "Alarms"), soundToggle(), h("label", { class: "check" }, showClosed, "Show closed")),
      list,
      closedList,
      more,
    ),
  );
  render();
  return off;
}
