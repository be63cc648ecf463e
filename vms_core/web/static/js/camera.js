// The camera page: live or recorded view with playback controls, the timeline, PTZ,
// bookmark/lock and export of one or several cameras, and the user's exports.

import { api, optional, query } from "./api.js";
import { exportsPanel } from "./exports.js";
import { LiveView } from "./live.js";
import { PlaybackView } from "./playback.js";
import { ptzPanel } from "./ptz.js";
import { shortcuts } from "./shortcuts.js";
import { cameraById, health, on, state, streamFor } from "./store.js";
import { tileTools } from "./tile.js";
import { Timeline } from "./timeline.js";
import { transport } from "./transport.js";
import { clear, debounce, fmtClock, fmtDateTime, h, isoZ, parseTime, toast } from "./util.js";

const AROUND_MS = 30000; // without a selection, evidence covers a minute around the picture

function pair(item) {
  if (Array.isArray(item)) return { start: parseTime(item[0]), end: parseTime(item[1]) };
  return {
    start: parseTime(item.start ?? item.start_us),
    end: parseTime(item.end ?? item.end_us),
  };
}

/** Spans and gaps from the recordings endpoint, whichever of its shapes it answers. */
export function recordingsOf(body) {
  if (!body) return { spans: [], gaps: [] };
  const list = Array.isArray(body) ? body : body.spans || body.segments || body.recordings || [];
  return { spans: list.map(pair), gaps: (body.gaps || []).map((g) => ({ ...pair(g), kind: g.kind || "gap" })) };
}

/** A bookmark as the timeline draws it, and the line an operator reads. */
export function bookmarkOf(b) {
  return { ...pair(b), locked: b.locked, kind: b.kind || "operator", title: b.title || b.reason, reason: b.reason };
}

/** Event density for the timeline: counts per bucket, or nothing if the server has none. */
export async function densityOf(cameraId, start, end, buckets) {
  const body = await optional(
    `/api/cameras/${cameraId}/events/density${query({ start: isoZ(start), end: isoZ(end), buckets })}`,
    null,
  ).catch(() => null);
  if (!body) return null;
  const size = body.bucket_seconds * 1000;
  return { size, buckets: body.buckets.map((b) => ({ start: Date.parse(b.start), motion: b.motion, events: b.events })) };
}

/** Pick cameras for evidence: this one, and any others the user may see. */
function cameraChooser(camera) {
  const chosen = new Set([camera.id]);
  const summary = h("summary", {});
  const list = h("div", { class: "chooser-list" });
  const show = () => {
    const names = state.cameras.filter((c) => chosen.has(c.id)).map((c) => c.name);
    summary.textContent = `Cameras: ${names.join(", ")}`;
  };
  for (const c of state.cameras) {
    const box = h("input", { type: "checkbox", value: String(c.id), checked: chosen.has(c.id) });
    box.addEventListener("change", () => {
      if (box.checked) chosen.add(c.id);
      else if (c.id !== camera.id || chosen.size > 1) chosen.delete(c.id);
      box.checked = chosen.has(c.id);
      show();
    });
    list.append(h("label", { class: "chooser-item" }, box, c.name));
  }
  show();
  return { el: h("details", { class: "camera-chooser" }, summary, list), ids: () => [...chosen].sort((a, b) => a - b) };
}

