// A plan of camera positions from lat/lon (no map tiles): cameras with their field of
// view, events placed where they happened. Click a camera to open it, an event to respond.

import { health, on, state } from "./store.js";
import { clear, fmtClock, h, s } from "./util.js";

const W = 1000;
const H = 700;
const PAD = 70;
const SEV = { critical: "#ff4d5e", high: "#ff8a3d", medium: "#f5c542", low: "#4fc3f7", info: "#8fa3b8" };

/** Where an event happened: its own position, else its first camera's. */
export function eventPosition(event) {
  if (event.lat !== null && event.lat !== undefined && event.lon !== null && event.lon !== undefined) {
    return { lat: event.lat, lon: event.lon };
  }
  for (const id of event.camera_ids || []) {
    const cam = state.cameras.find((c) => c.id === id);
    if (cam && cam.lat !== null && cam.lon !== null) return { lat: cam.lat, lon: cam.lon };
  }
  return null;
}

function projection(points) {
  const lat0 = points.reduce((a, p) => a + p.lat, 0) / points.length;
  const lon0 = points.reduce((a, p) => a + p.lon, 0) / points.length;
  const kx = Math.cos((lat0 * Math.PI) / 180) * 111320;
  const ky = 110540;
  const local = points.map((p) => ({ x: (p.lon - lon0) * kx, y: -(p.lat - lat0) * ky }));
  const xs = local.map((p) => p.x);
  const ys = local.map((p) => p.y);
  const spanX = Math.max(100, Math.max(...xs) - Math.min(...xs));
  const spanY = Math.max(100, Math.max(...ys) - Math.min(...ys));
  const scale = Math.min((W - 2 * PAD) / spanX, (H - 2 * PAD) / spanY); // px per metre
  const cx = (Math.max(...xs) + Math.min(...xs)) / 2;
  const cy = (Math.max(...ys) + Math.min(...ys)) / 2;
  return {
    scale,
    at: (p) => ({ x: W / 2 + ((p.lon - lon0) * kx - cx) * scale, y: H / 2 + (-(p.lat - lat0) * ky - cy) * scale }),
  };
}

function wedge(x, y, heading, fov, r) {
  const a0 = ((heading - fov / 2 - 90) * Math.PI) / 180;
  const a1 = ((heading + fov / 2 - 90) * Math.PI) / 180;
  const large = fov > 180 ? 1 : 0;
  return `M${x},${y} L${x + r * Math.cos(a0)},${y + r * Math.sin(a0)} A${r},${r} 0 ${large} 1 ${x + r * Math.cos(a1)},${y + r * Math.sin(a1)} Z`;
}

function scaleBar(scale) {
  const nice = [10, 20, 50, 100, 200, 500, 1000, 2000, 5000];
  const metres = nice.find((m) => m * scale >= 80) || 5000;
  const px = metres * scale;
  return s(
    "g",
    { class: "scale", transform: `translate(${PAD / 2},${H - 25})` },
    s("rect", { x: 0, y: 0, width: px, height: 4 }),
    s("text", { x: 0, y: -6 }, metres >= 1000 ? `${metres / 1000} km` : `${metres} m`),
  );
}

