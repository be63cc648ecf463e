// PTZ controls: hold an arrow to move, release to stop; presets from the camera.

import { api, optional } from "./api.js";
import { h, toast } from "./util.js";

const SPEED = 0.5;
const MOVES = [
  ["↖", -1, 1], ["▲", 0, 1], ["↗", 1, 1],
  ["◀", -1, 0], null, ["▶", 1, 0],
  ["↙", -1, -1], ["▼", 0, -1], ["↘", 1, -1],
];

export function ptzPanel(camera) {
  const path = `/api/cameras/${camera.id}/ptz`;
  const send = (body) =>
    api(path, { method: "POST", json: body }).catch((err) =>
      toast(err.unavailable ? "PTZ is not available on this server" : `PTZ: ${err.message}`, "error"),
    );
  const hold = (label, pan, tilt, zoom = 0) => {
    const button = h("button", { class: "ptz-btn", title: "Hold to move", type: "button" }, label);
    const stop = () => {
      if (!button.classList.contains("active")) return;
      button.classList.remove("active");
      send({ action: "stop" });
    };
    button.addEventListener("pointerdown", (ev) => {
      button.setPointerCapture(ev.pointerId);
      button.classList.add("active");
      // The camera stops by itself after `timeout` should the release never arrive.
      send({ action: "move", pan: pan * SPEED, tilt: tilt * SPEED, zoom: zoom * SPEED, timeout: 10 });
    });
    button.addEventListener("pointerup", stop);
    button.addEventListener("pointercancel", stop);
    return button;
  };
  const pad = h(
    "div",
    { class: "ptz-pad" },
    MOVES.map((m) => (m ? hold(m[0], m[1], m[2]) : h("span", { class: "ptz-center" }, "PTZ"))),
  );
  const zoom = h("div", { class: "ptz-zoom" }, hold("Zoom −", 0, 0, -1), hold("Zoom +", 0, 0, 1));
  const presets = h("select", { class: "ptz-presets", ariaLabel: "Presets" }, h("option", { value: "" }, "Presets…"));
  presets.addEventListener("change", () => {
    if (presets.value) send({ action: "goto_preset", preset: presets.value });
    presets.value = "";
  });
  optional(path, null)
    .then((info) => {
      for (const p of (info && info.presets) || []) {
        const token = p.token ?? p.id ?? p.name;
        presets.append(h("option", { value: token }, p.name || token));
      }
    })
    .catch(() => {});
  return h("section", { class: "panel ptz" }, h("h3", {}, "Pan / Tilt / Zoom"), pad, zoom, presets);
}
