// Plug-ins (administrators): each one's state and why, its runner's figures, and the
// capabilities it asked for next to those it was granted. Refreshed every few seconds.

import { api } from "./api.js";
import { clear, h } from "./util.js";

const STATE_CLASS = {
  running: "ok",
  restarting: "warn",
  quarantined: "bad",
  failed: "bad",
  refused: "bad",
  disabled: "off",
  stopped: "off",
};

function mb(bytes) {
  return `${Math.round((bytes || 0) / 1048576)} MB`;
}

function row(plugin) {
  const health = plugin.health || {};
  const perms = plugin.permissions || { requested: [], granted: [], missing: [] };
  const missing = new Set(perms.missing);
  return h(
    "tr",
    { dataset: { plugin: plugin.name, state: plugin.state } },
    h("td", {}, h("span", { class: `dot ${STATE_CLASS[plugin.state] || "off"}` }), " ", plugin.name),
    h("td", {}, plugin.version || "-"),
    h("td", { class: "state" }, plugin.state, plugin.reason ? h("div", { class: "reason" }, plugin.reason) : null),
    h("td", {}, `${health.restarts || 0}`),
    h("td", {}, `${(health.cpu_seconds || 0).toFixed(1)} s · ${mb(health.rss_bytes)} · ${health.threads || 0} threads`),
    h(
      "td",
      { class: "permissions" },
      ...perms.requested.map((cap) => h("span", { class: missing.has(cap) ? "tag missing" : "tag" }, cap)),
      perms.missing.length ? h("div", { class: "reason" }, `not granted: ${perms.missing.join(", ")}`) : null,
    ),
  );
}

export function pluginsPage(root) {
  const body = h("tbody");
  const note = h("p", { class: "muted" });
  const table = h(
    "table",
    { class: "plugins" },
    h(
      "thead",
      {},
      h("tr", {}, ...["Plug-in", "Version", "State", "Restarts", "Runner", "Requested (grey: granted)"].map((t) => h("th", {}, t))),
    ),
    body,
  );
  let timer = null;

  async function refresh() {
    try {
      const plugins = await api("/api/plugins");
      clear(body);
      for (const plugin of plugins) body.append(row(plugin));
      note.textContent = plugins.length ? "" : "No plug-ins found.";
    } catch (err) {
      note.textContent = `Plug-ins: ${err.message}`;
    }
  }

  root.append(h("section", { class: "plugins-page" }, h("h2", {}, "Plug-ins"), note, table));
  refresh();
  timer = setInterval(refresh, 5000);
  return () => clearInterval(timer);
}
