// `#/exports`: evidence packages: state while they are built, download, delete; and the
// fingerprint of the key that signs them (to check a package against).

import { api } from "./api.js";
import { fmtBytes, table, twoStep } from "./admin/ui.js";
import { state } from "./store.js";
import { clear, fmtDateTime, h, toast } from "./util.js";

const name = (id) => (state.cameras.find((c) => c.id === id) || { name: `#${id}` }).name;

export function exportsPage(root) {
  const holder = h("div", {});
  const key = h("span", { class: "fingerprint muted" });
  let timer = 0;
  let closed = false;

  async function load() {
    const jobs = await api("/api/exports");
    if (closed) return;
    clear(holder).append(
      table(
        ["Made", "By", "Cameras", "From", "To", "Reason", "State", ""],
        jobs.map((job) =>
          h(
            "tr",
            { dataset: { export: job.id, state: job.state } },
            h("td", {}, fmtDateTime(Date.parse(job.created))),
            h("td", {}, job.created_by),
            h("td", {}, job.cameras.map(name).join(", ")),
            h("td", {}, fmtDateTime(Date.parse(job.start))),
            h("td", {}, fmtDateTime(Date.parse(job.end))),
            h("td", { class: "reason-cell", title: job.reason }, job.reason),
            h(
              "td",
              { class: job.state === "failed" ? "sev-high" : "" },
              job.state === "running" ? `building ${Math.round(job.progress * 100)} %` : job.state,
              job.error ? h("div", { class: "small-text" }, job.error) : null,
              job.state === "done" ? h("div", { class: "muted small-text" }, fmtBytes(job.files.reduce((n, f) => n + (f.bytes || 0), 0))) : null,
            ),
            h(
              "td",
              { class: "actions" },
              job.package ? h("a", { class: "button small download", href: job.package, download: "" }, "Download") : null,
              job.state === "done" || job.state === "failed"
                ? twoStep("Delete", "Confirm delete", async () => {
                    try {
                      await api(`/api/exports/${job.id}`, { method: "DELETE" });
                      toast("Export deleted", "ok");
                      await load();
                    } catch (err) {
                      toast(err.message, "error", 6000);
                    }
                  })
                : null,
            ),
          ),
        ),
        { empty: "No exports yet: lock a range on a camera's timeline and export it." },
      ),
    );
    clearTimeout(timer);
    if (jobs.some((j) => j.state === "queued" || j.state === "running")) timer = setTimeout(() => load().catch(() => {}), 2000);
  }

  api("/api/exports/signing-key")
    .then((k) => (key.textContent = `Packages are signed with key ${k.fingerprint}`))
    .catch(() => {});
  root.append(h("div", { class: "admin-page exports-page" }, h("header", { class: "page-head" }, h("h2", {}, "Exports"), key), h("div", { class: "admin-body" }, h("section", { class: "panel admin-section" }, holder))));
  load().catch((err) => toast(err.message, "error"));
  return () => {
    closed = true;
    clearTimeout(timer);
  };
}
