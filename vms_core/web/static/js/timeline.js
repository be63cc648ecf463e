// A zoomable timeline over days: recordings, gaps and the time before the first recording,
// event density, events, bookmarks and locks, and the playhead. Wheel zooms around the
// pointer, drag pans, click seeks, shift-drag selects a range. The axis is text over the
// canvas and always says the date.

import { clamp, fmtClock, fmtDate, fmtDateTime, h } from "./util.js";

const MIN_SPAN = 60 * 1000;
const MAX_SPAN = 14 * 86400 * 1000;
const STEPS = [1, 5, 10, 30, 60, 300, 600, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86400].map((s) => s * 1000);
// y and height of each row, in CSS pixels (also on the canvas as data-rows, for tests).
export const ROWS = { axis: [0, 15], recording: [18, 12], density: [33, 13], events: [49, 9], bookmarks: [61, 11] };
const HEIGHT = 76;
const DENSITY_PX = 4; // one density bucket per this many pixels

const SEVERITY = { critical: "#ff4d5e", high: "#ff8a3d", medium: "#f5c542", low: "#4fc3f7", info: "#8fa3b8" };
export const COLOURS = {
  recorded: "#2e9d5b",
  gap: "rgba(255, 77, 94, 0.35)",
  notRecorded: "#1d2733",
  motion: "#4f7aa8",
  events: "#ff8a3d",
  bookmark: "#6c8ebf",
  operatorLock: "#f5a623",
  automaticLock: "#d94fd0",
};

function hatch() {
  const tile = h("canvas", { width: 8, height: 8 });
  const g = tile.getContext("2d");
  g.fillStyle = COLOURS.notRecorded;
  g.fillRect(0, 0, 8, 8);
  g.strokeStyle = "#2c3a4a";
  g.beginPath();
  g.moveTo(0, 8);
  g.lineTo(8, 0);
  g.stroke();
  return tile;
}

export function timelineLegend() {
  const item = (cls, label) => h("span", { class: cls }, label);
  return h(
    "div",
    { class: "timeline-legend" },
    item("rec", "recorded"),
    item("gap", "gap"),
    item("nrec", "not recorded yet"),
    item("mo", "motion"),
    item("ev", "events"),
    item("bm", "bookmark"),
    item("lk", "operator lock"),
    item("alk", "automatic lock"),
    h("span", { class: "help" }, "wheel: zoom · drag: pan · click: play · shift-drag: select"),
  );
}

export class Timeline {
  constructor({ onSeek, onSelect, onView } = {}) {
    this.canvas = h("canvas", { class: "timeline-canvas", height: HEIGHT });
    this.canvas.dataset.rows = JSON.stringify(ROWS);
    this.axis = h("div", { class: "timeline-axis" });
    this.tip = h("div", { class: "timeline-tip" });
    this.el = h("div", { class: "timeline", tabIndex: 0 }, this.canvas, this.axis, this.tip);
    this.legend = timelineLegend();
    const now = Date.now();
    this.view = { start: now - 3600 * 1000, end: now + 5 * 60 * 1000 };
    this.data = { spans: [], gaps: [], events: [], bookmarks: [], density: null };
    this.pointer = null; // where the pointer rests over the canvas, for the tip
    this.playhead = null;
    this.selection = null;
    this.onSeek = onSeek;
    this.onSelect = onSelect;
    this.onView = onView;
    this.pattern = null;
    this.bind();
    this.resizeObserver = new ResizeObserver(() => this.draw());
    this.resizeObserver.observe(this.el);
    this.clock = setInterval(() => this.draw(), 1000);
  }

  destroy() {
    this.resizeObserver.disconnect();
    clearInterval(this.clock);
  }

  /** How many density buckets fit the width. */
  buckets() {
    return clamp(Math.round((this.canvas.clientWidth || 800) / DENSITY_PX), 10, 2000);
  }

  /** New data, loaded for ``view``; a tip under a pointer that has not moved follows it. */
  setData(data, view = this.view) {
    this.data = { ...this.data, ...data };
    // The view this data answers, for scripts and tests that wait for it.
    this.el.dataset.dataStart = String(Math.round(view.start));
    this.el.dataset.dataEnd = String(Math.round(view.end));
    this.draw();
    if (this.pointer) this.hover(this.pointer.x, this.pointer.y);
  }

  setPlayhead(ms) {
    this.playhead = ms;
    this.draw();
  }

  setView(start, end) {
    const span = clamp(end - start, MIN_SPAN, MAX_SPAN);
    const mid = (start + end) / 2;
    this.view = { start: mid - span / 2, end: mid + span / 2 };
    this.draw();
    if (this.onView) this.onView(this.view);
  }

  zoom(factor, atMs) {
    const { start, end } = this.view;
    const at = atMs ?? (start + end) / 2;
    const span = clamp((end - start) * factor, MIN_SPAN, MAX_SPAN);
    const ratio = (at - start) / (end - start);
    this.view = { start: at - ratio * span, end: at - ratio * span + span };
    this.draw();
    if (this.onView) this.onView(this.view);
  }

