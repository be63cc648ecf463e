// Keyboard shortcuts: the shell's, and each page's while it is shown. `?` lists them all
// in an overlay; Escape closes it. Keys typed into a field are the field's.

import { clear, h, typing } from "./util.js";

const groups = new Map(); // name -> [{keys, label, run}]
let overlay = null;

/**
 * Register a group of shortcuts: [{keys: ["Space"], label: "Play / pause", run(ev)}].
 * A key is KeyboardEvent.key ("f", "?", "ArrowLeft"); "Space" stands for " ".
 * Returns the function that removes them.
 */
export function shortcuts(name, list) {
  groups.set(name, list);
  if (overlay) render();
  return () => {
    if (groups.get(name) === list) groups.delete(name);
    if (overlay) render();
  };
}

function keyName(ev) {
  return ev.key === " " ? "Space" : ev.key;
}

function render() {
  clear(overlay.list);
  for (const [name, list] of groups) {
    overlay.list.append(h("h3", {}, name));
    const table = h("dl", { class: "keys" });
    for (const item of list) {
      table.append(
        h("dt", {}, item.keys.map((k) => h("kbd", {}, k === "Space" ? "space" : k))),
        h("dd", {}, item.label),
      );
    }
    overlay.list.append(table);
  }
}

export function toggleHelp(show = !overlay) {
  if (!show) {
    if (overlay) overlay.el.remove();
    overlay = null;
    return;
  }
  if (overlay) return;
  const list = h("div", { class: "keys-groups" });
  const close = h("button", { type: "button", class: "small", onclick: () => toggleHelp(false) }, "Close");
  const el = h(
    "div",
    { class: "help-overlay", role: "dialog", ariaLabel: "Keyboard shortcuts" },
    h("div", { class: "help-card" }, h("header", {}, h("h2", {}, "Keyboard shortcuts"), close), list),
  );
  el.addEventListener("click", (ev) => {
    if (ev.target === el) toggleHelp(false);
  });
  overlay = { el, list };
  render();
  document.body.append(el);
}

window.addEventListener("keydown", (ev) => {
  if (ev.defaultPrevented || ev.ctrlKey || ev.metaKey || ev.altKey || typing(ev)) return;
  const key = keyName(ev);
  if (key === "?") {
    toggleHelp();
    ev.preventDefault();
    return;
  }
  if (key === "Escape" && overlay) {
    toggleHelp(false);
    ev.preventDefault();
    return;
  }
  // The page's own keys first (the shell's are registered first, so walk backwards).
  for (const list of [...groups.values()].reverse()) {
    const item = list.find((i) => i.keys.includes(key));
    if (item) {
      ev.preventDefault();
      item.run(ev);
      return;
    }
  }
});
