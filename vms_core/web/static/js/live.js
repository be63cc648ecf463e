// A live video view: WHEP session, status overlay, reconnect with backoff.
// Tiles queue for their turn to negotiate so a 16-tile wall never stalls the page.

import { openWhep } from "./whep.js";
import { h, sleep } from "./util.js";

const MAX_NEGOTIATING = 4;
let negotiating = 0;
const waiting = [];

async function turn() {
  if (negotiating < MAX_NEGOTIATING) {
    negotiating += 1;
    return;
  }
  await new Promise((resolve) => waiting.push(resolve));
  negotiating += 1;
}

function done() {
  negotiating -= 1;
  const next = waiting.shift();
  if (next) next();
}

const UNPLAYABLE = new Set(["hevc", "h265", "h.265"]);

export class LiveView {
  constructor({ muted = true, label = "", onLive = null } = {}) {
    this.onLive = onLive;
    this.video = h("video", { muted: true, autoplay: true, playsInline: true, className: "live-video" });
    this.video.muted = muted;
    this.status = h("div", { class: "status" }, "");
    this.badge = h("div", { class: "badge badge-live" }, "LIVE");
    this.note = h("span", { class: "note" });
    this.label = h("div", { class: "label" }, label, this.note);
    this.el = h("div", { class: "video-box", dataset: { state: "idle" } }, this.video, this.label, this.badge, this.status);
    this.session = null;
    this.generation = 0;
  }

  setState(state, message = "") {
    this.el.dataset.state = state;
    this.status.textContent = message;
  }

  /** Play `stream` of camera; a camera whose stream the browser cannot decode gets a message. */
  start(camera, stream) {
    this.stop();
    const generation = ++this.generation;
    const info = (camera.streams || []).find((s) => s.role === stream);
    if (info && UNPLAYABLE.has(String(info.codec || "").toLowerCase())) {
      this.setState("error", `${stream} stream is H.265, which browsers cannot play live. Use the sub stream.`);
      return;
    }
    if (!camera.enabled) {
      this.setState("error", "Camera disabled");
      return;
    }
    this.camera = camera;
    this.stream = stream;
    this.el.dataset.camera = camera.id;
    this.el.dataset.stream = stream;
    this.run(generation);
  }

  async run(generation) {
    let delay = 1000;
    while (generation === this.generation) {
      this.setState("connecting", "Connecting…");
      await turn();
      if (generation !== this.generation) {
        done();
        return;
      }
      let session;
      this.controller = new AbortController();
      try {
        // The server sends video and audio as separate streams: both go in one
        // MediaStream, so the tile plays the camera's sound (muted until asked).
        const media = new MediaStream();
        session = await openWhep(this.camera.id, this.stream, {
          signal: this.controller.signal,
          onTrack: (ev) => {
            media.addTrack(ev.track);
            if (ev.track.kind === "audio") this.el.dataset.audio = "yes";
            if (this.video.srcObject !== media) this.video.srcObject = media;
          },
        });
      } catch (err) {
        done();
        if (generation !== this.generation) return;
        const permanent = err.status && err.status >= 400 && err.status < 500 && err.status !== 429;
        this.setState("error", err.unavailable ? "Live view is not available on this server" : err.message);
        if (permanent) return;
        // 503: the server already waited for the camera's stream before answering, which
        // paces the retries; backing off on top would leave a slow-starting tile dark.
        // A live-view limit (429, 503) says when a slot frees: Retry-After.
        if (err.retryAfter) await sleep(err.retryAfter * 1000);
        else await sleep(err.status === 503 ? 1000 : delay);
        if (err.status !== 503) delay = Math.min(delay * 2, 15000);
        continue;
      }
      done();
      if (generation !== this.generation) {
        session.close();
        return;
      }
      this.session = session;
      this.el.dataset.served = session.served;
      this.label.title = session.note;
      this.note.textContent = session.note ? `${session.served} stream` : "";
      const ended = await this.watch(session.pc, generation);
      session.close();
      this.session = null;
      if (!ended) return;
      delay = 1000;
      this.setState("connecting", "Reconnecting…");
      await sleep(delay);
    }
  }

  /** Resolves true when the connection failed (reconnect), false when stopped. */
  watch(pc, generation) {
    return new Promise((resolve) => {
      const onFrame = () => {
        if (generation !== this.generation) return;
        this.setState("live", "");
        if (this.onLive) this.onLive(this);
      };
      if (this.video.requestVideoFrameCallback) this.video.requestVideoFrameCallback(onFrame);
      else this.video.addEventListener("playing", onFrame, { once: true });
      const check = () => {
        if (generation !== this.generation) return resolve(false);
        if (["failed", "closed", "disconnected"].includes(pc.connectionState)) resolve(true);
      };
      pc.addEventListener("connectionstatechange", check);
      this.stopWatch = () => resolve(false);
    });
  }

  stop() {
    this.generation += 1;
    // A negotiation in flight gives its slot back at once.
    if (this.controller) this.controller.abort();
    this.controller = null;
    if (this.stopWatch) this.stopWatch();
    this.stopWatch = null;
    if (this.session) this.session.close();
    this.session = null;
    this.video.srcObject = null;
    delete this.el.dataset.audio;
    this.setState("idle", "");
  }
}
