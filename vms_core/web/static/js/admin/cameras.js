// Cameras: health, discovery scan with results to add, manual add, edit and remove of
// cameras added at run time (cameras from vms.toml are changed in the file).

import { api } from "../api.js";
import { health, refreshCameras, state } from "../store.js";
import { clear, fmtAgo, h, sleep, toast } from "../util.js";
import { section, table, twoStep } from "./ui.js";

const NAME_CHARS = /[^A-Za-z0-9_.-]+/g;

function nameFor(device) {
  const raw = (device.name || device.hardware || `cam-${device.address || "new"}`).replace(NAME_CHARS, "-");
  return raw.replace(/^[-_.]+/, "").slice(0, 64) || "camera";
}

function numberOrNull(input) {
  return input.value === "" ? null : Number(input.value);
}

export function camerasPage(root) {
  const holder = h("div", {});
  const results = h("div", { class: "scan-results" });

  function editor(camera) {
    const field = (name, value, type = "text") => h("input", { name, type, value: value ?? "", placeholder: name, step: type === "number" ? "any" : undefined });
    const onvif = field("onvif_url", camera.onvif_url);
    const username = field("username", camera.username);
    const password = h("input", { name: "password", type: "password", placeholder: camera.has_password ? "unchanged" : "password", autocomplete: "new-password" });
    const lat = field("lat", camera.lat, "number");
    const lon = field("lon", camera.lon, "number");
    const heading = field("heading", camera.heading, "number");
    const record = h("input", { type: "checkbox", name: "record", checked: camera.record });
    const enabled = h("input", { type: "checkbox", name: "enabled", checked: camera.enabled });
    const save = h("button", { type: "button", class: "small primary save" }, "Save");
    save.addEventListener("click", async () => {
      const change = { username: username.value, lat: numberOrNull(lat), lon: numberOrNull(lon), heading: numberOrNull(heading), record: record.checked, enabled: enabled.checked };
      if (camera.onvif_url && onvif.value) change.onvif_url = onvif.value;
      if (password.value) change.password = password.value;
      try {
        await api(`/api/cameras/${camera.id}`, { method: "PATCH", json: change });
        toast(`${camera.name} saved`, "ok");
        await load();
      } catch (err) {
        toast(err.message, "error", 6000);
      }
    });
    return h(
      "tr",
      { class: "editor", dataset: { camera: camera.id } },
      h("td", { colSpan: 6 }, h("div", { class: "row" }, camera.onvif_url ? onvif : null, username, password, lat, lon, heading, h("label", { class: "check" }, record, "Record"), h("label", { class: "check" }, enabled, "Enabled"), save)),
    );
  }

  async function load() {
    await refreshCameras();
    const rows = state.cameras.map((camera) => {
      const status = health(camera);
      const row = h("tr", { dataset: { camera: camera.id, name: camera.name } });
      const managed = camera.source !== "config";
      row.append(
        h("td", {}, h("a", { href: `#/camera/${camera.id}` }, camera.name), camera.has_ptz ? h("span", { class: "tag" }, "PTZ") : null),
        h("td", { class: "health-cell", title: camera.state_reason || "" }, h("span", { class: `dot ${status.cls}` }), ` ${status.label}`, camera.state_changed ? h("span", { class: "muted" }, ` · ${fmtAgo(Date.parse(camera.state_changed))}`) : null, camera.state_reason ? h("div", { class: "muted small-text" }, camera.state_reason) : null),
        h("td", {}, [camera.manufacturer, camera.model].filter(Boolean).join(" ") || "—"),
        h("td", { class: "muted" }, camera.onvif_url || (camera.streams[0] || {}).url || "—"),
        h("td", {}, camera.source === "config" ? "vms.toml" : camera.source, camera.record ? "" : " · not recording"),
        h(
          "td",
          { class: "actions" },
          managed
            ? [
                h("button", { type: "button", class: "small edit", onclick: () => (row.nextSibling && row.nextSibling.classList.contains("editor") ? row.nextSibling.remove() : row.after(editor(camera))) }, "Edit"),
                twoStep("Remove", "Confirm remove", async () => {
                  try {
                    await api(`/api/cameras/${camera.id}`, { method: "DELETE" });
                    toast(`${camera.name} removed (its recordings stay on disk)`, "ok", 6000);
                    await load();
                  } catch (err) {
                    toast(err.message, "error", 6000);
                  }
                }),
              ]
            : h("span", { class: "muted", title: "Change it in vms.toml and reload" }, "from vms.toml"),
        ),
      );
      return row;
    });
    clear(holder).append(table(["Camera", "Health", "Model", "Address", "Source", ""], rows, { empty: "No cameras" }));
  }

  function addForm(device) {
    const url = device.xaddrs[0];
    const name = h("input", { name: "name", value: nameFor(device), maxLength: 64, required: true });
    const username = h("input", { name: "username", placeholder: "Camera login", value: "admin" });
    const password = h("input", { name: "password", type: "password", placeholder: "Camera password", autocomplete: "new-password" });
    const add = h("button", { type: "button", class: "small primary add" }, "Add");
    add.addEventListener("click", async () => {
      add.disabled = true;
      try {
        const camera = await api("/api/cameras", { method: "POST", json: { name: name.value.trim(), onvif_url: url, username: username.value, password: password.value } });
        toast(`${camera.name} added`, "ok");
        add.replaceWith(h("span", { class: "added" }, `Added as ${camera.name}`));
        await load();
      } catch (err) {
        toast(err.message, "error", 6000);
        add.disabled = false;
      }
    });
    return h("div", { class: "row" }, name, username, password, add);
  }

  async function scan(body, button) {
    button.disabled = true;
    clear(results).append(h("div", { class: "muted" }, "Scanning…"));
    try {
      let job = await api("/api/discovery/scans", { method: "POST", json: body });
      const deadline = Date.now() + (body.timeout + 10) * 1000;
      while (job.status === "running" && Date.now() < deadline) {
        await sleep(400);
        job = await api(`/api/discovery/scans/${job.id}`);
      }
      const rows = job.devices.map((device) =>
        h(
          "tr",
          { dataset: { address: device.address || "" } },
          h("td", {}, device.name || "—"),
          h("td", {}, device.hardware || "—"),
          h("td", { class: "muted" }, device.xaddrs[0] || "—"),
          h("td", {}, device.camera_id ? h("a", { href: `#/camera/${device.camera_id}` }, "Already added") : addForm(device)),
        ),
      );
      clear(results).append(
        h("div", { class: "muted" }, job.status === "failed" ? `Scan failed: ${job.error}` : `${job.devices.length} found${job.rejected && job.rejected.length ? `, ${job.rejected.length} replies refused` : ""}`),
        table(["Name", "Hardware", "Address", ""], rows, { empty: "No camera answered" }),
      );
    } catch (err) {
      clear(results).append(h("div", { class: "sev-high" }, err.message));
    } finally {
      button.disabled = false;
    }
  }

  const multicast = h("input", { type: "checkbox", name: "multicast", checked: true });
  const ranges = h("input", { name: "ranges", placeholder: "Addresses or ranges, e.g. 10.0.4.0/24, 10.0.5.17" });
  const port = h("input", { name: "port", type: "number", value: 3702, min: 1, max: 65535, class: "port" });
  const scanButton = h("button", { type: "submit", class: "primary" }, "Scan");
  const scanForm = h("form", { class: "scan-form row" }, h("label", { class: "check" }, multicast, "Multicast"), ranges, h("label", {}, "Port ", port), scanButton);
  scanForm.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const list = ranges.value.split(/[\s,]+/).filter(Boolean);
    scan({ multicast: multicast.checked, ranges: list, port: Number(port.value) || 3702, timeout: 3 }, scanButton);
  });

  const manualName = h("input", { name: "name", placeholder: "Name (optional)" });
  const manualUrl = h("input", { name: "url", placeholder: "ONVIF host[:port] or rtsp://…", required: true });
  const manualUser = h("input", { name: "username", placeholder: "Login" });
  const manualPass = h("input", { name: "password", type: "password", placeholder: "Password", autocomplete: "new-password" });
  const manual = h("form", { class: "row manual-add" }, manualName, manualUrl, manualUser, manualPass, h("button", { type: "submit" }, "Add camera"));
  manual.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const url = manualUrl.value.trim();
    const body = { username: manualUser.value, password: manualPass.value };
    if (manualName.value.trim()) body.name = manualName.value.trim();
    if (url.startsWith("rtsp")) body.rtsp_url = url;
    else if (url.includes("://")) body.onvif_url = url;
    else body.address = url;
    try {
      const camera = await api("/api/cameras", { method: "POST", json: body });
      toast(`${camera.name} added`, "ok");
      manual.reset();
      await load();
    } catch (err) {
      toast(err.message, "error", 6000);
    }
  });

  root.append(section("Find cameras (ONVIF discovery)", scanForm, results), section("Add a camera by address", manual), section("Cameras", holder));
  load().catch((err) => toast(err.message, "error"));
}
