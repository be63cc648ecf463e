// The camera list with each camera's health, kept current by the store. A camera can be
// dragged onto a tile of the video wall.

import { health, on, state } from "./store.js";
import { clear, fmtAgo, h } from "./util.js";

export const CAMERA_TYPE = "application/x-vms-camera";

export function cameraList() {
  const filter = h("input", { type: "search", placeholder: "Filter cameras", class: "filter" });
  const list = h("ul", { class: "camera-list" });
  const summary = h("div", { class: "summary" });

  function render() {
    const text = filter.value.trim().toLowerCase();
    clear(list);
    let ok = 0;
    for (const camera of state.cameras) {
      const status = health(camera);
      if (status.cls === "ok") ok += 1;
      if (text && !camera.name.toLowerCase().includes(text)) continue;
      const since = camera.state_changed ? ` · ${fmtAgo(Date.parse(camera.state_changed))}` : "";
      list.append(
        h(
          "li",
          { dataset: { camera: camera.id, state: camera.state } },
          h(
            "a",
            {
              href: `#/camera/${camera.id}`,
              title: camera.state_reason || status.label,
              draggable: "true",
              ondragstart: (ev) => {
                ev.dataTransfer.setData(CAMERA_TYPE, String(camera.id));
                ev.dataTransfer.effectAllowed = "copyLink";
              },
            },
            h("span", { class: `dot ${status.cls}` }),
            h("span", { class: "name" }, camera.name),
            camera.has_ptz ? h("span", { class: "tag" }, "PTZ") : null,
            h("span", { class: "health-text" }, `${status.label}${since}`),
          ),
        ),
      );
    }
    summary.textContent = `${ok}/${state.cameras.length} online`;
  }

  filter.addEventListener("input", render);
  on("cameras", render);
  render();
  return h("nav", { class: "sidebar" }, h("div", { class: "side-head" }, h("h3", {}, "Cameras"), summary), filter, list);
}
