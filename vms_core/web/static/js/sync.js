// Several PlaybackViews played as one: the wall's synchronised playback. The first tile
// that plays leads; the others follow its clock (a tile that drifts is moved to it), and
// pause, speed, reverse and frame steps go to all of them.

const TOLERANCE_MS = 250; // drift allowed at 1x before a tile is moved
const PAUSED_TOLERANCE_MS = 30; // paused, tiles show the same moment to the frame
const ALIGN_MS = 500;
const RETRY_MS = 10000; // a tile without recording tries again as time moves on

export class SyncGroup {
  constructor({ onTime } = {}) {
    this.members = []; // {view, camera, tried}
    this.rate = 1;
    this.paused = false;
    this.onTime = onTime;
    this.timer = setInterval(() => this.align(), ALIGN_MS);
  }

  add(view, camera) {
    view.rate = this.rate;
    view.paused = this.paused;
    view.el.dataset.rate = String(this.rate);
    this.members.push({ view, camera, tried: 0 });
  }

  clear() {
    for (const m of this.members.splice(0)) m.view.stop();
  }

  destroy() {
    clearInterval(this.timer);
    this.clear();
  }

  /** The tile the others follow: the first one showing recorded pictures. */
  leader() {
    return this.members.find((m) => ["playing", "paused"].includes(m.view.el.dataset.state) && m.view.wallTime() !== null) || null;
  }

  wallTime() {
    const lead = this.leader();
    return lead ? lead.view.wallTime() : this.startedAt ?? null;
  }

  start(wallMs) {
    this.startedAt = wallMs;
    for (const m of this.members) {
      m.tried = performance.now();
      m.view.play(m.camera.id, wallMs, { fps: fpsOf(m.camera) });
    }
  }

  togglePause() {
    this.paused = !this.paused;
    const at = this.wallTime();
    for (const m of this.members) {
      if (!this.paused) {
        m.view.resume();
        continue;
      }
      m.view.pause();
      // Every tile, the leader too, seeks to one moment: a paused video may still show the
      // picture before its current time; a seek presents exactly the picture for it.
      if (at !== null && m.view.wallTime() !== null) m.view.seekWall(at);
    }
  }

  setRate(rate) {
    this.rate = rate;
    const at = this.wallTime();
    for (const m of this.members) {
      m.view.setRate(rate);
      // A tile that had not started yet starts with the others, at the group's time.
      if (m.view.wallTime() === null && at !== null) m.view.play(m.camera.id, at, { fps: fpsOf(m.camera) });
    }
  }

  step(direction) {
    this.paused = true;
    for (const m of this.members) m.view.step(direction);
  }

  /** Move every tile to `wallMs`. */
  seekWall(wallMs) {
    this.startedAt = wallMs;
    for (const m of this.members) {
      if (m.view.wallTime() === null) m.view.play(m.camera.id, wallMs, { fps: fpsOf(m.camera) });
      else m.view.seekWall(wallMs);
    }
  }

  align() {
    const lead = this.leader();
    if (!lead) return;
    const at = lead.view.wallTime();
    if (this.onTime) this.onTime(at);
    const tolerance = this.paused ? PAUSED_TOLERANCE_MS : TOLERANCE_MS * Math.max(1, Math.abs(this.rate));
    const now = performance.now();
    for (const m of this.members) {
      if (m === lead) continue;
      const state = m.view.el.dataset.state;
      if (state === "connecting") continue;
      if (state === "empty" || state === "error" || state === "idle") {
        if (now - m.tried > RETRY_MS) {
          m.tried = now;
          m.view.play(m.camera.id, at, { fps: fpsOf(m.camera) });
        }
        continue;
      }
      const wall = m.view.wallTime();
      if (wall !== null && Math.abs(wall - at) > tolerance) m.view.seekWall(at);
    }
  }
}

function fpsOf(camera) {
  const main = (camera.streams || []).find((s) => s.role === "main");
  return main ? main.fps : null;
}
