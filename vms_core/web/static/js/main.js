// The app shell: login, top bar, camera list, events rail, and a hash router over pages.

import { accountPage } from "./account.js";
import { adminPage } from "./admin/page.js";
import { alarmBadge, alarmsPage, startAlarms } from "./alarms.js";
import { api } from "./api.js";
import { cameraPage } from "./camera.js";
import { eventsPage, eventsRail } from "./events.js";
import { exportsPage } from "./exports_page.js";
import { gridPage } from "./grid.js";
import { incidentPage } from "./incident.js";
import { loginPage } from "./login.js";
import { lprPage } from "./lpr.js";
import { planPage } from "./plan.js";
import { pluginsPage } from "./plugins.js";
import { popoutPage } from "./popout.js";
import { shortcuts, toggleHelp } from "./shortcuts.js";
import { cameraList } from "./sidebar.js";
import { startStore, state, stopStore } from "./store.js";
import { clear, fmtClock, fmtDate, h } from "./util.js";

const app = document.getElementById("app");
let main = null;
let unmount = () => {};

const ROUTES = [
  // `#/cameras/<id>?t=<ISO time>` too: the form chat alerts and other tools link to.
  [/^#\/cameras?\/(\d+)(?:\?t=([^&]+))?$/, (root, m) => cameraPage(root, { id: Number(m[1]), t: m[2] })],
  [/^#\/incident\/(.+)$/, (root, m) => incidentPage(root, { id: decodeURIComponent(m[1]) })],
  [/^#\/plan$/, (root) => planPage(root)],
  [/^#\/events$/, (root) => eventsPage(root)],
  [/^#\/plugins$/, (root) => pluginsPage(root)],
  [/^#\/alarms$/, (root) => alarmsPage(root)],
  [/^#\/exports$/, (root) => exportsPage(root)],
  [/^#\/lpr$/, (root) => lprPage(root)],
  [/^#\/account$/, (root) => accountPage(root)],
  [/^#\/admin(?:\/(\w+))?$/, (root, m) => adminPage(root, m[1])],
  [/^#\/(?:grid)?(?:\?t=(\d+))?$/, (root, m) => gridPage(root, { t: m[1] ? Number(m[1]) : null })],
];
// A tile popped out of the wall: its own window, without the shell.
const POPOUT = /^#\/tile\/(\d+)(?:\?t=(\d+))?$/;

function route() {
  if (!main) return;
  unmount();
  clear(main);
  const hash = location.hash || "#/";
  const popout = hash.match(POPOUT);
  if (popout) {
    unmount = popoutPage(main, { id: Number(popout[1]), t: popout[2] });
    return;
  }
  for (const a of document.querySelectorAll(".nav a")) a.classList.toggle("active", hash.startsWith(a.getAttribute("href")));
  for (const [pattern, page] of ROUTES) {
    const m = hash.match(pattern);
    if (m) {
      unmount = page(main, m) || (() => {});
      return;
    }
  }
  main.append(h("div", { class: "empty" }, "Page not found."));
  unmount = () => {};
}

function clock() {
  const node = h("div", { class: "clock" });
  const tick = () => (node.textContent = `${fmtDate(Date.now())} ${fmtClock(Date.now())}`);
  tick();
  setInterval(tick, 1000);
  return node;
}

async function logout() {
  // Stop the pages before the session ends: a page still routing or loading meanwhile would
  // ask the server with a session that is about to be gone (a 401 the operator never caused).
  stopStore();
  unmount();
  unmount = () => {};
  main = null;
  try {
    await api("/api/auth/logout", { method: "POST" });
  } catch {
    /* the session may already be gone */
  }
  showLogin();
}

function showShell(me) {
  state.me = me;
  unmount();
  clear(app);
  main = h("main", { class: "content" });
  if (POPOUT.test(location.hash)) {
    app.classList.add("popout-window");
    app.append(main);
    route();
    return;
  }
  const nav = h(
    "nav",
    { class: "nav" },
    h("a", { href: "#/grid" }, "Video wall"),
    h("a", { href: "#/plan" }, "Plan"),
    h("a", { href: "#/events" }, "Events"),
    h("a", { href: "#/alarms" }, "Alarms", alarmBadge()),
    me.role === "viewer" ? null : h("a", { href: "#/exports" }, "Exports"),
    h("a", { href: "#/lpr" }, "Plates"),
    me.role === "admin" ? h("a", { href: "#/admin" }, "Admin") : null,
  );
  app.append(
    h(
      "header",
      { class: "topbar" },
      h("div", { class: "brand" }, h("span", { class: "brand-mark" }), "VMS"),
      nav,
      h("span", { class: "spacer" }),
      clock(),
      h("button", { type: "button", class: "small help-button", title: "Keyboard shortcuts (?)", onclick: () => toggleHelp() }, "?"),
      h("a", { class: "user", href: "#/account", title: "My account: change my password" }, `${me.username} · ${me.role}`),
      h("button", { type: "button", class: "small", onclick: logout }, "Sign out"),
    ),
    h("div", { class: "body" }, cameraList(), main, eventsRail()),
  );
  route();
}

async function showLogin() {
  stopStore();
  unmount();
  unmount = () => {};
  main = null;
  clear(app);
  loginPage(app, async (me) => {
    await startStore();
    await startAlarms();
    showShell(me);
  });
}

window.addEventListener("hashchange", route);
shortcuts("Anywhere", [
  { keys: ["?"], label: "This list", run: () => toggleHelp() },
  { keys: ["w"], label: "Video wall", run: () => (location.hash = "#/grid") },
  { keys: ["n"], label: "Plan (map)", run: () => (location.hash = "#/plan") },
  { keys: ["e"], label: "Events", run: () => (location.hash = "#/events") },
]);
window.addEventListener("vms:unauthorized", () => {
  if (main) showLogin();
});

async function boot() {
  try {
    const me = await api("/api/auth/me");
    await startStore();
    await startAlarms();
    showShell(me);
  } catch {
    showLogin();
  }
}

boot();
