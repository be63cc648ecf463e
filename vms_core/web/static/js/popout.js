// A tile in its own window (popped out of the wall): one camera, live on its main stream
// or played back from a moment, with the tile's tools. No top bar, no lists.

import { LiveView } from "./live.js";
import { PlaybackView } from "./playback.js";
import { shortcuts } from "./shortcuts.js";
import { cameraById, streamFor } from "./store.js";
import { tileTools } from "./tile.js";
import { transport } from "./transport.js";
import { h } from "./util.js";

export function popoutPage(root, { id, t }) {
  const camera = cameraById(id);
  if (!camera) {
    root.append(h("div", { class: "empty" }, `No camera ${id}.`));
    return () => {};
  }
  document.title = `${camera.name} · VMS`;
  const at = t ? Number(t) : null;
  const view = at ? new PlaybackView() : new LiveView({ label: camera.name });
  if (at) view.el.prepend(h("div", { class: "label" }, camera.name));
  const tools = tileTools(view, { camera: () => camera, timeOf: () => (at ? view.wallTime() : Date.now()) });
  const bar = at ? transport(view, { onGoTo: (ms) => view.play(camera.id, ms), now: () => view.wallTime() }) : null;
  root.append(h("div", { class: "popout", dataset: { camera: camera.id } }, view.el, bar ? h("div", { class: "popout-bar" }, bar.el) : null));
  if (at) view.play(camera.id, at);
  else view.start(camera, streamFor(camera, "main"));
  const offKeys = shortcuts("This window", [
    { keys: ["f"], label: "Full screen", run: () => tools.fullScreen() },
    { keys: ["s"], label: "Snapshot (PNG)", run: () => tools.snapshot() },
    { keys: ["m"], label: "Sound on / off", run: () => tools.toggleSound() },
    { keys: ["0"], label: "Reset the digital zoom", run: () => tools.zoom.reset() },
    ...(bar ? [{ keys: ["Space"], label: "Play / pause", run: () => (view.togglePause(), bar.show()) }] : []),
  ]);
  return () => {
    offKeys();
    view.stop();
  };
}
