// Audit: who did what, when, from where; searched by action, user and time.

import { api, query } from "../api.js";
import { clear, fmtDateTime, h, toast } from "../util.js";
import { localIso, section, table } from "./ui.js";

export function auditPage(root) {
  const action = h("input", { name: "action", placeholder: "Action, e.g. alarm.acknowledge" });
  const username = h("input", { name: "username", placeholder: "User" });
  const since = h("input", { name: "since", type: "datetime-local", step: 1 });
  const until = h("input", { name: "until", type: "datetime-local", step: 1 });
  const holder = h("div", { class: "audit-results" });
  const form = h("form", { class: "row audit-search" }, action, username, h("label", {}, "From ", since), h("label", {}, "to ", until), h("button", { type: "submit", class: "primary" }, "Search"));

  async function load() {
    const entries = await api(`/api/audit${query({ action: action.value.trim(), username: username.value.trim(), since: localIso(since.value), until: localIso(until.value), limit: 500 })}`);
    clear(holder).append(
      table(
        ["Time", "User", "Action", "Target", "Result", "From", "Detail"],
        entries.map((e) =>
          h(
            "tr",
            { dataset: { action: e.action } },
            h("td", {}, fmtDateTime(Date.parse(e.time))),
            h("td", {}, e.username || "—"),
            h("td", {}, e.action),
            h("td", {}, e.target || ""),
            h("td", { class: e.success ? "" : "sev-high" }, e.success ? "ok" : "FAILED"),
            h("td", { class: "muted" }, e.remote || ""),
            h("td", { class: "detail-cell" }, Object.keys(e.detail || {}).length ? JSON.stringify(e.detail) : ""),
          ),
        ),
        { empty: "No matching entries" },
      ),
    );
  }

  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    load().catch((err) => toast(err.message, "error", 6000));
  });
  root.append(section("Audit log", form, holder));
  load().catch((err) => toast(err.message, "error"));
}
