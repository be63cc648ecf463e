// Recorded video for a time range: fMP4 from playback.mp4 streamed into Media Source
// Extensions, so the picture starts before the whole range has arrived.
// Wall-clock time of the picture = X-Vms-Start + video.currentTime (+ skipped gaps).
//
// Pause, speeds from 1/4x to 16x (the video element's playbackRate), frame steps (a seek
// of one frame interval) and reverse: reverse plays the range's keyframes only
// (playback.mp4?keyframes=true), loaded a stretch at a time before the current moment,
// and walks back through them on a clock of its own.

import { errorOf } from "./api.js";
import { fmtDateTime, h, isoZ, parseTime } from "./util.js";

const CHUNK_MS = 10 * 60 * 1000;
export const SPEEDS = [-16, -8, -4, -2, -1, 0.25, 0.5, 1, 2, 4, 8, 16];
const REVERSE_TICK_MS = 100;
const DEFAULT_FRAME_S = 0.04;

/** How much recording before the current moment a reverse stretch loads. */
const reverseSpan = (rate) => Math.min(120000, Math.max(20000, 15000 * Math.abs(rate)));

export function speedLabel(rate) {
  const size = Math.abs(rate);
  const text = size < 1 ? `1/${Math.round(1 / size)}x` : `${size}x`;
  return rate < 0 ? `-${text}` : text;
}
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
  constructor({ onTime, onEnd } = {}) {
    this.video = h("video", { muted: true, autoplay: true, playsInline: true, className: "playback-video" });
    this.clock = h("div", { class: "badge badge-playback" }, "PLAYBACK");
    this.status = h("div", { class: "status" }, "");
    this.el = h("div", { class: "video-box", dataset: { state: "idle", rate: "1" } }, this.video, this.clock, this.status);
    this.onTime = onTime;
    this.onEnd = onEnd;
    this.startWall = null;
    this.gaps = [];
    this.generation = 0;
    this.rate = 1;
    this.paused = false;
    this.reverse = null; // {at, loadedFrom, timer}: the reverse clock and what is loaded
    this.frameS = 0; // one frame interval, learnt from the pictures shown
    this.shownMediaTime = null; // media time of the picture on screen
    this.fallbackFrameS = DEFAULT_FRAME_S;
    let previous = null;
    const tick = (_now, meta) => {
      if (meta && previous !== null && !this.reverse && this.rate === 1) {
        const step = meta.mediaTime - previous;
        if (step > 0.001 && step < 1 && (!this.frameS || step < this.frameS - 0.0005)) this.frameS = step;
      }
      previous = meta ? meta.mediaTime : null;
      if (meta) this.shownMediaTime = meta.mediaTime;
      this.showTime();
      if (this.video.requestVideoFrameCallback) this.video.requestVideoFrameCallback(tick);
    };
    if (this.video.requestVideoFrameCallback) this.video.requestVideoFrameCallback(tick);
    else this.video.addEventListener("timeupdate", () => this.showTime());
    this.video.addEventListener("seeked", () => this.showTime());
    this.video.addEventListener("ended", () => this.continueAfterEnd());
  }

  showTime() {
    const wall = this.wallTime();
    if (wall === null) return;
    this.clock.textContent = `PLAYBACK ${fmtDateTime(wall)}${this.rate === 1 ? "" : ` · ${speedLabel(this.rate)}`}${this.paused ? " · paused" : ""}`;
    this.el.dataset.wall = String(Math.round(wall));
    if (this.onTime) this.onTime(wall);
  }

  /** Wall-clock ms of the frame on screen, or null before playback starts. */
  wallTime() {
    if (this.reverse) return this.reverse.at;
    if (this.startWall === null) return null;
    return mediaToWall(this.startWall, this.gaps, this.video.currentTime * 1000);
  }

  setState(state, message = "") {
    this.el.dataset.state = state;
    this.status.textContent = message;
  }

  /** Play `cameraId` from `wallMs` at the current speed (reverse too). */
  async play(cameraId, wallMs, { fps = null } = {}) {
    this.cameraId = cameraId;
    if (fps) this.fallbackFrameS = 1 / fps;
    this.stopReverse();
    if (this.rate < 0) return this.startReverse(wallMs);
    return this.load(wallMs);
  }

  url(start, end, keyframes) {
    const q = `start=${encodeURIComponent(isoZ(start))}&end=${encodeURIComponent(isoZ(end))}`;
    return `/api/cameras/${this.cameraId}/playback.mp4?${q}${keyframes ? "&keyframes=true" : ""}`;
  }

  /** Forward playback from `wallMs`: the next ten minutes, streamed. */
  async load(wallMs) {
    const generation = ++this.generation;
    this.chunkEnd = wallMs + CHUNK_MS;
    const loaded = await this.fetchInto(this.url(wallMs, this.chunkEnd, false), wallMs, generation, false);
    if (!loaded) return false;
    this.seekWhenReady(wallToMedia(this.startWall, this.gaps, wallMs) / 1000, generation);
    return true;
  }

  /** Fetch a range into the video; false (with the state saying why) when it fails. */
  async fetchInto(url, wallMs, generation, whole) {
    this.abort();
    this.controller = new AbortController();
    this.startWall = null;
    // Reverse walks through the pictures itself; a paused view stays paused on a new range.
    this.video.autoplay = !this.paused && !this.reverse;
    this.setState("connecting", `Loading ${fmtDateTime(wallMs)}…`);
    let response;
    try {
      response = await fetch(url, { credentials: "same-origin", signal: this.controller.signal });
      if (!response.ok) throw await errorOf(response);
    } catch (err) {
      if (err.name === "AbortError" || generation !== this.generation) return false;
      const text = err.unavailable ? "Playback is not available on this server" : err.message;
      this.setState(err.status === 404 ? "empty" : "error", err.status === 404 ? "No recording at this time" : text);
      return false;
    }
    const start = parseTime(response.headers.get("X-Vms-Start"));
    const startWall = start === null ? wallMs : start;
    const gaps = parseGaps(response.headers.get("X-Vms-Gaps"));
    try {
      const done = await this.feed(response, generation);
      if (whole) await done;
    } catch (err) {
      if (err.name === "AbortError" || generation !== this.generation) return false;
      this.setState("error", `Playback failed: ${err.message}`);
      return false;
    }
    if (generation !== this.generation) return false;
    this.startWall = startWall;
    this.gaps = gaps;
    return true;
  }

  seekWhenReady(offset, generation) {
    const go = () => {
      if (generation !== this.generation) return;
      const ranges = this.video.buffered;
      const first = ranges.length ? ranges.start(0) : 0;
      this.video.currentTime = Math.max(first, offset);
      this.video.playbackRate = this.rate;
      if (!this.paused) this.video.play().catch(() => {});
      this.setState(this.paused ? "paused" : "playing", "");
      this.showTime();
    };
    if (this.video.readyState >= 1) go();
    else this.video.addEventListener("loadedmetadata", go, { once: true });
  }

  /**
   * Stream the body into a SourceBuffer; falls back to a whole-file blob when MSE cannot.
   * Resolves once the picture can start, to a promise of the whole body being in.
   */
  async feed(response, generation) {
    const reader = response.body.getReader();
    const first = await readHead(reader);
    if (!first.value.length) throw new Error("no recording at this time");
    const codecs = codecsOf(first.value);
    this.el.dataset.audio = codecs.some((c) => c.startsWith("mp4a")) ? "yes" : "no";
    const mime = `video/mp4; codecs="${codecs.join(",")}"`;
    if (!window.MediaSource || !codecs.length || !MediaSource.isTypeSupported(mime)) {
      const parts = [first.value];
      for (let r = await reader.read(); !r.done; r = await reader.read()) parts.push(r.value);
      this.setSource(URL.createObjectURL(new Blob(parts, { type: "video/mp4" })));
      return Promise.resolve();
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
    return (async () => {
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
    if (this.reverse) return;
    const wall = this.wallTime();
    if (wall !== null && this.chunkEnd && wall >= this.chunkEnd - 5000 && this.chunkEnd < Date.now()) {
      this.load(this.chunkEnd);
    } else if (this.onEnd) {
      this.onEnd(wall);
    }
  }

  // -- transport -----------------------------------------------------------------------

  pause() {
    this.paused = true;
    this.video.pause();
    if (this.el.dataset.state === "playing") this.setState("paused", "");
    this.showTime();
  }

  resume() {
    this.paused = false;
    if (this.reverse) this.reverse.last = performance.now();
    else this.video.play().catch(() => {});
    if (this.el.dataset.state === "paused") this.setState("playing", "");
    this.showTime();
  }

  togglePause() {
    if (this.paused) this.resume();
    else this.pause();
  }

  /** A speed from SPEEDS; crossing between forward and reverse reloads at the moment shown. */
  setRate(rate) {
    const was = this.rate;
    this.rate = rate;
    this.el.dataset.rate = String(rate);
    const at = this.wallTime();
    if (this.cameraId === undefined || at === null) return;
    if (rate < 0 && was > 0) {
      this.startReverse(at);
    } else if (rate > 0 && was < 0) {
      this.stopReverse();
      this.load(at);
    } else if (rate > 0) {
      this.video.playbackRate = rate;
    }
    this.showTime();
  }

  /** One frame forward (+1) or back (-1); pauses first. */
  async step(direction) {
    if (this.startWall === null && !this.reverse) return;
    if (!this.paused) this.pause();
    if (this.reverse) {
      // Reverse shows keyframes only: a step is to the next or previous one.
      this.seekWall(this.reverse.at + direction * 500);
      return;
    }
    if (this.stepping) return; // one step at a time: a held key must not pile up seeks
    this.stepping = true;
    try {
      // A picture shows from its timestamp to the next one's: just before the one on
      // screen is the previous picture; the next starts one frame interval later (when
      // that is not known yet, try further until the picture changes).
      const from = this.shownMediaTime ?? this.video.currentTime;
      const frame = this.frameS || this.fallbackFrameS;
      for (let tries = 1; tries <= 10; tries++) {
        const target = direction < 0 ? from - 0.001 * tries : from + frame * tries + 0.001;
        const ranges = this.video.buffered;
        if (target < 0 || !ranges.length || target < ranges.start(0) || target > ranges.end(ranges.length - 1)) {
          if (target >= 0) this.load(mediaToWall(this.startWall, this.gaps, target * 1000));
          return;
        }
        await this.presentAt(target);
        if (this.shownMediaTime === null || Math.abs(this.shownMediaTime - from) > 0.0005) return;
      }
    } finally {
      this.stepping = false;
    }
  }

  /** Seek to media time `t` and wait until its picture is on screen: the next presented
   * frame, or (a seek to the picture already shown presents none) a moment after "seeked". */
  presentAt(t) {
    return new Promise((resolve) => {
      let timer = setTimeout(resolve, 2000);
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      if (this.video.requestVideoFrameCallback) this.video.requestVideoFrameCallback(() => setTimeout(done, 0));
      this.video.addEventListener(
        "seeked",
        () => {
          clearTimeout(timer);
          timer = setTimeout(resolve, 300);
        },
        { once: true },
      );
      this.video.currentTime = t;
    });
  }

  /** Show `wallMs`: a seek inside what is loaded, else a new request. */
  seekWall(wallMs) {
    if (this.reverse) {
      this.reverse.at = wallMs;
      this.reverseTick(true);
      return;
    }
    if (this.startWall !== null) {
      const media = wallToMedia(this.startWall, this.gaps, wallMs) / 1000;
      const ranges = this.video.buffered;
      for (let i = 0; i < ranges.length; i++) {
        if (media >= ranges.start(i) && media <= ranges.end(i) - 0.2 && wallMs >= this.startWall) {
          this.video.currentTime = media;
          return;
        }
      }
    }
    this.load(wallMs);
  }

  // -- reverse ---------------------------------------------------------------------------

  async startReverse(wallMs) {
    this.stopReverse();
    this.reverse = { at: wallMs, loadedFrom: null, loading: false, last: performance.now() };
    this.video.pause();
    await this.loadReverse(wallMs);
    if (!this.reverse) return;
    this.reverse.timer = setInterval(() => this.reverseTick(false), REVERSE_TICK_MS);
  }

  /** The keyframes of the stretch before `wallMs` (and a little after it). */
  async loadReverse(wallMs) {
    const reverse = this.reverse;
    reverse.loading = true;
    const generation = ++this.generation;
    const from = wallMs - reverseSpan(this.rate);
    const loaded = await this.fetchInto(this.url(from, wallMs + 1000, true), wallMs, generation, true);
    if (this.reverse !== reverse) return;
    reverse.loading = false;
    if (!loaded) {
      reverse.loadedFrom = null;
      return;
    }
    reverse.loadedFrom = this.startWall;
    this.video.pause();
    this.setState(this.paused ? "paused" : "playing", "");
    this.reverseTick(true);
  }

  reverseTick(seekOnly) {
    const reverse = this.reverse;
    if (!reverse || reverse.loading) return;
    const now = performance.now();
    if (!seekOnly && !this.paused) reverse.at -= (now - reverse.last) * Math.abs(this.rate);
    reverse.last = now;
    if (reverse.loadedFrom === null) return;
    if (reverse.at < reverse.loadedFrom) {
      // Before what is loaded: the previous stretch, unless this is where recording begins.
      if (this.reachedStart) {
        reverse.at = reverse.loadedFrom;
        this.pause();
      } else {
        const asked = reverse.at;
        this.loadReverse(asked).then(() => {
          if (this.reverse && this.startWall !== null && this.startWall >= asked) this.reachedStart = true;
        });
        return;
      }
    }
    this.reachedStart = false;
    if (!this.video.seeking) this.video.currentTime = wallToMedia(this.startWall, this.gaps, reverse.at) / 1000;
    this.showTime();
  }

  stopReverse() {
    if (this.reverse && this.reverse.timer) clearInterval(this.reverse.timer);
    this.reverse = null;
    this.reachedStart = false;
  }

  abort() {
    if (this.controller) this.controller.abort();
    this.controller = null;
  }

  stop() {
    this.generation += 1;
    this.stopReverse();
    this.abort();
    this.video.removeAttribute("src");
    this.video.load();
    if (this.objectUrl) URL.revokeObjectURL(this.objectUrl);
    this.objectUrl = null;
    this.startWall = null;
    delete this.el.dataset.wall;
    this.setState("idle", "");
  }
}
