// The video wall: 1, 4, 9 or 16 live tiles. Small tiles play the sub stream; a tile
// enlarged with a double-click plays the main stream.

import { LiveView } from "./live.js";
import { health, on, state, streamFor } from "./store.js";
import { clear, h } from "./util.js";

const LAYOUTS = [1, 4, 9, 16];
let layout = Number(localStorage.getItem("vms.layout")) || 4;
let page = 0;

export function gridPage(root) {
  const wall = h("div", { class: "wall" });
  const pageLabel = h("span", { class: "muted" });
  const tiles = [];
  let enlarged = null;

  const layoutButtons = LAYOUTS.map((n) =>
    h("button", { type: "button", class: "small layout-btn", dataset: { layout: n }, onclick: () => setLayout(n) }, `${n}`),
  );
  const prev = h("button", { type: "button", class: "small", onclick: () => turn(-1) }, "◀");
  const next = h("button", { type: "button", class: "small", onclick: () => turn(1) }, "▶");

  function cameras() {
    return state.cameras.filter((c) => c.enabled);
  }

  function setLayout(n) {
    layout = n;
    localStorage.setItem("vms.layout", String(n));
    page = 0;
    render();
  }

  function turn(delta) {
    const pages = Math.max(1, Math.ceil(cameras().length / layout));
    page = (page + delta + pages) % pages;
    render();
  }

  function stopAll() {
    for (const tile of tiles.splice(0)) tile.view.stop();
  }

  function tileFor(camera, big) {
    const view = new LiveView({ label: camera.name });
    const status = health(camera);
    const dot = h("span", { class: `dot ${status.cls}`, title: status.label });
    view.label.prepend(dot);
    const open = h("a", { class: "tile-open", href: `#/camera/${camera.id}`, title: "Open camera page" }, "⤢");
    const tile = h("div", { class: "tile", dataset: { camera: camera.id } }, view.el, open);
    tile.addEventListener("dblclick", () => {
      enlarged = enlarged === camera.id ? null : camera.id;
      render();
    });
    // Small tiles share the wall's bandwidth: sub stream; a single big tile: main.
    view.start(camera, streamFor(camera, big ? "main" : "sub"));
    tiles.push({ view, camera });
    return tile;
  }

  function render() {
    stopAll();
    clear(wall);
    for (const b of layoutButtons) b.classList.toggle("active", Number(b.dataset.layout) === layout);
    const all = cameras();
    if (!all.length) {
      const admin = state.me && state.me.role === "admin";
      // A user who sees no camera cannot add one: say whom to ask.
      wall.append(h("div", { class: "empty" }, admin ? "No cameras yet. Add cameras on the Admin page (Cameras), in vms.toml, or through the API." : "No camera is shared with you yet. Ask an administrator to grant you cameras."));
      return;
    }
    if (enlarged !== null && all.some((c) => c.id === enlarged)) {
      wall.dataset.layout = "1";
      wall.append(tileFor(all.find((c) => c.id === enlarged), true));
      pageLabel.textContent = "Double-click to return to the wall";
      return;
    }
    enlarged = null;
    const shown = all.slice(page * layout, page * layout + layout);
    wall.dataset.layout = String(layout);
    for (const camera of shown) wall.append(tileFor(camera, layout === 1));
    for (let i = shown.length; i < layout; i++) wall.append(h("div", { class: "tile tile-empty" }));
    const pages = Math.ceil(all.length / layout);
    pageLabel.textContent = pages > 1 ? `Page ${page + 1} of ${pages}` : `${all.length} cameras`;
  }

  const onKey = (ev) => {
    if (ev.key === "Escape" && enlarged !== null) {
      enlarged = null;
      render();
    }
  };
  window.addEventListener("keydown", onKey);
  let known = cameras().map((c) => c.id).join();
  const off = on("cameras", () => {
    const now = cameras().map((c) => c.id).join();
    if (now !== known) {
      known = now;
      render();
    }
  });

  root.append(
    h(
      "div",
      { class: "grid-page" },
      h("header", { class: "page-head" }, h("h2", {}, "Video wall"), h("div", { class: "seg" }, layoutButtons), prev, next, pageLabel),
      wall,
    ),
  );
  render();
  return () => {
    off();
    window.removeEventListener("keydown", onKey);
    stopAll();
  };
}
