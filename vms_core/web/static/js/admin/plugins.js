// Plug-ins: each one's state, the reason it is refused or failed (settings errors name
// the key), its health counters, restarting one plug-in (a quarantined one gets another
// chance), and reloading vms.toml (which restarts the plug-ins whose settings changed).

import { api } from "../api.js";
import { clear, fmtDateTime, h, toast } from "../util.js";
import { section, table } from "./ui.js";

const STATE_CLASS = { running: "ok", loaded: "ok", disabled: "idle", stopped: "idle", stopping: "idle", restarting: "warn", unhealthy: "warn", quarantined: "bad", refused: "bad", failed: "bad" };

export function pluginsPage(root) {
  const holder = h("div", {});
  const report = h("div", { class: "reload-report muted" });

  async function load() {
    const plugins = await api("/api/plugins");
    clear(holder).append(
      table(
        ["Plug-in", "Version", "State", "Why", "Calls", "Errors", "Last error", ""],
        plugins.map((p) =>
          h(
            "tr",
            { dataset: { plugin: p.name, state: p.state } },
            h("td", { title: p.source }, p.name, h("div", { class: "muted small-text" }, p.description || "")),
            h("td", {}, p.version),
            h("td", {}, h("span", { class: `dot ${STATE_CLASS[p.state] || "idle"}` }), ` ${p.state}`),
            h("td", { class: "reason-cell" }, p.reason || ""),
            h("td", {}, String(p.health ? p.health.calls : 0)),
            h("td", {}, p.health ? `${p.health.errors} (${p.health.timeouts} timeouts)` : "0"),
            h("td", { class: "reason-cell" }, p.health && p.health.last_error ? `${p.health.last_error} · ${fmtDateTime(Date.parse(p.health.last_error_at))}` : ""),
            h("td", {}, p.state === "disabled" ? null : restartButton(p.name)),
          ),
        ),
        { empty: "No plug-ins found" },
      ),
    );
  }

  function restartButton(name) {
    const button = h("button", { type: "button", class: "small restart", title: `Restart ${name}: its runner starts again, its health counters reset` }, "Restart");
    button.addEventListener("click", async () => {
      button.disabled = true;
      try {
        const p = await api("/api/plugin-restarts", { method: "POST", json: { plugin: name } });
        toast(`${name}: ${p.state}${p.reason ? ` (${p.reason})` : ""}`, p.state === "running" ? "info" : "error");
        await load();
      } catch (err) {
        toast(err.message, "error", 8000);
        button.disabled = false;
      }
    });
    return button;
  }

  const reload = h("button", { type: "button", class: "primary reload" }, "Reload vms.toml");
  reload.addEventListener("click", async () => {
    reload.disabled = true;
    try {
      const result = await api("/api/config/reload", { method: "POST" });
      const changed = result.plugins && result.plugins.length ? `restarted: ${result.plugins.join(", ")}` : "no plug-in settings changed";
      report.textContent = `Reloaded: ${changed}${result.restart_needed.length ? `; needs a restart for [${result.restart_needed.join("], [")}]` : ""}`;
      await load();
    } catch (err) {
      report.textContent = err.message;
      toast(err.message, "error", 8000);
    } finally {
      reload.disabled = false;
    }
  });
  const refresh = h("button", { type: "button", onclick: () => load().catch((err) => toast(err.message, "error")) }, "Refresh");
  // Each runner's restarts, CPU and memory, and the permissions asked for and granted.
  const details = h("a", { href: "#/plugins", class: "details-link" }, "Runners and permissions");
  root.append(section("Plug-ins", h("div", { class: "row" }, reload, refresh, details, report), holder));
  load().catch((err) => toast(err.message, "error"));
}
