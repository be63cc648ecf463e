// Digital zoom on a video, live or recorded: the wheel (and a trackpad's pinch, which
// browsers send as a wheel with ctrlKey) zooms around the pointer, two fingers pinch, a
// drag pans while zoomed, reset() goes back. It magnifies the stream's own pixels; the
// camera is not asked for anything.

import { clamp } from "./util.js";

const MAX_SCALE = 8;

export class DigitalZoom {
  /** `box`: the element the pointer is over; `target`: the element scaled inside it. */
  constructor(box, target) {
    this.box = box;
    this.target = target;
    this.scale = 1;
    this.x = 0; // translation in px of the box, the scaled picture's top-left corner
    this.y = 0;
    this.pointers = new Map();
    this.pinch = null;
    this.pan = null;
    target.classList.add("zoomable");
    box.addEventListener("wheel", (ev) => this.onWheel(ev), { passive: false });
    box.addEventListener("pointerdown", (ev) => this.onDown(ev));
    box.addEventListener("pointermove", (ev) => this.onMove(ev));
    for (const type of ["pointerup", "pointercancel", "pointerleave"]) box.addEventListener(type, (ev) => this.onUp(ev));
    this.apply();
  }

  local(ev) {
    const r = this.box.getBoundingClientRect();
    return { x: ev.clientX - r.left, y: ev.clientY - r.top };
  }

  /** Multiply the scale by `factor`, keeping the picture's point under (cx, cy) in place. */
  zoomAt(factor, cx, cy) {
    const scale = clamp(this.scale * factor, 1, MAX_SCALE);
    const k = scale / this.scale;
    this.x = cx - (cx - this.x) * k;
    this.y = cy - (cy - this.y) * k;
    this.scale = scale;
    this.apply();
  }

  reset() {
    this.scale = 1;
    this.apply();
  }

  apply() {
    const w = this.box.clientWidth;
    const h = this.box.clientHeight;
    if (this.scale <= 1.001) {
      this.scale = 1;
      this.x = 0;
      this.y = 0;
    }
    // The picture always covers the box: no panning past its edges.
    this.x = clamp(this.x, w - w * this.scale, 0);
    this.y = clamp(this.y, h - h * this.scale, 0);
    this.target.style.transform = this.scale === 1 ? "" : `translate(${this.x}px, ${this.y}px) scale(${this.scale})`;
    this.box.dataset.zoom = this.scale.toFixed(2);
    this.box.classList.toggle("zoomed", this.scale > 1);
  }

  onWheel(ev) {
    ev.preventDefault();
    const { x, y } = this.local(ev);
    // A trackpad pinch gives small deltas; a mouse wheel one notch of about 100.
    const factor = Math.exp(-clamp(ev.deltaY, -100, 100) / (ev.ctrlKey ? 100 : 450));
    this.zoomAt(factor, x, y);
  }

  onDown(ev) {
    if (ev.button !== 0 && ev.pointerType === "mouse") return;
    this.pointers.set(ev.pointerId, this.local(ev));
    if (this.pointers.size === 2) {
      const [a, b] = [...this.pointers.values()];
      this.pinch = { distance: Math.hypot(a.x - b.x, a.y - b.y) || 1 };
      this.pan = null;
    } else if (this.pointers.size === 1 && this.scale > 1) {
      this.pan = { ...this.local(ev), x0: this.x, y0: this.y, id: ev.pointerId };
    }
  }

  onMove(ev) {
    if (!this.pointers.has(ev.pointerId)) return;
    this.pointers.set(ev.pointerId, this.local(ev));
    if (this.pinch && this.pointers.size === 2) {
      const [a, b] = [...this.pointers.values()];
      const distance = Math.hypot(a.x - b.x, a.y - b.y) || 1;
      this.zoomAt(distance / this.pinch.distance, (a.x + b.x) / 2, (a.y + b.y) / 2);
      this.pinch.distance = distance;
      ev.preventDefault();
    } else if (this.pan && this.pan.id === ev.pointerId) {
      const p = this.local(ev);
      this.x = this.pan.x0 + p.x - this.pan.x;
      this.y = this.pan.y0 + p.y - this.pan.y;
      this.apply();
    }
  }

  onUp(ev) {
    this.pointers.delete(ev.pointerId);
    if (this.pointers.size < 2) this.pinch = null;
    if (this.pan && this.pan.id === ev.pointerId) this.pan = null;
  }
}
