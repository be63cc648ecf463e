// Users: accounts, roles, the cameras each may see, password resets (admins only).

import { api } from "../api.js";
import { state } from "../store.js";
import { clear, fmtDate, h, toast } from "../util.js";
import { section, table, twoStep } from "./ui.js";

const ROLES = ["viewer", "operator", "admin"];

/** Which cameras: "default" (new users only: [users] default_cameras), "all", or a list. */
function cameraChooser(current, { allowDefault = false } = {}) {
  const mode = h(
    "select",
    { class: "camera-mode" },
    allowDefault ? h("option", { value: "default" }, "Default cameras (vms.toml)") : null,
    h("option", { value: "all" }, "All cameras, also those added later"),
    h("option", { value: "some" }, "Only these cameras:"),
  );
  const boxes = state.cameras.map((c) =>
    h("label", { class: "check" }, h("input", { type: "checkbox", value: c.id, checked: Array.isArray(current) && current.includes(c.id) }), c.name),
  );
  const list = h("div", { class: "camera-checks" }, boxes);
  mode.value = allowDefault && current === undefined ? "default" : current === "all" ? "all" : "some";
  const show = () => (list.hidden = mode.value !== "some");
  mode.addEventListener("change", show);
  show();
  return {
    el: h("div", { class: "camera-chooser" }, mode, list),
    value() {
      if (mode.value === "default") return undefined;
      if (mode.value === "all") return "all";
      return boxes.map((b) => b.firstChild).filter((i) => i.checked).map((i) => Number(i.value));
    },
  };
}

function camerasText(cameras) {
  if (cameras === "all") return "All";
  if (!cameras.length) return "None";
  return cameras.map((id) => (state.cameras.find((c) => c.id === id) || { name: `#${id}` }).name).join(", ");
}

export function usersPage(root) {
  const holder = h("div", { class: "users-table" });
  let users = [];

  async function load() {
    users = await api("/api/users");
    render();
  }

  function editor(user, row) {
    const role = h("select", { class: "role" }, ROLES.map((r) => h("option", { value: r, selected: r === user.role }, r)));
    const disabled = h("input", { type: "checkbox", class: "disabled", checked: user.disabled });
    const cameras = cameraChooser(user.cameras);
    const save = h("button", { type: "button", class: "small primary save" }, "Save");
    save.addEventListener("click", async () => {
      const change = { role: role.value, disabled: disabled.checked };
      if (role.value !== "admin") change.cameras = cameras.value();
      try {
        await api(`/api/users/${user.id}`, { method: "PATCH", json: change });
        toast(`${user.username} saved`, "ok");
        await load();
      } catch (err) {
        toast(err.message, "error", 6000);
      }
    });
    return h("tr", { class: "editor", dataset: { user: user.id } }, h("td", { colSpan: 6 }, h("div", { class: "row" }, h("label", {}, "Role ", role), h("label", { class: "check" }, disabled, "Disabled"), cameras.el, save, h("button", { type: "button", class: "small", onclick: () => row.nextSibling.remove() }, "Cancel"))));
  }

  function resetter(user) {
    const password = h("input", { type: "password", class: "new-password", placeholder: "New password (8+ characters)", autocomplete: "new-password", minLength: 8 });
    const set = h("button", { type: "button", class: "small primary set-password" }, "Set password");
    set.addEventListener("click", async () => {
      if (password.value.length < 8) {
        toast("A password needs at least 8 characters", "error");
        return;
      }
      try {
        await api(`/api/users/${user.id}/password`, { method: "PUT", json: { password: password.value } });
        toast(`Password of ${user.username} reset; their sessions ended`, "ok");
        await load();
      } catch (err) {
        toast(err.message, "error", 6000);
      }
    });
    return h("tr", { class: "editor", dataset: { user: user.id } }, h("td", { colSpan: 6 }, h("div", { class: "row" }, password, set)));
  }

  function render() {
    const rows = users.map((user) => {
      const row = h("tr", { dataset: { user: user.id, username: user.username } });
      const open = (make) => {
        if (row.nextSibling && row.nextSibling.classList.contains("editor")) row.nextSibling.remove();
        row.after(make());
      };
      row.append(
        h("td", {}, user.username, user.id === (state.me && state.me.id) ? h("span", { class: "tag" }, "you") : null),
        h("td", {}, user.role),
        h("td", { class: "cameras" }, camerasText(user.cameras)),
        h("td", {}, user.disabled ? h("span", { class: "sev-high" }, "Disabled") : "Active"),
        h("td", {}, fmtDate(Date.parse(user.created))),
        h(
          "td",
          { class: "actions" },
          h("button", { type: "button", class: "small edit", onclick: () => open(() => editor(user, row)) }, "Edit"),
          h("button", { type: "button", class: "small reset", onclick: () => open(() => resetter(user)) }, "Reset password"),
          user.id === (state.me && state.me.id)
            ? null
            : twoStep("Delete", "Confirm delete", async () => {
                try {
                  await api(`/api/users/${user.id}`, { method: "DELETE" });
                  toast(`${user.username} deleted`, "ok");
                  await load();
                } catch (err) {
                  toast(err.message, "error", 6000);
                }
              }),
        ),
      );
      return row;
    });
    clear(holder).append(table(["User", "Role", "Cameras", "State", "Created", ""], rows, { empty: "No users" }));
  }

  const username = h("input", { name: "username", placeholder: "Username", required: true, maxLength: 64, autocomplete: "off" });
  const password = h("input", { name: "password", type: "password", placeholder: "Password (8+ characters)", required: true, minLength: 8, autocomplete: "new-password" });
  const role = h("select", { name: "role" }, ROLES.map((r) => h("option", { value: r, selected: r === "operator" }, r)));
  const cameras = cameraChooser(undefined, { allowDefault: true });
  const form = h("form", { class: "add-user" }, h("div", { class: "row" }, username, password, role, h("button", { type: "submit", class: "primary" }, "Add user")), cameras.el);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const body = { username: username.value.trim(), password: password.value, role: role.value };
    const chosen = cameras.value();
    if (chosen !== undefined && role.value !== "admin") body.cameras = chosen;
    try {
      const user = await api("/api/users", { method: "POST", json: body });
      toast(`${user.username} added: sees ${camerasText(user.cameras).toLowerCase()} cameras`, "ok", 6000);
      form.reset();
      await load();
    } catch (err) {
      toast(err.message, "error", 6000);
    }
  });
  root.append(section("Add a user", form), section("Users", holder));
  load().catch((err) => toast(err.message, "error"));
}
