// `#/lpr`: plate reads searched by plate, camera and time, and the hotlists (the LPR
// plug-in's routes under /api/plugins/lpr/).

import { api, query } from "./api.js";
import { localIso, section, table, twoStep } from "./admin/ui.js";
import { state } from "./store.js";
import { clear, fmtDateTime, h, toast } from "./util.js";

const BASE = "/api/plugins/lpr";
const name = (id) => (state.cameras.find((c) => String(c.id) === String(id)) || { name: `#${id}` }).name;

function unavailable(err) {
  return err.status === 404 || err.status === 503;
}

export function lprPage(root) {
  const operator = state.me && state.me.role !== "viewer";
  const plate = h("input", { name: "plate", placeholder: "Plate (partial, fuzzy)" });
  const camera = h("select", { name: "camera" }, h("option", { value: "" }, "All cameras"), state.cameras.map((c) => h("option", { value: c.id }, c.name)));
  const since = h("input", { name: "since", type: "datetime-local", step: 1 });
  const until = h("input", { name: "until", type: "datetime-local", step: 1 });
  const reads = h("div", { class: "lpr-reads" });
  const hotlist = h("div", { class: "lpr-hotlist" });
  const search = h("form", { class: "row lpr-search" }, plate, camera, h("label", {}, "From ", since), h("label", {}, "to ", until), h("button", { type: "submit", class: "primary" }, "Search"));

  async function loadReads() {
    const found = await api(`${BASE}/reads${query({ plate: plate.value.trim(), camera: camera.value, since: localIso(since.value), until: localIso(until.value), limit: 200 })}`);
    clear(reads).append(
      table(
        ["Time", "Plate", "Camera", "Confidence", "Seen", "Picture"],
        found.reads.map((r) =>
          h(
            "tr",
            { dataset: { read: r.id, plate: r.plate } },
            h("td", {}, fmtDateTime(Date.parse(r.time))),
            h("td", { class: "plate" }, r.plate, r.match && r.match !== "exact" ? h("span", { class: "muted" }, ` (${r.match})`) : null),
            h("td", {}, name(r.camera)),
            h("td", {}, `${Math.round(r.confidence * 100)} %`),
            h("td", {}, `${r.sightings}×`),
            h("td", {}, r.has_crop ? h("img", { class: "crop", src: `${BASE}/reads/${encodeURIComponent(r.id)}/crop`, alt: r.plate }) : ""),
          ),
        ),
        { empty: "No reads" },
      ),
    );
  }

  async function loadHotlist() {
    const found = await api(`${BASE}/hotlists`);
    clear(hotlist).append(
      table(
        ["List", "Plate", "Reason", "From", ""],
        found.entries.map((e) =>
          h(
            "tr",
            { dataset: { plate: e.plate, list: e.list } },
            h("td", {}, e.list),
            h("td", { class: "plate" }, e.plate),
            h("td", {}, e.reason),
            h("td", { class: "muted" }, e.origin),
            h(
              "td",
              {},
              operator
                ? twoStep("Remove", "Confirm remove", async () => {
                    try {
                      await api(`${BASE}/hotlists/${encodeURIComponent(e.list)}/${encodeURIComponent(e.plate)}`, { method: "DELETE" });
                      await loadHotlist();
                    } catch (err) {
                      toast(err.message, "error", 6000);
                    }
                  })
                : null,
            ),
          ),
        ),
        { empty: "No plates on any hotlist" },
      ),
    );
  }

  const listName = h("input", { name: "list", placeholder: "List, e.g. stolen", required: true, maxLength: 64 });
  const listPlate = h("input", { name: "hot_plate", placeholder: "Plate", required: true, maxLength: 64 });
  const reason = h("input", { name: "reason", placeholder: "Reason", maxLength: 500 });
  const add = h("form", { class: "row hotlist-add" }, listName, listPlate, reason, h("button", { type: "submit" }, "Add to hotlist"));
  add.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      await api(`${BASE}/hotlists/${encodeURIComponent(listName.value.trim())}`, { method: "POST", json: { plate: listPlate.value, reason: reason.value } });
      listPlate.value = "";
      reason.value = "";
      await loadHotlist();
    } catch (err) {
      toast(err.message, "error", 6000);
    }
  });
  search.addEventListener("submit", (ev) => {
    ev.preventDefault();
    loadReads().catch((err) => toast(err.message, "error", 6000));
  });

  const body = h("div", { class: "admin-body" });
  root.append(h("div", { class: "admin-page lpr-page" }, h("header", { class: "page-head" }, h("h2", {}, "Licence plates")), body));
  Promise.all([loadReads(), loadHotlist()])
    .then(() => body.append(section("Plate reads", search, reads), section("Hotlists", operator ? add : null, hotlist)))
    .catch((err) => body.append(h("div", { class: "empty" }, unavailable(err) ? "Plate reading is not running on this server (the lpr plug-in is off)." : err.message)));
}
