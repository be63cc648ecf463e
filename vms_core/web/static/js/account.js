// `#/account`: every user changes their own password here (the first-start admin
// password is meant to be changed at once).

import { api } from "./api.js";
import { state } from "./store.js";
import { h, toast } from "./util.js";

const MIN_PASSWORD_CHARS = 8; // the server's rule (vms_core.accounts)

export function accountPage(root) {
  const current = h("input", { type: "password", name: "current_password", autocomplete: "current-password", required: true });
  const fresh = h("input", { type: "password", name: "new_password", autocomplete: "new-password", required: true, minLength: MIN_PASSWORD_CHARS });
  const again = h("input", { type: "password", name: "confirm_password", autocomplete: "new-password", required: true });
  const message = h("div", { class: "form-message", role: "status" });
  const submit = h("button", { type: "submit", class: "primary" }, "Change password");
  const form = h(
    "form",
    { class: "panel form account-form" },
    h("h3", {}, "Change my password"),
    h("label", {}, "Current password", current),
    h("label", {}, `New password (at least ${MIN_PASSWORD_CHARS} characters)`, fresh),
    h("label", {}, "New password again", again),
    message,
    submit,
    h("p", { class: "muted" }, "This browser stays signed in; your other sessions end and your API tokens stop working."),
  );
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    message.className = "form-message";
    if (fresh.value !== again.value) {
      message.textContent = "The new passwords differ.";
      message.classList.add("error");
      return;
    }
    submit.disabled = true;
    try {
      await api("/api/auth/password", { method: "PUT", json: { current_password: current.value, new_password: fresh.value } });
      form.reset();
      message.textContent = "Password changed.";
      message.classList.add("ok");
      toast("Password changed", "ok");
    } catch (err) {
      message.textContent = err.message;
      message.classList.add("error");
    } finally {
      submit.disabled = false;
    }
  });
  const me = state.me || {};
  root.append(
    h(
      "div",
      { class: "admin-page account-page" },
      h("header", { class: "page-head" }, h("h2", {}, "My account"), h("span", { class: "muted" }, `${me.username} · ${me.role}`)),
      h("div", { class: "admin-body" }, form),
    ),
  );
}
