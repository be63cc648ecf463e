// Storage: what each camera's recordings take (locked apart), the limits, retention's last
// pass, and the evidence locks (an admin may unlock one).

import { api } from "../api.js";
import { state } from "../store.js";
import { clear, fmtDateTime, h, toast } from "../util.js";
import { fmtBytes, section, table, twoStep } from "./ui.js";

const when = (iso) => (iso ? fmtDateTime(Date.parse(iso)) : "—");

export function storagePage(root) {
  const summary = h("div", { class: "storage-summary" });
  const cameras = h("div", {});
  const lastRun = h("div", { class: "last-run" });
  const locks = h("div", { class: "locks" });

  async function load() {
    const report = await api("/api/storage");
    const { disk, total, limits } = report;
    clear(summary).append(
      h(
        "dl",
        { class: "facts" },
        h("dt", {}, "Recordings"),
        h("dd", {}, `${fmtBytes(total.bytes)} in ${total.segments} segments, ${fmtBytes(total.locked_bytes)} locked`),
        h("dt", {}, "Disk"),
        h("dd", {}, `${fmtBytes(disk.free_bytes)} free of ${fmtBytes(disk.total_bytes)} (${disk.path})`),
        h("dt", {}, "Limits"),
        h("dd", {}, `${limits.max_days} days, ${limits.max_bytes ? fmtBytes(limits.max_bytes) : "no total byte limit"}, keep ${fmtBytes(limits.min_free_bytes)} free; a pass every ${limits.interval_seconds} s`),
      ),
    );
    clear(cameras).append(
      table(
        ["Camera", "Segments", "Size", "Locked", "Oldest", "Keep", ""],
        report.cameras.map((c) =>
          h(
            "tr",
            { dataset: { camera: c.id } },
            h("td", {}, c.name),
            h("td", {}, String(c.segments)),
            h("td", {}, fmtBytes(c.bytes)),
            h("td", {}, fmtBytes(c.locked_bytes)),
            h("td", {}, when(c.oldest)),
            h("td", {}, `${c.max_days} days${c.max_bytes ? `, ${fmtBytes(c.max_bytes)}` : ""}`),
            h("td", {}, h("div", { class: "bar", title: "locked share" }, h("span", { class: "bar-fill" }))),
          ),
        ),
        { empty: "No cameras" },
      ),
    );
    // Width via the DOM property: inline style attributes are refused by the page's CSP.
    for (const [index, c] of report.cameras.entries()) {
      const fill = cameras.querySelectorAll(".bar-fill")[index];
      if (fill) fill.style.width = `${c.bytes ? Math.round((100 * c.locked_bytes) / c.bytes) : 0}%`;
    }
    const run = report.last_run;
    clear(lastRun).append(
      run
        ? h(
            "dl",
            { class: "facts" },
            h("dt", {}, "Last pass"),
            h("dd", {}, `${when(run.started)} (${run.reason}), ${run.seconds} s`),
            h("dt", {}, "Deleted"),
            h("dd", {}, `${run.segments_deleted} segments, ${fmtBytes(run.bytes_freed)} freed`),
            run.unmet && run.unmet.length ? [h("dt", {}, "Not met"), h("dd", { class: "sev-high" }, run.unmet.join("; "))] : null,
            run.errors && run.errors.length ? [h("dt", {}, "Errors"), h("dd", { class: "sev-high" }, run.errors.join("; "))] : null,
          )
        : h("div", { class: "muted" }, "Retention has not run yet."),
    );
    const marks = await api("/api/bookmarks?locked=true&limit=500");
    const name = (id) => (state.cameras.find((c) => c.id === id) || { name: `#${id}` }).name;
    clear(locks).append(
      table(
        ["Camera", "From", "To", "Reason", "By", "Ends", ""],
        marks.map((m) =>
          h(
            "tr",
            { dataset: { bookmark: m.id } },
            h("td", {}, name(m.camera_id)),
            h("td", {}, when(m.start)),
            h("td", {}, when(m.end)),
            h("td", { class: "reason-cell", title: m.reason }, m.reason),
            h("td", {}, m.created_by),
            h("td", {}, m.lock_expires ? when(m.lock_expires) : "never"),
            h(
              "td",
              {},
              twoStep("Unlock", "Confirm unlock", async () => {
                try {
                  await api(`/api/bookmarks/${m.id}`, { method: "PATCH", json: { locked: false } });
                  toast("Unlocked: retention may now delete that recording", "ok", 6000);
                  await load();
                } catch (err) {
                  toast(err.message, "error", 6000);
                }
              }),
            ),
          ),
        ),
        { empty: "No locked evidence" },
      ),
    );
  }

  root.append(section("Storage", summary), section("Retention", lastRun), section("Per camera", cameras), section("Evidence locks", locks));
  load().catch((err) => toast(err.message, "error"));
}
