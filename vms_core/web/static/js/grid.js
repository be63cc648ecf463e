// The video wall: 1, 4, 9 or 16 tiles, live or played back in step from one timeline.
// Tiles fill with the cameras in order, or hold the camera dragged onto them from the
// camera list; an arrangement can be saved as a named view (shared ones by admins).
// Small tiles play the sub stream; a tile enlarged with a double-click plays the main one.

import { api, optional, query } from "./api.js";
import { densityOf, recordingsOf } from "./camera.js";
import { LiveView } from "./live.js";
import { PlaybackView } from "./playback.js";
import { shortcuts } from "./shortcuts.js";
import { CAMERA_TYPE } from "./sidebar.js";
import { health, on, state, streamFor } from "./store.js";
import { SyncGroup } from "./sync.js";
import { tileTools } from "./tile.js";
import { Timeline } from "./timeline.js";
import { transport } from "./transport.js";
import { clear, debounce, h, isoZ, toast } from "./util.js";

const LAYOUTS = [1, 4, 9, 16];
const STORE_KEY = "vms.wall";

/** The wall as last left in this browser: {layout, tiles (null: fill in order), view}. */
function loadWall() {
  try {
    const saved = JSON.parse(localStorage.getItem(STORE_KEY) || "null");
    if (saved && LAYOUTS.includes(saved.layout)) return saved;
  } catch {
    /* an unreadable entry is as good as none */
  }
  return { layout: Number(localStorage.getItem("vms.layout")) || 4, tiles: null, view: null };
}

function saveWall(wall) {
  localStorage.setItem(STORE_KEY, JSON.stringify(wall));
}

/** Union of several cameras' recordings, for one timeline over the wall. */
function mergeRecordings(bodies) {
  const spans = bodies.flatMap((b) => recordingsOf(b).spans).sort((a, b) => a.start - b.start);
  const merged = [];
  for (const s of spans) {
    const last = merged[merged.length - 1];
    if (last && s.start <= last.end + 500) last.end = Math.max(last.end, s.end);
    else merged.push({ ...s });
  }
  const firsts = bodies.map((b) => b && b.first_recorded && Date.parse(b.first_recorded)).filter(Boolean);
  return { spans: merged, first: firsts.length ? Math.min(...firsts) : null };
}

