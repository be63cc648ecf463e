// What every video tile offers, live or recorded: sound on/off, digital zoom, full screen,
// a snapshot with the camera and the time burned in, and (on the wall) a pop-out window.

import { DigitalZoom } from "./zoom.js";
import { download, fmtDateTime, h, toast } from "./util.js";

const SNAPSHOT_MIN_WIDTH = 640;

/** "UTC-05:00" for the browser's zone at `ms`. */
function utcOffset(ms) {
  const minutes = -new Date(ms).getTimezoneOffset();
  const sign = minutes < 0 ? "-" : "+";
  const a = Math.abs(minutes);
  return `UTC${sign}${String(Math.floor(a / 60)).padStart(2, "0")}:${String(a % 60).padStart(2, "0")}`;
}

/** The caption burned into a snapshot: camera, local time with its offset, and UTC. */
export function snapshotCaption(camera, ms) {
  return `${camera}   ${fmtDateTime(ms)} ${utcOffset(ms)}   ${new Date(ms).toISOString()}`;
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(bytes) {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** `png` with tEXt chunks (Latin-1 keyword and text) before its IEND: the caption stays
 * readable by tools as well as by eye. */
async function withText(png, entries) {
  const bytes = new Uint8Array(await png.arrayBuffer());
  const chunks = entries.map(([key, text]) => {
    const data = new TextEncoder().encode(`${key}\0${text}`);
    const chunk = new Uint8Array(12 + data.length);
    const view = new DataView(chunk.buffer);
    view.setUint32(0, data.length);
    chunk.set([0x74, 0x45, 0x58, 0x74], 4); // "tEXt"
    chunk.set(data, 8);
    view.setUint32(8 + data.length, crc32(chunk.subarray(4, 8 + data.length)));
    return chunk;
  });
  const end = bytes.length - 12; // IEND: length, type, CRC
  return new Blob([bytes.subarray(0, end), ...chunks, bytes.subarray(end)], { type: "image/png" });
}

/** The picture on screen as a PNG with a caption band under it. */
export function snapshotPng(video, caption) {
  const scale = Math.max(1, SNAPSHOT_MIN_WIDTH / video.videoWidth);
  const w = Math.round(video.videoWidth * scale);
  const hh = Math.round(video.videoHeight * scale);
  const band = Math.max(28, Math.round(w / 28));
  const canvas = h("canvas", { width: w, height: hh + band });
  const g = canvas.getContext("2d");
  g.imageSmoothingEnabled = scale > 1;
  g.drawImage(video, 0, 0, w, hh);
  g.fillStyle = "#000";
  g.fillRect(0, hh, w, band);
  g.fillStyle = "#fff";
  g.textBaseline = "middle";
  let size = Math.round(band * 0.6);
  g.font = `${size}px DejaVu Sans Mono, monospace`;
  while (g.measureText(caption).width > w - 16 && size > 9) g.font = `${--size}px DejaVu Sans Mono, monospace`;
  g.fillText(caption, 8, hh + band / 2);
  return new Promise((resolve, reject) =>
    canvas.toBlob((blob) => (blob ? resolve(blob) : reject(new Error("the browser made no PNG"))), "image/png"),
  );
}

function stamp(ms) {
  return new Date(ms).toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z");
}

/**
 * Tools on a video box. `view`: a LiveView or PlaybackView (its `el` and `video`);
 * `camera()`: the camera shown; `timeOf()`: wall-clock ms of the picture on screen;
 * `popOut()`: opens the tile in its own window (omitted: no button).
 */
export function tileTools(view, { camera, timeOf, popOut = null }) {
  const box = view.el;
  const zoom = new DigitalZoom(box, view.video);
  const tool = (label, title, run) =>
    h("button", { type: "button", class: "tool", title, ariaLabel: title, onclick: (ev) => (ev.stopPropagation(), run()) }, label);

  const sound = tool("Sound", "Sound on (m)", () => toggleSound());
  sound.classList.add("tool-sound"); // shown when the picture has sound (data-audio)
  function showSound() {
    const on = !view.video.muted;
    sound.textContent = on ? "Mute" : "Sound";
    sound.title = on ? "Sound off (m)" : "Sound on (m)";
    sound.setAttribute("aria-pressed", String(on));
    box.dataset.sound = on ? "on" : "off";
  }
  function toggleSound() {
    view.video.muted = !view.video.muted;
    if (!view.video.muted) view.video.play().catch(() => {});
    showSound();
  }
  view.video.addEventListener("volumechange", showSound);
  showSound();

  async function snapshot() {
    const video = view.video;
    const cam = camera();
    if (!video.videoWidth || !cam) {
      toast("No picture to take yet", "error");
      return;
    }
    const at = timeOf() ?? Date.now();
    try {
      const caption = snapshotCaption(cam.name, at);
      const png = await withText(await snapshotPng(video, caption), [
        ["Title", cam.name],
        ["Creation Time", new Date(at).toISOString()],
        ["Comment", caption],
      ]);
      download(png, `${cam.name}-${stamp(at)}.png`);
    } catch (err) {
      toast(`Snapshot: ${err.message}`, "error");
    }
  }

  function fullScreen() {
    if (document.fullscreenElement === box) document.exitFullscreen().catch(() => {});
    else box.requestFullscreen().catch((err) => toast(`Full screen: ${err.message}`, "error"));
  }

  const bar = h(
    "div",
    { class: "tile-tools" },
    sound,
    tool("Snapshot", "Snapshot as PNG (s)", snapshot),
    tool("Full", "Full screen (f)", fullScreen),
    tool("1:1", "Reset the zoom (0)", () => zoom.reset()),
    popOut ? tool("Pop out", "Open in its own window", popOut) : null,
  );
  box.append(bar);
  // Double-clicks on the tools are not the wall's "enlarge this tile".
  bar.addEventListener("dblclick", (ev) => ev.stopPropagation());
  return { zoom, snapshot, fullScreen, toggleSound, showSound, el: bar };
}
