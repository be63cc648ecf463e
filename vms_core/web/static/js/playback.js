// Recorded video for a time range: fMP4 from playback.mp4 streamed into Media Source
// Extensions, so the picture starts before the whole range has arrived.
// Wall-clock time of the picture = X-Vms-Start + video.currentTime.

import { errorOf } from "./api.js";
import { fmtDateTime, h, isoZ, parseTime } from "./util.js";

const CHUNK_MS = 10 * 60 * 1000;
const LATIN1 = new TextDecoder("latin1");

/** The avc1/hvc1 codec string from an init segment, for MediaSource.isTypeSupported. */
export function codecsOf(bytes) {
  const find = (tag) => {
    const t = [...tag].map((c) => c.charCodeAt(0));
    for (let i = 0; i + 8 < bytes.length; i++) {
      if (bytes[i] === t[0] && bytes[i + 1] === t[1] && bytes[i + 2] === t[2] && bytes[i + 3] === t[3]) return i + 4;
    }
    return -1;
  };
  const hex = (n) => n.toString(16).padStart(2, "0");
  const codecs = [];
  const avcC = find("avcC");
  if (avcC > 0) codecs.push(`avc1.${hex(bytes[avcC + 1])}${hex(bytes[avcC + 2])}${hex(bytes[avcC + 3])}`);
  else if (find("hvcC") > 0) codecs.push("hvc1.1.6.L93.B0");
  if (find("mp4a") > 0) codecs.push("mp4a.40.2");
  return codecs;
}

/** Read until the first fragment starts (the init segment is whole), or the body ends. */
async function readHead(reader) {
  const parts = [];
  let size = 0;
  for (;;) {
    const r = await reader.read();
    if (r.done) break;
    parts.push(r.value);
    size += r.value.length;
    const text = LATIN1.decode(r.value);
    if (text.includes("moof") || size > 1 << 20) break;
  }
  const value = new Uint8Array(size);
  let at = 0;
  for (const p of parts) {
    value.set(p, at);
    at += p.length;
  }
  return { value };
}

/** X-Vms-Gaps: comma-separated ISO 8601 intervals the stream skips. */
export function parseGaps(header) {
  if (!header) return [];
  return header
    .split(",")
    .map((part) => part.split("/").map(parseTime))
    .filter(([a, b]) => a !== null && b !== null && b > a)
    .map(([start, end]) => ({ start, end }))
    .sort((x, y) => x.start - y.start);
}

/** Media time t (ms) to wall time: X-Vms-Start + t, plus every gap skipped before it. */
export function mediaToWall(startWall, gaps, mediaMs) {
  let wall = startWall + mediaMs;
  for (const gap of gaps) if (gap.start <= wall) wall += gap.end - gap.start;
  return wall;
}

/** The inverse; a time inside a gap maps to where the recording resumes. */
export function wallToMedia(startWall, gaps, wallMs) {
  let media = wallMs - startWall;
  for (const gap of gaps) {
    if (gap.end <= wallMs) media -= gap.end - gap.start;
    else if (gap.start < wallMs) media -= wallMs - gap.start;
  }
  return Math.max(0, media);
}

export class PlaybackView {
  constructor({ onTime } = {}) {
    this.video = h("video", { muted: true, autoplay: true, playsInline: true, className: "playback-video" });
    this.clock = h("div", { class: "badge badge-playback" }, "PLAYBACK");
    this.status = h("div", { class: "status" }, "");
    this.el = h("div", { class: "video-box", dataset: { state: "idle" } }, this.video, this.clock, this.status);
    this.onTime = onTime;
    this.startWall = null;
    this.gaps = [];
    this.generation = 0;
    const tick = () => {
      const wall = this.wallTime();
      if (wall !== null) {
        this.clock.textContent = `PLAYBACK ${fmtDateTime(wall)}`;
        this.el.dataset.wall = String(Math.round(wall));
        if (this.onTime) this.onTime(wall);
      }
      if (this.video.requestVideoFrameCallback) this.video.requestVideoFrameCallback(tick);
    };
    if (this.video.requestVideoFrameCallback) this.video.requestVideoFrameCallback(tick);
    else this.video.addEventListener("timeupdate", tick);
    this.video.addEventListener("ended", () => this.continueAfterEnd());
  }

  /** Wall-clock ms of the frame on screen, or null before playback starts. */
  wallTime() {
    if (this.startWall === null) return null;
    return mediaToWall(this.startWall, this.gaps, this.video.currentTime * 1000);
  }