export function cameraPage(root, { id, t }) {
  const camera = cameraById(id);
  if (!camera) {
    root.append(h("div", { class: "empty" }, `No camera ${id}.`));
    return () => {};
  }
  const operator = state.me && ["operator", "admin"].includes(state.me.role);
  const admin = state.me && state.me.role === "admin";
  const mainStream = (camera.streams || []).find((s) => s.role === "main");
  const live = new LiveView({ label: camera.name, onLive: () => preview.stop() });
  // The sub stream is usually already open (the wall plays it) and shows at once; the
  // main stream takes over when its first frame is decoded.
  const preview = new LiveView({ label: camera.name });
  preview.el.classList.add("preview");
  const playback = new PlaybackView({
    onTime: (ms) => {
      timeline.setPlayhead(ms);
      if (!selection) showRange(); // the minute around the picture follows the picture
    },
  });
  const liveTools = tileTools(live, { camera: () => camera, timeOf: () => Date.now() });
  const playbackTools = tileTools(playback, { camera: () => camera, timeOf: () => playback.wallTime() });
  const stage = h("div", { class: "stage" });
  const modeLabel = h("span", { class: "mode" }, "Live");
  let mode = "live";
  const selectionLabel = h("span", { class: "selection-label" }, "");
  let selection = null;

  const timeline = new Timeline({
    onSeek: (ms) => showPlayback(ms),
    onSelect: (range) => {
      selection = range;
      showRange();
    },
    onView: debounce(() => loadTimeline(), 250),
  });

  function showLive() {
    mode = "live";
    playback.stop();
    timeline.setPlayhead(null);
    clear(stage).append(live.el, preview.el);
    modeLabel.textContent = "Live";
    root.querySelector(".camera-page")?.setAttribute("data-mode", "live");
    const main = streamFor(camera, "main");
    const sub = streamFor(camera, "sub");
    if (sub !== main) preview.start(camera, sub);
    live.start(camera, main);
    controls.show();
  }

  function showPlayback(ms) {
    mode = "playback";
    live.stop();
    preview.stop();
    clear(stage).append(playback.el);
    modeLabel.textContent = "Playback";
    root.querySelector(".camera-page")?.setAttribute("data-mode", "playback");
    timeline.setPlayhead(ms);
    playback.play(camera.id, ms, { fps: mainStream && mainStream.fps });
    controls.show();
    showRange();
  }

  // Playback controls work from live view too: they start playback where it makes sense.
  const control = {
    get paused() {
      return mode === "playback" && playback.paused;
    },
    get rate() {
      return playback.rate;
    },
    togglePause() {
      if (mode === "playback") return playback.togglePause();
      playback.paused = true;
      showPlayback(Date.now() - 3000);
    },
    step(direction) {
      if (mode === "playback") return playback.step(direction);
      playback.paused = true;
      showPlayback(Date.now() - 3000);
    },
    setRate(rate) {
      playback.setRate(rate);
      if (mode === "live") showPlayback(Date.now() - (rate < 0 ? 3000 : 60000));
    },
  };
  const controls = transport(control, { onGoTo: (ms) => goTo(ms), now: () => playback.wallTime() });

  function goTo(ms) {
    const span = timeline.view.end - timeline.view.start;
    timeline.setView(ms - span / 2, ms + span / 2);
    showPlayback(ms);
  }

  let loading = 0;
  async function loadTimeline() {
    const ticket = ++loading;
    const asked = { ...timeline.view };
    const { start, end } = asked;
    const range = { start: isoZ(start), end: isoZ(Math.min(end, Date.now())) };
    const [rec, events, bookmarks, density] = await Promise.all([
      optional(`/api/cameras/${camera.id}/recordings${query(range)}`, null).catch(() => null),
      api(`/api/events${query({ camera: camera.id, since: range.start, until: range.end, limit: 1000 })}`).catch(() => []),
      api(`/api/bookmarks${query({ camera: camera.id, start: range.start, end: range.end })}`).catch(() => []),
      densityOf(camera.id, start, Math.min(end, Date.now()), timeline.buckets()),
    ]);
    if (ticket !== loading) return;
    timeline.setData({
      ...recordingsOf(rec),
      events: events.map((e) => ({ t: Date.parse(e.time), type: e.type, severity: e.severity })),
      bookmarks: bookmarks.map(bookmarkOf),
      density,
    }, asked);
    renderBookmarks(bookmarks);
  }

  const bookmarkList = h("ul", { class: "list bookmarks" });
  function renderBookmarks(rows) {
    clear(bookmarkList);
    if (!rows.length) bookmarkList.append(h("li", { class: "muted" }, "No bookmarks in view"));
    for (const b of rows) {
      const mark = bookmarkOf(b);
      const detail = `${b.reason}\n${b.kind === "automatic" ? "made by" : "by"} ${b.created_by}, ${fmtDateTime(Date.parse(b.created))}`;
      const go = h(
        "button",
        { class: "link bookmark-title", type: "button", title: detail },
        h("span", { class: `bm-kind bm-${mark.locked ? mark.kind : "bookmark"}` }),
        h("span", { class: "bm-text" }, h("span", { class: "bm-name" }, mark.title), h("span", { class: "bm-time" }, fmtDateTime(mark.start))),
      );
      go.addEventListener("click", () => showPlayback(mark.start));
      bookmarkList.append(h("li", { dataset: { bookmark: b.id, kind: mark.kind } }, go, lockControl(b)));
    }
  }

  /** Lock for operators; unlock only for admins (an operator's click would be refused). */
  function lockControl(b) {
    if (b.locked && !admin) return h("span", { class: "locked-badge", title: "Locked evidence (an admin may unlock it)" }, "Locked");
    if (!operator) return null;
    const button = h(
      "button",
      { class: `small${b.locked ? " locked" : ""}`, type: "button", title: b.locked ? "Unlock this evidence" : "Lock as evidence" },
      b.locked ? "Unlock" : "Lock",
    );
    button.addEventListener("click", async () => {
      try {
        await api(`/api/bookmarks/${b.id}`, { method: "PATCH", json: { locked: !b.locked } });
        loadTimeline();
      } catch (err) {
        toast(err.message, "error");
      }
    });
    return button;
  }

  function currentRange() {
    if (selection) return selection;
    const at = playback.wallTime() ?? Date.now();
    return { start: at - AROUND_MS, end: Math.min(Date.now(), at + AROUND_MS) };
  }

  function showRange() {
    const range = currentRange();
    const how = selection ? "selected" : "a minute around the picture; shift-drag the timeline to choose";
    selectionLabel.textContent = `${fmtDateTime(range.start)} → ${fmtClock(range.end)} (${how})`;
  }

  const chooser = cameraChooser(camera);
  const reason = h("input", { type: "text", placeholder: "Reason (case number, what happened)", class: "reason" });
  function reasonText(what) {
    const text = reason.value.trim();
    if (!text) {
      toast(`Give a reason for the ${what}`, "error");
      reason.focus();
    }
    return text;
  }

  async function bookmark(lock) {
    const range = currentRange();
    const text = reasonText(lock ? "lock" : "bookmark");
    if (!text) return;
    const cameras = chooser.ids();
    try {
      await api("/api/bookmarks", {
        method: "POST",
        json: { cameras, start: isoZ(range.start), end: isoZ(range.end), reason: text, lock },
      });
      const on = cameras.length > 1 ? ` on ${cameras.length} cameras` : "";
      toast(lock ? `Evidence locked${on}` : `Bookmark added${on}`, "ok");
      // The reason stays: the next step (an export) needs it too.
      loadTimeline();
    } catch (err) {
      toast(err.message, "error");
    }
  }

  const exportsBox = operator ? exportsPanel() : null;
  async function exportRange() {
    const range = currentRange();
    const text = reasonText("export (it goes into the signed manifest)");
    if (!text) return;
    try {
      await api("/api/exports", {
        method: "POST",
        json: { cameras: chooser.ids(), start: isoZ(range.start), end: isoZ(range.end), reason: text },
      });
      toast("Export started", "ok");
      exportsBox.refresh();
    } catch (err) {
      toast(err.unavailable ? "Export is not available on this server" : err.message, "error");
    }
  }

  const button = (label, fn, cls = "", title = "") => h("button", { type: "button", class: cls, onclick: fn, title }, label);
  const zooms = [
    ["15 min", 15 * 60e3], ["1 h", 3600e3], ["6 h", 6 * 3600e3], ["1 day", 86400e3], ["3 days", 3 * 86400e3], ["7 days", 7 * 86400e3],
  ].map(([label, span]) => button(label, () => timeline.setView(Date.now() - span * 0.9, Date.now() + span * 0.1), "small"));

  const badge = health(camera);
  const cameraEvents = h("ul", { class: "list events-mini" });
  function renderEvents() {
    clear(cameraEvents);
    const mine = state.events.filter((e) => (e.camera_ids || []).includes(camera.id)).slice(0, 30);
    if (!mine.length) cameraEvents.append(h("li", { class: "muted" }, "No recent events"));
    for (const e of mine) {
      const t = Date.parse(e.time);
      cameraEvents.append(
        h("li", { class: `sev-${e.severity}` }, h("button", { class: "link", type: "button", onclick: () => showPlayback(t - 5000) }, `${fmtClock(t)} ${e.type}`)),
      );
    }
  }

  const evidence = operator
    ? h(
        "section",
        { class: "panel actions" },
        h("h3", {}, "Evidence"),
        selectionLabel,
        chooser.el,
        reason,
        h(
          "div",
          { class: "row" },
          button("Bookmark", () => bookmark(false)),
          button("Lock evidence", () => bookmark(true), "warn"),
          button("Export", exportRange),
        ),
      )
    : null;

  root.append(
    h(
      "div",
      { class: "camera-page", dataset: { mode: "live", camera: camera.id } },
      h(
        "header",
        { class: "page-head" },
        h("h2", {}, camera.name),
        h("span", { class: `health ${badge.cls}`, title: camera.state_reason || badge.label }, badge.label),
        modeLabel,
        controls.el,
        h("span", { class: "spacer" }),
        button("Back to live", showLive, "primary live-button", "Back to live view (l)"),
      ),
      h("div", { class: "camera-main" }, stage, h("div", { class: "timeline-bar" }, h("div", { class: "zooms" }, zooms, timeline.legend), timeline.el)),
      h(
        "aside",
        { class: "camera-side" },
        camera.has_ptz ? ptzPanel(camera) : null,
        evidence,
        exportsBox ? exportsBox.el : null,
        h("section", { class: "panel" }, h("h3", {}, "Bookmarks"), bookmarkList),
        h("section", { class: "panel" }, h("h3", {}, "Events"), cameraEvents),
      ),
    ),
  );

  const shown = () => (mode === "live" ? liveTools : playbackTools);
  const offKeys = shortcuts("Camera", [
    { keys: ["Space"], label: "Play / pause (live: pause here)", run: () => (control.togglePause(), controls.show()) },
    { keys: [","], label: "One frame back", run: () => control.step(-1) },
    { keys: ["."], label: "One frame forward", run: () => control.step(1) },
    { keys: ["["], label: "Slower (down to reverse)", run: () => controls.faster(-1) },
    { keys: ["]"], label: "Faster", run: () => controls.faster(1) },
    { keys: ["j"], label: "Go to a date and time", run: () => controls.focusGoTo() },
    { keys: ["l"], label: "Back to live", run: () => showLive() },
    { keys: ["f"], label: "Full screen", run: () => shown().fullScreen() },
    { keys: ["s"], label: "Snapshot (PNG)", run: () => shown().snapshot() },
    { keys: ["m"], label: "Sound on / off", run: () => shown().toggleSound() },
    { keys: ["0"], label: "Reset the digital zoom", run: () => shown().zoom.reset() },
  ]);

  // `t` is epoch milliseconds or an ISO 8601 time; an unreadable one opens live view.
  const t0 = !t ? null : /^\d+$/.test(t) ? Number(t) : Date.parse(decodeURIComponent(t)) || null;
  timeline.setView(Date.now() - 3 * 3600e3, Date.now() + 600e3);
  if (t0) {
    timeline.setView(t0 - 1800e3, t0 + 1800e3);
    showPlayback(t0);
  } else {
    showLive();
  }
  showRange();
  renderEvents();
  const off = on("event", renderEvents);
  const refresh = setInterval(loadTimeline, 15000);
  return () => {
    off();
    offKeys();
    clearInterval(refresh);
    if (exportsBox) exportsBox.close();
    live.stop();
    preview.stop();
    playback.stop();
    timeline.destroy();
  };
}
