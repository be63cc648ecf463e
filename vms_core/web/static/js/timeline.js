// A zoomable timeline over days: recordings, gaps, events, bookmarks and the playhead.
// Wheel zooms around the pointer, drag pans, click seeks, shift-drag selects a range.

import { clamp, fmtClock, fmtDate, h } from "./util.js";

const MIN_SPAN = 60 * 1000;
const MAX_SPAN = 14 * 86400 * 1000;
const STEPS = [1, 5, 10, 30, 60, 300, 600, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86400].map((s) => s * 1000);
const ROWS = { axis: 0, recording: 22, events: 40, bookmarks: 56 };
const HEIGHT = 76;

const SEVERITY = { critical: "#ff4d5e", high: "#ff8a3d", medium: "#f5c542", low: "#4fc3f7", info: "#8fa3b8" };

export class Timeline {
  constructor({ onSeek, onSelect, onView } = {}) {
    this.canvas = h("canvas", { class: "timeline-canvas", height: HEIGHT });
    this.tip = h("div", { class: "timeline-tip" });
    this.el = h("div", { class: "timeline", tabIndex: 0 }, this.canvas, this.tip);
    const now = Date.now();
    this.view = { start: now - 3600 * 1000, end: now + 5 * 60 * 1000 };
    this.data = { spans: [], gaps: [], events: [], bookmarks: [] };
    this.playhead = null;
    this.selection = null;
    this.onSeek = onSeek;
    this.onSelect = onSelect;
    this.onView = onView;
    this.bind();
    this.resizeObserver = new ResizeObserver(() => this.draw());
    this.resizeObserver.observe(this.el);
    this.clock = setInterval(() => this.draw(), 1000);
  }

  destroy() {
    this.resizeObserver.disconnect();
    clearInterval(this.clock);
  }

  setData(data) {
    this.data = { ...this.data, ...data };
    this.draw();
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
      this.hover(ev.offsetX);
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
    c.addEventListener("pointerleave", () => (this.tip.style.display = "none"));
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

  hover(x) {
    const t = this.xToMs(x);
    const near = this.data.events.find((e) => Math.abs(this.msToX(e.t) - x) < 4);
    this.tip.textContent = near ? `${fmtClock(near.t)} ${near.type}` : `${fmtDate(t)} ${fmtClock(t)}`;
    this.tip.style.display = "block";
    this.tip.style.left = `${clamp(x - 60, 0, (this.canvas.clientWidth || 0) - 140)}px`;
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
    // Recording row: gaps first (what is missing is what an operator must notice).
    g.fillStyle = "rgba(255, 77, 94, 0.25)";
    for (const gap of this.data.gaps) this.bar(g, gap.start, gap.end, ROWS.recording, 12);
    g.fillStyle = "#2e9d5b";
    for (const span of this.data.spans) this.bar(g, span.start, span.end ?? Date.now(), ROWS.recording, 12);
    for (const e of this.data.events) {
      const x = this.msToX(e.t);
      if (x < -2 || x > w + 2) continue;
      g.fillStyle = SEVERITY[e.severity] || SEVERITY.info;
      g.fillRect(Math.round(x) - 1, ROWS.events, 3, 12);
    }
    for (const b of this.data.bookmarks) {
      g.fillStyle = b.locked ? "#f5a623" : "#6c8ebf";
      this.bar(g, b.start, b.end, ROWS.bookmarks, 10);
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

  drawAxis(g, w) {
    const span = this.view.end - this.view.start;
    const step = STEPS.find((s) => (s / span) * w >= 80) || STEPS[STEPS.length - 1];
    const offset = new Date().getTimezoneOffset() * 60000;
    let t = Math.ceil((this.view.start - offset) / step) * step + offset;
    g.font = "11px system-ui, sans-serif";
    g.textBaseline = "top";
    for (; t < this.view.end; t += step) {
      const x = Math.round(this.msToX(t));
      g.fillStyle = "#243244";
      g.fillRect(x, 12, 1, HEIGHT - 12);
      const midnight = new Date(t).getHours() === 0 && new Date(t).getMinutes() === 0;
      g.fillStyle = midnight ? "#d6e2f0" : "#8fa3b8";
      const label = midnight || step >= 86400000 ? fmtDate(t) : fmtClock(t, step < 60000);
      g.fillText(label, x + 3, 1);
    }
  }
}
