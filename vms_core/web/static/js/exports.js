// The signed-in user's evidence exports, whatever page started them: the download link
// outlives the page. And the key that signs the packages, so an operator can tell a
// recipient which fingerprint to check.

import { api } from "./api.js";
import { state } from "./store.js";
import { clear, fmtClock, fmtDateTime, h } from "./util.js";

const SHOWN = 8;

function cameraNames(ids) {
  return ids.map((id) => (state.cameras.find((c) => c.id === id) || { name: `#${id}` }).name).join(", ");
}

function item(job) {
  const start = Date.parse(job.start);
  const what = `${cameraNames(job.cameras || [])} · ${fmtDateTime(start)}–${fmtClock(Date.parse(job.end))}`;
  const li = h("li", { class: `export export-${job.state}`, dataset: { export: job.id, state: job.state }, title: job.reason });
  const text = h("span", { class: "export-what" }, what);
  if (job.state === "done") {
    const size = (job.files || []).reduce((sum, f) => sum + (f.bytes || 0), 0);
    li.append(text, h("a", { href: job.package || `/api/exports/${job.id}/package`, download: "" }, `Download evidence package (${(size / 1e6).toFixed(1)} MB)`));
  } else if (job.state === "failed") {
    li.append(text, h("span", { class: "bad" }, `failed: ${job.error || "unknown error"}`));
  } else {
    li.append(text, h("span", { class: "muted" }, `${job.state} ${Math.round((job.progress || 0) * 100)}%`));
  }
  return li;
}

export function exportsPanel() {
  const list = h("ul", { class: "list exports" });
  const key = h("div", { class: "signing-key" });
  let timer = 0;
  let closed = false;

  async function refresh() {
    clearTimeout(timer);
    let jobs;
    try {
      jobs = await api("/api/exports");
    } catch (err) {
      clear(list).append(h("li", { class: "muted" }, `Exports: ${err.message}`));
      return;
    }
    if (closed) return;
    const mine = jobs
      .filter((j) => j.created_by === (state.me && state.me.username))
      .sort((a, b) => Date.parse(b.created) - Date.parse(a.created))
      .slice(0, SHOWN);
    clear(list);
    if (!mine.length) list.append(h("li", { class: "muted" }, "No exports yet"));
    for (const job of mine) list.append(item(job));
    // Follow the jobs still running; stop when none is.
    if (mine.some((j) => j.state === "queued" || j.state === "running")) timer = setTimeout(refresh, 1000);
  }

  api("/api/exports/signing-key")
    .then((k) => {
      key.replaceChildren("Packages are signed by key ", h("code", { class: "fingerprint" }, k.fingerprint));
      key.title = k.pem;
    })
    .catch((err) => (key.textContent = `Signing key: ${err.message}`));

  refresh();
  return {
    el: h("section", { class: "panel exports-panel" }, h("h3", {}, "Your exports"), list, key),
    refresh,
    close() {
      closed = true;
      clearTimeout(timer);
    },
  };
}