  xToMs(x) {
    const w = this.canvas.clientWidth || 1;
    return this.view.start + (x / w) * (this.view.end - this.view.start);
  }

  msToX(ms) {
    const w = this.canvas.clientWidth || 1;
    return ((ms - this.view.start) / (this.view.end - this.view.start)) * w;
  }

  bind() {
    const c = this.canvas;
    c.addEventListener(
      "wheel",
      (ev) => {
        ev.preventDefault();
        this.zoom(ev.deltaY > 0 ? 1.25 : 0.8, this.xToMs(ev.offsetX));
      },
      { passive: false },
    );
    let drag = null;
    c.addEventListener("pointerdown", (ev) => {
      c.setPointerCapture(ev.pointerId);
      drag = { x: ev.offsetX, view: { ...this.view }, moved: false, select: ev.shiftKey };
    });
    c.addEventListener("pointermove", (ev) => {
      this.pointer = { x: ev.offsetX, y: ev.offsetY };
      this.hover(ev.offsetX, ev.offsetY);
      if (!drag) return;
      const dx = ev.offsetX - drag.x;
      if (Math.abs(dx) > 3) drag.moved = true;
      if (!drag.moved) return;
      if (drag.select) {
        const a = this.xToMs(drag.x);
        const b = this.xToMs(ev.offsetX);
        this.selection = { start: Math.min(a, b), end: Math.max(a, b) };
      } else {
        const perPx = (drag.view.end - drag.view.start) / (c.clientWidth || 1);
        this.view = { start: drag.view.start - dx * perPx, end: drag.view.end - dx * perPx };
      }
      this.draw();
    });
    c.addEventListener("pointerup", (ev) => {
      if (!drag) return;
      const { moved, select } = drag;
      drag = null;
      if (!moved) {
        const t = this.xToMs(ev.offsetX);
        this.el.dataset.seek = String(Math.round(t));
        if (t <= Date.now() && this.onSeek) this.onSeek(t);
      } else if (select && this.selection && this.onSelect) {
        this.onSelect(this.selection);
      } else if (this.onView) {
        this.onView(this.view);
      }
    });
    c.addEventListener("pointerleave", () => {
      this.pointer = null;
      this.tip.style.display = "none";
    });
    this.el.addEventListener("keydown", (ev) => {
      const span = this.view.end - this.view.start;
      if (ev.key === "+" || ev.key === "=") this.zoom(0.5);
      else if (ev.key === "-") this.zoom(2);
      else if (ev.key === "ArrowLeft") this.setView(this.view.start - span / 4, this.view.end - span / 4);
      else if (ev.key === "ArrowRight") this.setView(this.view.start + span / 4, this.view.end + span / 4);
      else return;
      ev.preventDefault();
    });
  }

  /** What is under the pointer, said in words: a bookmark, an event, a density bucket, a gap. */
  describe(x, y) {
    const t = this.xToMs(x);
    const inRow = (row) => y >= ROWS[row][0] - 2 && y <= ROWS[row][0] + ROWS[row][1] + 2;
    if (inRow("bookmarks")) {
      const b = this.data.bookmarks.find((m) => m.start <= t && t <= m.end);
      if (b) {
        const what = b.locked ? (b.kind === "automatic" ? "automatic lock" : "operator lock") : "bookmark";
        return `${b.title} (${what})${b.reason && b.reason !== b.title ? `\n${b.reason}` : ""}`;
      }
    }
    if (inRow("events")) {
      const e = this.data.events.find((ev) => Math.abs(this.msToX(ev.t) - x) < 4);
      if (e) return `${fmtClock(e.t)} ${e.type}`;
    }
    const d = this.data.density;
    if (inRow("density") && d) {
      const b = d.buckets.find((k) => k.start <= t && t < k.start + d.size);
      const size = d.size < 120000 ? `${Math.round(d.size / 1000)} s` : `${Math.round(d.size / 60000)} min`;
      if (b) return `${fmtClock(b.start)} (${size}): ${b.motion} motion, ${b.events} other events`;
    }
    if (inRow("recording")) {
      const gap = this.data.gaps.find((g) => g.start <= t && t < g.end);
      if (gap) return gap.kind === "before_first" ? "not recorded yet (before the first recording)" : "gap: nothing recorded";
    }
    return fmtDateTime(t);
  }

  hover(x, y) {
    this.tip.textContent = this.describe(x, y);
    this.tip.style.display = "block";
    this.tip.style.left = `${clamp(x - 110, 0, (this.canvas.clientWidth || 0) - 220)}px`;
  }