/** The plan as an SVG element. `focus`: an event to mark as the incident. */
export function planSvg({ focus = null, events = state.events.slice(0, 150), onCamera, onEvent } = {}) {
  const cams = state.cameras.filter((c) => c.lat !== null && c.lon !== null);
  const placed = events.map((e) => ({ e, p: eventPosition(e) })).filter((x) => x.p);
  const focusPos = focus ? eventPosition(focus) : null;
  const points = [...cams, ...placed.map((x) => x.p), ...(focusPos ? [focusPos] : [])];
  const svg = s("svg", { class: "plan-svg", viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": "Plan of cameras and events" });
  svg.append(s("rect", { class: "plan-bg", x: 0, y: 0, width: W, height: H }));
  for (let x = 0; x <= W; x += 50) svg.append(s("line", { class: "plan-grid", x1: x, y1: 0, x2: x, y2: H }));
  for (let y = 0; y <= H; y += 50) svg.append(s("line", { class: "plan-grid", x1: 0, y1: y, x2: W, y2: y }));
  if (!points.length) {
    svg.append(s("text", { class: "plan-empty", x: W / 2, y: H / 2 }, "No camera has a position (lat/lon) yet"));
    return svg;
  }
  const proj = projection(points);
  svg.append(scaleBar(proj.scale));
  for (const cam of cams) {
    const { x, y } = proj.at(cam);
    const status = health(cam);
    const g = s("g", { class: `plan-camera ${status.cls}`, dataset: { camera: cam.id }, tabindex: 0 });
    if (cam.heading !== null && cam.heading !== undefined) {
      g.append(s("path", { class: "fov", d: wedge(x, y, cam.heading, cam.fov || 60, 60) }));
    }
    g.append(s("circle", { cx: x, cy: y, r: 9 }), s("text", { x: x + 13, y: y + 4 }, cam.name));
    g.append(s("title", {}, `${cam.name}: ${status.label}`));
    if (onCamera) g.addEventListener("click", () => onCamera(cam));
    svg.append(g);
  }
  const now = Date.now();
  for (const { e, p } of placed) {
    if (focus && e.id === focus.id) continue;
    const { x, y } = proj.at(p);
    const fresh = now - Date.parse(e.time) < 5 * 60e3;
    const g = s("g", { class: `plan-event${fresh ? " fresh" : ""}`, dataset: { event: e.id }, tabindex: 0 });
    // Events placed at their camera are spread around it so they do not hide each other.
    const own = e.lat !== null && e.lat !== undefined;
    const spread = own ? 0 : 14;
    const cx = x + spread * Math.cos(hash(e.id));
    const cy = y + spread * Math.sin(hash(e.id));
    g.append(s("circle", { cx, cy, r: own ? 8 : 6, fill: SEV[e.severity] || SEV.info }));
    g.append(s("title", {}, `${fmtClock(Date.parse(e.time))} ${e.type}`));
    if (onEvent) g.addEventListener("click", () => onEvent(e));
    svg.append(g);
  }
  if (focus && focusPos) {
    const { x, y } = proj.at(focusPos);
    svg.append(
      s(
        "g",
        { class: "plan-incident", dataset: { event: focus.id } },
        s("circle", { class: "ring", cx: x, cy: y, r: 26 }),
        s("circle", { cx: x, cy: y, r: 9, fill: SEV[focus.severity] || SEV.high }),
        s("text", { x: x + 30, y: y - 12 }, `${focus.type} ${fmtClock(Date.parse(focus.time))}`),
      ),
    );
  }
  return svg;
}

/**
 * Keep camera labels inside the plan: a label that would run past the right edge goes on
 * the camera's left, one still too long starts at the left edge. Labels are measured, so
 * this runs once the plan is in the page (fonts differ: the incident page's are larger).
 */
export function fitLabels(svg) {
  for (const label of svg.querySelectorAll(".plan-camera text")) {
    const dot = label.parentNode.querySelector("circle");
    const cx = Number(dot.getAttribute("cx"));
    const box = label.getBBox();
    if (box.x + box.width <= W - 4) continue;
    if (cx - 13 - box.width >= 4) {
      label.setAttribute("text-anchor", "end");
      label.setAttribute("x", String(cx - 13));
    } else {
      label.setAttribute("x", String(Math.max(4, W - 4 - box.width)));
      label.setAttribute("y", String(Number(dot.getAttribute("cy")) + 24));
    }
  }
  for (const label of svg.querySelectorAll(".plan-camera text, .plan-incident text")) {
    const box = label.getBBox();
    if (box.y < 2) label.setAttribute("y", String(Number(label.getAttribute("y")) + 2 - box.y));
    if (box.y + box.height > H - 2) label.setAttribute("y", String(Number(label.getAttribute("y")) - (box.y + box.height - H + 2)));
    if (label.closest(".plan-incident") && box.x + box.width > W - 4) {
      label.setAttribute("text-anchor", "end");
      label.setAttribute("x", String(Number(label.getAttribute("x")) - 60));
    }
  }
  return svg;
}

function hash(text) {
  let v = 0;
  for (const ch of String(text)) v = (v * 31 + ch.charCodeAt(0)) % 6283;
  return v / 1000;
}

export function planPage(root) {
  const holder = h("div", { class: "plan-holder" });
  const legend = h(
    "div",
    { class: "legend" },
    Object.entries(SEV).map(([name, color]) => h("span", { class: `legend-item sev-${name}`, dataset: { color } }, name)),
  );
  const render = () => {
    const svg = planSvg({
      onCamera: (cam) => (location.hash = `#/camera/${cam.id}`),
      onEvent: (e) => (location.hash = `#/incident/${encodeURIComponent(e.id)}`),
    });
    clear(holder).append(svg);
    fitLabels(svg);
  };
  const offs = [on("cameras", render), on("event", render)];
  root.append(h("div", { class: "plan-page" }, h("header", { class: "page-head" }, h("h2", {}, "Plan"), legend), holder));
  render();
  return () => offs.forEach((off) => off());
}