  setState(state, message = "") {
    this.el.dataset.state = state;
    this.status.textContent = message;
  }

  async play(cameraId, wallMs) {
    const generation = ++this.generation;
    this.cameraId = cameraId;
    this.abort();
    this.controller = new AbortController();
    this.startWall = null;
    this.chunkEnd = wallMs + CHUNK_MS;
    this.setState("connecting", `Loading ${fmtDateTime(wallMs)}…`);
    const url = `/api/cameras/${cameraId}/playback.mp4?start=${encodeURIComponent(isoZ(wallMs))}&end=${encodeURIComponent(isoZ(this.chunkEnd))}`;
    let response;
    try {
      response = await fetch(url, { credentials: "same-origin", signal: this.controller.signal });
      if (!response.ok) throw await errorOf(response);
    } catch (err) {
      if (err.name === "AbortError" || generation !== this.generation) return;
      const text = err.unavailable ? "Playback is not available on this server" : err.message;
      this.setState("error", text);
      return;
    }
    const start = parseTime(response.headers.get("X-Vms-Start"));
    const startWall = start === null ? wallMs : start;
    const gaps = parseGaps(response.headers.get("X-Vms-Gaps"));
    try {
      await this.feed(response, generation);
    } catch (err) {
      if (err.name === "AbortError" || generation !== this.generation) return;
      this.setState("error", `Playback failed: ${err.message}`);
      return;
    }
    if (generation !== this.generation) return;
    this.startWall = startWall;
    this.gaps = gaps;
    const offset = wallToMedia(startWall, gaps, wallMs) / 1000;
    this.seekWhenReady(offset);
  }

  seekWhenReady(offset) {
    const go = () => {
      const ranges = this.video.buffered;
      const first = ranges.length ? ranges.start(0) : 0;
      this.video.currentTime = Math.max(first, offset);
      this.video.play().catch(() => {});
      this.setState("playing", "");
    };
    if (this.video.readyState >= 1) go();
    else this.video.addEventListener("loadedmetadata", go, { once: true });
  }

  /** Stream the body into a SourceBuffer; falls back to a whole-file blob when MSE cannot. */
  async feed(response, generation) {
    const reader = response.body.getReader();
    const first = await readHead(reader);
    if (!first.value.length) throw new Error("no recording at this time");
    const codecs = codecsOf(first.value);
    const mime = `video/mp4; codecs="${codecs.join(",")}"`;
    if (!window.MediaSource || !codecs.length || !MediaSource.isTypeSupported(mime)) {
      const parts = [first.value];
      for (let r = await reader.read(); !r.done; r = await reader.read()) parts.push(r.value);
      this.setSource(URL.createObjectURL(new Blob(parts, { type: "video/mp4" })));
      return;
    }
    const media = new MediaSource();
    this.setSource(URL.createObjectURL(media));
    await new Promise((resolve) => media.addEventListener("sourceopen", resolve, { once: true }));
    const buffer = media.addSourceBuffer(mime);
    const append = (bytes) =>
      new Promise((resolve, reject) => {
        buffer.addEventListener("updateend", resolve, { once: true });
        buffer.addEventListener("error", () => reject(new Error("the browser rejected the video")), { once: true });
        buffer.appendBuffer(bytes);
      });
    await append(first.value);
    // The rest arrives in the background; the picture starts on the first fragments.
    (async () => {
      try {
        for (let r = await reader.read(); !r.done; r = await reader.read()) {
          if (generation !== this.generation) return reader.cancel();
          await append(r.value);
        }
        if (media.readyState === "open") media.endOfStream();
      } catch (err) {
        if (err.name !== "AbortError") console.warn("playback stream:", err.message);
      }
    })();
  }

  setSource(url) {
    if (this.objectUrl) URL.revokeObjectURL(this.objectUrl);
    this.objectUrl = url;
    this.video.src = url;
  }

  continueAfterEnd() {
    const wall = this.wallTime();
    if (wall !== null && this.chunkEnd && wall >= this.chunkEnd - 5000 && this.chunkEnd < Date.now()) {
      this.play(this.cameraId, this.chunkEnd);
    }
  }

  abort() {
    if (this.controller) this.controller.abort();
    this.controller = null;
  }

  stop() {
    this.generation += 1;
    this.abort();
    this.video.removeAttribute("src");
    this.video.load();
    if (this.objectUrl) URL.revokeObjectURL(this.objectUrl);
    this.objectUrl = null;
    this.startWall = null;
    this.setState("idle", "");
  }
}
