// The login form. The session cookie is HttpOnly; the page only learns who logged in.

import { api } from "./api.js";
import { h } from "./util.js";

export function loginPage(root, onLoggedIn) {
  const username = h("input", { name: "username", autocomplete: "username", required: true, autofocus: true });
  const password = h("input", { name: "password", type: "password", autocomplete: "current-password", required: true });
  const error = h("div", { class: "login-error", role: "alert" });
  const submit = h("button", { type: "submit", class: "primary" }, "Sign in");
  const form = h(
    "form",
    { class: "login-card" },
    h("div", { class: "brand big" }, h("span", { class: "brand-mark" }), "VMS"),
    h("p", { class: "muted" }, "Real-time crime center · operator console"),
    h("label", {}, "Username", username),
    h("label", {}, "Password", password),
    error,
    submit,
  );
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    error.textContent = "";
    submit.disabled = true;
    try {
      const me = await api("/api/auth/login", { method: "POST", json: { username: username.value, password: password.value } });
      onLoggedIn(me);
    } catch (err) {
      error.textContent = err.status === 401 ? "Wrong username or password." : err.message;
      password.select();
    } finally {
      submit.disabled = false;
    }
  });
  root.append(h("div", { class: "login-page" }, form));
  username.focus();
}