export function gridPage(root, { t = null } = {}) {
  let wall = loadWall();
  let page = 0;
  let enlarged = null;
  let mode = t ? "playback" : "live";
  const tiles = []; // {view, camera}
  const group = new SyncGroup({ onTime: (ms) => timeline.setPlayhead(ms) });
  const wallEl = h("div", { class: "wall" });
  const pageLabel = h("span", { class: "muted page-label" });

  const layoutButtons = LAYOUTS.map((n, i) =>
    h("button", { type: "button", class: "small layout-btn", dataset: { layout: n }, title: `${n} tiles (${i + 1})`, onclick: () => setLayout(n) }, `${n}`),
  );
  const prev = h("button", { type: "button", class: "small", title: "Previous page", onclick: () => turn(-1) }, "◀");
  const next = h("button", { type: "button", class: "small", title: "Next page", onclick: () => turn(1) }, "▶");
  const modeButton = h("button", { type: "button", class: "small mode-btn", onclick: () => setMode(mode === "live" ? "playback" : "live") });

  // -- saved views ------------------------------------------------------------------------
  let views = [];
  const viewSelect = h("select", { class: "view-select", ariaLabel: "Saved views", title: "Saved views" });
  const viewName = h("input", { type: "text", class: "view-name", placeholder: "View name", ariaLabel: "View name" });
  const viewShared = h("input", { type: "checkbox", class: "view-shared" });
  const saveForm = h(
    "form",
    { class: "view-save", hidden: true },
    viewName,
    state.me && state.me.role === "admin" ? h("label", { class: "muted" }, viewShared, " shared") : null,
    h("button", { type: "submit", class: "small primary" }, "Save"),
    h("button", { type: "button", class: "small", onclick: () => (saveForm.hidden = true) }, "Cancel"),
  );
  const saveButton = h("button", { type: "button", class: "small", onclick: () => openSave() }, "Save view");
  const deleteButton = h("button", { type: "button", class: "small", title: "Delete the chosen view", onclick: () => deleteView() }, "Delete");

  async function loadViews(select = wall.view) {
    const list = await optional("/api/views", []).catch(() => []);
    views = list;
    clear(viewSelect).append(h("option", { value: "" }, "Views…"));
    for (const v of views) viewSelect.append(h("option", { value: String(v.id) }, v.shared ? `${v.name} (shared)` : v.name));
    viewSelect.value = select && views.some((v) => v.id === select) ? String(select) : "";
    showViewButtons();
  }

  function showViewButtons() {
    const chosen = views.find((v) => String(v.id) === viewSelect.value);
    deleteButton.hidden = !chosen || !chosen.editable;
  }

  viewSelect.addEventListener("change", () => {
    const chosen = views.find((v) => String(v.id) === viewSelect.value);
    showViewButtons();
    if (!chosen) return;
    wall = { layout: chosen.layout, tiles: [...chosen.tiles], view: chosen.id };
    saveWall(wall);
    page = 0;
    enlarged = null;
    render();
  });

  function openSave() {
    const chosen = views.find((v) => v.id === wall.view);
    viewName.value = chosen ? chosen.name : "";
    viewShared.checked = Boolean(chosen && chosen.shared);
    saveForm.hidden = false;
    viewName.focus();
  }

  saveForm.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const name = viewName.value.trim();
    if (!name) return viewName.focus();
    const body = { name, layout: wall.layout, tiles: currentTiles() };
    const same = views.find((v) => v.name === name && v.shared === viewShared.checked && v.editable);
    try {
      const saved = same
        ? await api(`/api/views/${same.id}`, { method: "PUT", json: body })
        : await api("/api/views", { method: "POST", json: { ...body, shared: viewShared.checked } });
      wall = { layout: saved.layout, tiles: [...saved.tiles], view: saved.id };
      saveWall(wall);
      saveForm.hidden = true;
      toast(`View "${saved.name}" saved`, "ok");
      await loadViews(saved.id);
    } catch (err) {
      toast(err.message, "error");
    }
  });

  async function deleteView() {
    const chosen = views.find((v) => String(v.id) === viewSelect.value);
    if (!chosen) return;
    try {
      await api(`/api/views/${chosen.id}`, { method: "DELETE" });
      toast(`View "${chosen.name}" deleted`, "ok");
      if (wall.view === chosen.id) wall.view = null;
      saveWall(wall);
      await loadViews(null);
    } catch (err) {
      toast(err.message, "error");
    }
  }

  // -- tiles ------------------------------------------------------------------------------
  function cameras() {
    return state.cameras.filter((c) => c.enabled);
  }

  /** The camera ids on screen, one per tile (null: empty). */
  function currentTiles() {
    if (wall.tiles) return wall.tiles.slice(0, wall.layout).concat(Array(wall.layout).fill(null)).slice(0, wall.layout);
    const shown = cameras().slice(page * wall.layout, page * wall.layout + wall.layout).map((c) => c.id);
    return shown.concat(Array(wall.layout).fill(null)).slice(0, wall.layout);
  }

  function setLayout(n) {
    wall = { ...wall, layout: n, tiles: wall.tiles ? currentTiles().concat(Array(16).fill(null)).slice(0, n) : null };
    localStorage.setItem("vms.layout", String(n));
    saveWall(wall);
    page = 0;
    render();
  }

  function turn(delta) {
    const pages = Math.max(1, Math.ceil(cameras().length / wall.layout));
    page = (page + delta + pages) % pages;
    render();
  }

  /** Put `cameraId` in tile `index` (null empties it); the wall keeps its arrangement. */
  function assign(index, cameraId) {
    const arranged = currentTiles();
    arranged[index] = cameraId;
    wall = { ...wall, tiles: arranged };
    saveWall(wall);
    render();
  }

  function stopAll() {
    for (const tile of tiles.splice(0)) tile.view.stop();
    group.clear();
  }

  function popOut(camera) {
    const at = mode === "playback" ? group.wallTime() : null;
    const hash = `#/tile/${camera.id}${at ? `?t=${Math.round(at)}` : ""}`;
    const win = window.open(`${location.pathname}${hash}`, `vms-tile-${camera.id}`, "popup,width=960,height=560");
    if (!win) toast("The browser blocked the pop-out window", "error");
  }

  function dropTarget(el, index) {
    el.addEventListener("dragover", (ev) => {
      if (!ev.dataTransfer.types.includes(CAMERA_TYPE)) return;
      ev.preventDefault();
      ev.dataTransfer.dropEffect = "copy";
      el.classList.add("drop");
    });
    el.addEventListener("dragleave", () => el.classList.remove("drop"));
    el.addEventListener("drop", (ev) => {
      el.classList.remove("drop");
      const id = Number(ev.dataTransfer.getData(CAMERA_TYPE));
      if (!id) return;
      ev.preventDefault();
      assign(index, id);
    });
  }

  function tileFor(camera, index, big) {
    const label = camera.name;
    const view = mode === "live" ? new LiveView({ label }) : new PlaybackView();
    if (mode === "playback") view.el.prepend(h("div", { class: "label" }, label));
    const status = health(camera);
    const dot = h("span", { class: `dot ${status.cls}`, title: status.label });
    view.el.querySelector(".label").prepend(dot);
    tileTools(view, {
      camera: () => camera,
      timeOf: () => (mode === "live" ? Date.now() : view.wallTime()),
      popOut: () => popOut(camera),
    });
    const open = h("a", { class: "tile-open", href: `#/camera/${camera.id}`, title: "Open camera page" }, "⤢");
    const clearTile = h("button", { type: "button", class: "tile-clear", title: "Empty this tile", onclick: () => assign(index, null) }, "×");
    const tile = h("div", { class: "tile", dataset: { camera: camera.id, index } }, view.el, open, clearTile);
    tile.addEventListener("dblclick", () => {
      enlarged = enlarged === camera.id ? null : camera.id;
      render();
    });
    dropTarget(tile, index);
    if (mode === "live") {
      // Small tiles share the wall's bandwidth: sub stream; a single big tile: main.
      view.start(camera, streamFor(camera, big ? "main" : "sub"));
    } else {
      group.add(view, camera);
    }
    tiles.push({ view, camera });
    return tile;
  }

  function emptyTile(index) {
    const tile = h("div", { class: "tile tile-empty", dataset: { index } }, h("span", { class: "tile-hint" }, "Drag a camera here"));
    dropTarget(tile, index);
    return tile;
  }

  function render() {
    const resumeAt = mode === "playback" ? group.wallTime() ?? startAt : null;
    stopAll();
    clear(wallEl);
    for (const b of layoutButtons) b.classList.toggle("active", Number(b.dataset.layout) === wall.layout);
    root.querySelector(".grid-page")?.setAttribute("data-mode", mode);
    modeButton.textContent = mode === "live" ? "Play back" : "Back to live";
    modeButton.title = mode === "live" ? "Play the wall's cameras back together (p)" : "Live view (l)";
    pagePart.hidden = Boolean(wall.tiles);
    playbackBar.hidden = mode !== "playback";
    const all = cameras();
    if (!all.length) {
      const admin = state.me && state.me.role === "admin";
      // A user who sees no camera cannot add one: say whom to ask.
      wallEl.append(h("div", { class: "empty" }, admin ? "No cameras yet. Add cameras on the Admin page (Cameras), in vms.toml, or through the API." : "No camera is shared with you yet. Ask an administrator to grant you cameras."));
      return;
    }
    const byId = new Map(all.map((c) => [c.id, c]));
    if (enlarged !== null && byId.has(enlarged)) {
      wallEl.dataset.layout = "1";
      wallEl.append(tileFor(byId.get(enlarged), currentTiles().indexOf(enlarged), true));
      pageLabel.textContent = "Double-click to return to the wall";
    } else {
      enlarged = null;
      wallEl.dataset.layout = String(wall.layout);
      currentTiles().forEach((id, index) => {
        const camera = id === null ? null : byId.get(id);
        wallEl.append(camera ? tileFor(camera, index, wall.layout === 1) : emptyTile(index));
      });
      const pages = Math.ceil(all.length / wall.layout);
      pageLabel.textContent = wall.tiles ? "" : pages > 1 ? `Page ${page + 1} of ${pages}` : `${all.length} cameras`;
    }
    if (mode === "playback") {
      group.start(resumeAt ?? Date.now() - 60000);
      loadTimeline();
    }
  }

  // -- synchronised playback --------------------------------------------------------------
  let startAt = t;
  const timeline = new Timeline({
    onSeek: (ms) => group.seekWall(ms),
    onView: debounce(() => loadTimeline(), 250),
  });
  const controls = transport(group, {
    onGoTo: (ms) => {
      const span = timeline.view.end - timeline.view.start;
      timeline.setView(ms - span / 2, ms + span / 2);
      group.seekWall(ms);
    },
    now: () => group.wallTime(),
  });
  const playbackBar = h("div", { class: "timeline-bar wall-playback" }, h("div", { class: "zooms" }, controls.el, timeline.legend), timeline.el);

  let loading = 0;
  async function loadTimeline() {
    const ticket = ++loading;
    const ids = tiles.map((x) => x.camera.id);
    const asked = { ...timeline.view };
    const { start, end } = asked;
    const range = { start: isoZ(start), end: isoZ(Math.min(end, Date.now())) };
    const bodies = await Promise.all(ids.map((id) => optional(`/api/cameras/${id}/recordings${query(range)}`, null).catch(() => null)));
    const density = ids.length === 1 ? await densityOf(ids[0], start, Math.min(end, Date.now()), timeline.buckets()) : null;
    if (ticket !== loading) return;
    const merged = mergeRecordings(bodies);
    const gaps = [];
    let cursor = start;
    for (const span of merged.spans) {
      if (span.start > cursor) gaps.push({ start: cursor, end: span.start, kind: merged.first !== null && span.start <= merged.first ? "before_first" : "gap" });
      cursor = Math.max(cursor, span.end);
    }
    const edge = Math.min(end, Date.now());
    if (cursor < edge) gaps.push({ start: cursor, end: edge, kind: merged.first === null ? "before_first" : "gap" });
    timeline.setData({ spans: merged.spans, gaps, density }, asked);
  }

  function setMode(next) {
    if (next === mode) return;
    if (next === "playback") startAt = startAt ?? Date.now() - 60000;
    mode = next;
    if (mode === "playback") {
      const at = startAt;
      timeline.setView(at - 1800e3, at + 600e3);
    }
    render();
  }

  // -- shortcuts, list changes, layout --------------------------------------------------
  const tileUnderPointer = () => {
    const hovered = wallEl.querySelector(".tile:hover .video-box");
    return hovered || (tiles.length === 1 ? tiles[0].view.el : null);
  };
  const offKeys = shortcuts("Video wall", [
    { keys: ["1", "2", "3", "4"], label: "1, 4, 9 or 16 tiles", run: (ev) => setLayout(LAYOUTS[Number(ev.key) - 1]) },
    { keys: ["PageUp", "PageDown"], label: "Previous / next page of cameras", run: (ev) => turn(ev.key === "PageUp" ? -1 : 1) },
    { keys: ["p"], label: "Play the wall back together", run: () => setMode("playback") },
    { keys: ["l"], label: "Back to live", run: () => setMode("live") },
    { keys: ["Space"], label: "Play / pause (playback)", run: () => mode === "playback" && (group.togglePause(), controls.show()) },
    { keys: [","], label: "One frame back (playback)", run: () => mode === "playback" && group.step(-1) },
    { keys: ["."], label: "One frame forward (playback)", run: () => mode === "playback" && group.step(1) },
    { keys: ["["], label: "Slower, down to reverse (playback)", run: () => mode === "playback" && controls.faster(-1) },
    { keys: ["]"], label: "Faster (playback)", run: () => mode === "playback" && controls.faster(1) },
    { keys: ["j"], label: "Go to a date and time (playback)", run: () => mode === "playback" && controls.focusGoTo() },
    {
      keys: ["f"],
      label: "Full screen: the tile under the pointer",
      run: () => {
        const box = tileUnderPointer();
        if (box) box.querySelector('.tool[title^="Full screen"]').click();
      },
    },
    {
      keys: ["s"],
      label: "Snapshot: the tile under the pointer",
      run: () => {
        const box = tileUnderPointer();
        if (box) box.querySelector('.tool[title^="Snapshot"]').click();
      },
    },
    {
      keys: ["Escape"],
      label: "Back from an enlarged tile",
      run: () => {
        if (enlarged !== null) {
          enlarged = null;
          render();
        }
      },
    },
  ]);

  let known = cameras().map((c) => c.id).join();
  const off = on("cameras", () => {
    const now = cameras().map((c) => c.id).join();
    if (now !== known) {
      known = now;
      render();
    }
  });

  const pagePart = h("span", { class: "pager" }, prev, next, pageLabel);
  const autoButton = h(
    "button",
    { type: "button", class: "small", title: "Fill the tiles with the cameras in order", onclick: () => ((wall = { ...wall, tiles: null, view: null }), saveWall(wall), loadViews(null), render()) },
    "Auto",
  );
  root.append(
    h(
      "div",
      { class: "grid-page", dataset: { mode } },
      h(
        "header",
        { class: "page-head" },
        h("h2", {}, "Video wall"),
        h("div", { class: "seg" }, layoutButtons),
        pagePart,
        modeButton,
        h("span", { class: "spacer" }),
        viewSelect,
        deleteButton,
        saveButton,
        autoButton,
        saveForm,
      ),
      wallEl,
      playbackBar,
    ),
  );
  if (mode === "playback") timeline.setView(t - 1800e3, t + 600e3);
  loadViews();
  render();
  return () => {
    off();
    offKeys();
    stopAll();
    group.destroy();
    timeline.destroy();
  };
}