  draw() {
    // The visible range, for scripts and tests that point at a time.
    this.el.dataset.viewStart = String(Math.round(this.view.start));
    this.el.dataset.viewEnd = String(Math.round(this.view.end));
    const c = this.canvas;
    const w = c.clientWidth;
    if (!w) return;
    const dpr = window.devicePixelRatio || 1;
    if (c.width !== Math.round(w * dpr)) c.width = Math.round(w * dpr);
    c.height = Math.round(HEIGHT * dpr);
    const g = c.getContext("2d");
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, w, HEIGHT);
    g.fillStyle = "#0b1118";
    g.fillRect(0, 0, w, HEIGHT);
    this.drawAxis(g, w);
    const [ry, rh] = ROWS.recording;
    // Gaps first (what is missing is what an operator must notice); the time before the
    // first recording is not missing, just not recorded yet: hatched, not red.
    if (!this.pattern) this.pattern = g.createPattern(hatch(), "repeat");
    for (const gap of this.data.gaps) {
      g.fillStyle = gap.kind === "before_first" ? this.pattern : COLOURS.gap;
      this.bar(g, gap.start, gap.end, ry, rh);
    }
    g.fillStyle = COLOURS.recorded;
    for (const span of this.data.spans) this.bar(g, span.start, span.end ?? Date.now(), ry, rh);
    this.drawDensity(g);
    const [ey, eh] = ROWS.events;
    for (const e of this.data.events) {
      const x = this.msToX(e.t);
      if (x < -2 || x > w + 2) continue;
      g.fillStyle = SEVERITY[e.severity] || SEVERITY.info;
      g.fillRect(Math.round(x) - 1, ey, 3, eh);
    }
    const [by, bh] = ROWS.bookmarks;
    for (const b of this.data.bookmarks) {
      g.fillStyle = !b.locked ? COLOURS.bookmark : b.kind === "automatic" ? COLOURS.automaticLock : COLOURS.operatorLock;
      this.bar(g, b.start, b.end, by, bh);
    }
    if (this.selection) {
      g.fillStyle = "rgba(63, 169, 245, 0.2)";
      this.bar(g, this.selection.start, this.selection.end, 16, HEIGHT - 16);
    }
    const nowX = this.msToX(Date.now());
    g.fillStyle = "rgba(255,255,255,0.06)";
    if (nowX < w) g.fillRect(nowX, 16, w - nowX, HEIGHT - 16);
    this.line(g, nowX, "#3fa9f5");
    if (this.playhead !== null) this.line(g, this.msToX(this.playhead), "#ffffff");
  }

  /** Motion (below) and other events (above) per bucket, heights on a square-root scale. */
  drawDensity(g) {
    const d = this.data.density;
    if (!d || !d.buckets.length) return;
    const [y, height] = ROWS.density;
    const peak = Math.max(...d.buckets.map((b) => b.motion + b.events), 1);
    for (const b of d.buckets) {
      const x0 = this.msToX(b.start);
      const x1 = Math.max(x0 + 1, this.msToX(b.start + d.size) - 0.5);
      const total = Math.max(2, Math.round(Math.sqrt((b.motion + b.events) / peak) * height));
      const others = b.events ? Math.max(2, Math.round((total * b.events) / (b.motion + b.events))) : 0;
      g.fillStyle = COLOURS.motion;
      g.fillRect(x0, y + height - total, x1 - x0, total - others);
      if (others) {
        g.fillStyle = COLOURS.events;
        g.fillRect(x0, y + height - others, x1 - x0, others);
      }
    }
  }

  bar(g, start, end, y, height) {
    const x0 = Math.max(-1, this.msToX(start));
    const x1 = Math.min(this.canvas.clientWidth + 1, this.msToX(end));
    if (x1 > x0) g.fillRect(x0, y, Math.max(1, x1 - x0), height);
  }

  line(g, x, color) {
    if (x < 0 || x > this.canvas.clientWidth) return;
    g.fillStyle = color;
    g.fillRect(Math.round(x), 14, 2, HEIGHT - 14);
  }

  /** Ticks on the canvas, labels as text: the view's date pinned at the left, times (or,
   * at midnight and on day steps, dates) at the ticks. */
  drawAxis(g, w) {
    const span = this.view.end - this.view.start;
    const step = STEPS.find((s) => (s / span) * w >= 80) || STEPS[STEPS.length - 1];
    const offset = new Date(this.view.start).getTimezoneOffset() * 60000;
    const labels = [];
    const pinned = h("span", { class: "timeline-date" }, fmtDate(this.view.start));
    for (let t = Math.ceil((this.view.start - offset) / step) * step + offset; t < this.view.end; t += step) {
      const x = Math.round(this.msToX(t));
      g.fillStyle = "#243244";
      g.fillRect(x, 12, 1, HEIGHT - 12);
      const d = new Date(t);
      const midnight = d.getHours() === 0 && d.getMinutes() === 0 && d.getSeconds() === 0;
      if (x < 90 || x > w - 75) continue; // under the pinned date, or cut at the right edge
      const text = midnight || step >= 86400000 ? fmtDate(t) : fmtClock(t, step < 60000);
      const label = h("span", { class: `tick${midnight ? " midnight" : ""}` }, text);
      label.style.left = `${x + 3}px`;
      labels.push(label);
    }
    this.axis.replaceChildren(pinned, ...labels);
  }
}
