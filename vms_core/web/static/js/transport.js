// Playback controls: play/pause, frame steps, speed (reverse included) and go to a typed
// date and time. They drive anything with togglePause(), step(), setRate(), `paused` and
// `rate`: one PlaybackView, or the wall's synchronised group.

import { SPEEDS, speedLabel } from "./playback.js";
import { fmtDateTime, h, parseTyped, toast } from "./util.js";

export function transport(target, { onGoTo, now = () => null } = {}) {
  const button = (label, action, title, run) =>
    h("button", { type: "button", class: "small", title, ariaLabel: title, dataset: { action }, onclick: run }, label);
  const playPause = button("❚❚", "pause", "Pause (space)", () => {
    target.togglePause();
    show();
  });
  const back = button("|◀", "step-back", "One frame back (,)", () => target.step(-1));
  const forward = button("▶|", "step-forward", "One frame forward (.)", () => target.step(1));
  const speed = h(
    "select",
    { class: "speed", title: "Speed ([ and ])", ariaLabel: "Speed" },
    SPEEDS.map((rate) => h("option", { value: String(rate) }, speedLabel(rate))),
  );
  speed.addEventListener("change", () => {
    target.setRate(Number(speed.value));
    show();
  });
  const when = h("input", {
    type: "text",
    class: "goto",
    placeholder: "YYYY-MM-DD hh:mm:ss",
    title: "Go to a date and time (local, or ISO 8601 with a zone)",
    ariaLabel: "Go to date and time",
  });
  const go = () => {
    const ms = parseTyped(when.value);
    if (ms === null) {
      toast(`"${when.value}" is not a date and time: type YYYY-MM-DD hh:mm:ss`, "error");
      when.focus();
      return;
    }
    if (ms > Date.now()) {
      toast(`${fmtDateTime(ms)} is in the future`, "error");
      return;
    }
    onGoTo(ms);
  };
  when.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter") go();
  });
  const goButton = button("Go", "goto", "Play from this date and time", go);

  function show() {
    playPause.textContent = target.paused ? "▶" : "❚❚";
    playPause.title = target.paused ? "Play (space)" : "Pause (space)";
    playPause.dataset.action = target.paused ? "play" : "pause";
    speed.value = String(target.rate);
  }

  /** One speed step faster (+1) or slower (-1), through reverse. */
  function faster(direction) {
    const i = SPEEDS.indexOf(target.rate);
    const next = SPEEDS[Math.min(SPEEDS.length - 1, Math.max(0, i + direction))];
    target.setRate(next);
    show();
  }

  const el = h(
    "div",
    { class: "transport" },
    back,
    playPause,
    forward,
    speed,
    h("span", { class: "goto-box" }, when, goButton),
  );
  show();
  return {
    el,
    show,
    faster,
    focusGoTo: () => {
      const at = now();
      if (at !== null && !when.value) when.value = fmtDateTime(at);
      when.focus();
      when.select();
    },
  };
}
