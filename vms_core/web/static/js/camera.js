// The camera page: live or recorded view, the timeline, PTZ, bookmark/lock and export.

import { api, optional, query } from "./api.js";
import { LiveView } from "./live.js";
import { PlaybackView } from "./playback.js";
import { ptzPanel } from "./ptz.js";
import { cameraById, health, on, state, streamFor } from "./store.js";
import { Timeline } from "./timeline.js";
import { clear, debounce, fmtClock, fmtDateTime, h, isoZ, parseTime, toast } from "./util.js";

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
  return { spans: list.map(pair), gaps: (body.gaps || []).map(pair) };
}

export function cameraPage(root, { id, t }) {
  const camera = cameraById(id);
  if (!camera) {
    root.append(h("div", { class: "empty" }, `No camera ${id}.`));
    return () => {};
  }
  const live = new LiveView({ label: camera.name, onLive: () => preview.stop() });
  // The sub stream is usually already open (the wall plays it) and shows at once; the
  // main stream takes over when its first frame is decoded.
  const preview = new LiveView({ label: camera.name });
  preview.el.classList.add("preview");
  const playback = new PlaybackView({ onTime: (ms) => timeline.setPlayhead(ms) });
  const stage = h("div", { class: "stage" });
  const modeLabel = h("span", { class: "mode" }, "Live");
  const selectionLabel = h("span", { class: "selection-label" }, "Shift-drag on the timeline to select a range");
  let selection = null;

  const timeline = new Timeline({
    onSeek: (ms) => showPlayback(ms),
    onSelect: (range) => {
      selection = range;
      selectionLabel.textContent = `${fmtDateTime(range.start)} → ${fmtClock(range.end)}`;
    },
    onView: debounce(() => loadTimeline(), 250),
  });

  function showLive() {
    playback.stop();
    timeline.setPlayhead(null);
    clear(stage).append(live.el, preview.el);
    modeLabel.textContent = "Live";
    const main = streamFor(camera, "main");
    const sub = streamFor(camera, "sub");
    if (sub !== main) preview.start(camera, sub);
    live.start(camera, main);
  }

  function showPlayback(ms) {
    live.stop();
    preview.stop();
    clear(stage).append(playback.el);
    modeLabel.textContent = "Playback";
    timeline.setPlayhead(ms);
    playback.play(camera.id, ms);
  }

  let loading = 0;
  async function loadTimeline() {
    const ticket = ++loading;
    const { start, end } = timeline.view;
    const range = { start: isoZ(start), end: isoZ(Math.min(end, Date.now())) };
    const [rec, events, bookmarks] = await Promise.all([
      optional(`/api/cameras/${camera.id}/recordings${query(range)}`, null).catch(() => null),
      api(`/api/events${query({ camera: camera.id, since: range.start, until: range.end, limit: 1000 })}`).catch(() => []),
      api(`/api/bookmarks${query({ camera: camera.id, start: range.start, end: range.end })}`).catch(() => []),
    ]);
    if (ticket !== loading) return;
    timeline.setData({
      ...recordingsOf(rec),
      events: events.map((e) => ({ t: Date.parse(e.time), type: e.type, severity: e.severity })),
      bookmarks: bookmarks.map((b) => ({ ...pair(b), locked: b.locked, reason: b.reason })),
    });
    renderBookmarks(bookmarks);
  }

  const bookmarkList = h("ul", { class: "list bookmarks" });
  function renderBookmarks(rows) {
    clear(bookmarkList);
    if (!rows.length) bookmarkList.append(h("li", { class: "muted" }, "No bookmarks in view"));
    for (const b of rows) {
      const lock = h(
        "button",
        { class: `small${b.locked ? " locked" : ""}`, type: "button", title: b.locked ? "Unlock (admin)" : "Lock as evidence" },
        b.locked ? "Locked" : "Lock",
      );
      lock.addEventListener("click", async () => {
        try {
          await api(`/api/bookmarks/${b.id}`, { method: "PATCH", json: { locked: !b.locked } });
          loadTimeline();
        } catch (err) {
          toast(err.message, "error");
        }
      });
      const go = h("button", { class: "link", type: "button" }, `${fmtDateTime(Date.parse(b.start))} ${b.reason}`);
      go.addEventListener("click", () => showPlayback(Date.parse(b.start)));
      bookmarkList.append(h("li", {}, go, lock));
    }
  }

  function currentRange() {
    if (selection) return selection;
    const at = playback.wallTime() ?? Date.now();
    return { start: at - 30000, end: Math.min(Date.now(), at + 30000) };
  }

  const reason = h("input", { type: "text", placeholder: "Reason (case number, what happened)", class: "reason" });
  async function bookmark(lock) {
    const range = currentRange();
    const text = reason.value.trim();
    if (!text) {
      toast("Give a reason for the bookmark", "error");
      reason.focus();
      return;
    }
    try {
      await api("/api/bookmarks", {
        method: "POST",
        json: { cameras: [camera.id], start: isoZ(range.start), end: isoZ(range.end), reason: text, lock },
      });
      toast(lock ? "Evidence locked" : "Bookmark added", "ok");
      reason.value = "";
      loadTimeline();
    } catch (err) {
      toast(err.message, "error");
    }
  }

  const exportsBox = h("ul", { class: "list exports" });
  async function exportRange() {
    const range = currentRange();
    const text = reason.value.trim();
    if (!text) {
      toast("Give a reason for the export (it goes into the signed manifest)", "error");
      reason.focus();
      return;
    }
    try {
      const job = await api("/api/exports", {
        method: "POST",
        json: { cameras: [camera.id], start: isoZ(range.start), end: isoZ(range.end), reason: text },
      });
      const item = h("li", { class: "export", dataset: { export: job.id } }, `Export ${fmtDateTime(range.start)}: ${job.state}`);
      exportsBox.prepend(item);
      followExport(job, item);
    } catch (err) {
      toast(err.unavailable ? "Export is not available on this server" : err.message, "error");
    }
  }

  async function followExport(job, item) {
    while (item.isConnected) {
      if (job.state === "done") {
        const size = (job.files || []).reduce((sum, f) => sum + (f.bytes || 0), 0);
        clear(item).append(
          h("a", { href: job.package, download: "" }, `Download evidence package`),
          h("span", { class: "muted" }, `${(size / 1e6).toFixed(1)} MB`),
        );
        return;
      }
      if (job.state === "failed") {
        item.textContent = `Export failed: ${job.error || "unknown error"}`;
        return;
      }
      await new Promise((r) => setTimeout(r, 1000));
      try {
        job = await api(`/api/exports/${job.id}`);
        item.textContent = `Export: ${job.state} ${Math.round((job.progress || 0) * 100)}%`;
      } catch (err) {
        item.textContent = `Export: ${err.message}`;
        return;
      }
    }
  }

  const button = (label, fn, cls = "") => h("button", { type: "button", class: cls, onclick: fn }, label);
  const zooms = [
    ["15 min", 15 * 60e3], ["1 h", 3600e3], ["6 h", 6 * 3600e3], ["1 day", 86400e3], ["3 days", 3 * 86400e3], ["7 days", 7 * 86400e3],
  ].map(([label, span]) => button(label, () => timeline.setView(Date.now() - span * 0.9, Date.now() + span * 0.1), "small"));

  const legend = h(
    "div",
    { class: "timeline-legend" },
    h("span", { class: "rec" }, "recorded"),
    h("span", { class: "gap" }, "gap"),
    h("span", { class: "ev" }, "event"),
    h("span", { class: "bm" }, "bookmark"),
    h("span", { class: "lk" }, "locked evidence"),
    h("span", { class: "help" }, "wheel: zoom · drag: pan · click: play · shift-drag: select"),
  );
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

  root.append(
    h(
      "div",
      { class: "camera-page" },
      h(
        "header",
        { class: "page-head" },
        h("h2", {}, camera.name),
        h("span", { class: `health ${badge.cls}` }, badge.label),
        modeLabel,
        h("span", { class: "spacer" }),
        button("Live", showLive, "primary"),
      ),
      h("div", { class: "camera-main" }, stage, h("div", { class: "timeline-bar" }, h("div", { class: "zooms" }, zooms, legend), timeline.el)),
      h(
        "aside",
        { class: "camera-side" },
        camera.has_ptz ? ptzPanel(camera) : null,
        h(
          "section",
          { class: "panel actions" },
          h("h3", {}, "Evidence"),
          selectionLabel,
          reason,
          h("div", { class: "row" }, button("Bookmark", () => bookmark(false)), button("Lock evidence", () => bookmark(true), "warn"), button("Export", exportRange)),
          exportsBox,
        ),
        h("section", { class: "panel" }, h("h3", {}, "Bookmarks"), bookmarkList),
        h("section", { class: "panel" }, h("h3", {}, "Events"), cameraEvents),
      ),
    ),
  );

  // `t` is epoch milliseconds or an ISO 8601 time; an unreadable one opens live view.
  const t0 = !t ? null : /^\d+$/.test(t) ? Number(t) : Date.parse(decodeURIComponent(t)) || null;
  timeline.setView(Date.now() - 3 * 3600e3, Date.now() + 600e3);
  if (t0) {
    timeline.setView(t0 - 1800e3, t0 + 1800e3);
    showPlayback(t0);
  } else {
    showLive();
  }
  renderEvents();
  const off = on("event", renderEvents);
  const refresh = setInterval(loadTimeline, 15000);
  return () => {
    off();
    clearInterval(refresh);
    live.stop();
    preview.stop();
    playback.stop();
    timeline.destroy();
  };
}
