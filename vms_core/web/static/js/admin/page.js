// `#/admin/<tab>`: the administration pages (admins only; the server checks it too).

import { h } from "../util.js";
import { auditPage } from "./audit.js";
import { camerasPage } from "./cameras.js";
import { pluginsPage } from "./plugins.js";
import { storagePage } from "./storage.js";
import { usersPage } from "./users.js";

export const ADMIN_TABS = [
  ["users", "Users", usersPage],
  ["cameras", "Cameras", camerasPage],
  ["storage", "Storage", storagePage],
  ["plugins", "Plug-ins", pluginsPage],
  ["audit", "Audit", auditPage],
];

export function adminPage(root, tab) {
  const found = ADMIN_TABS.find(([key]) => key === tab) || ADMIN_TABS[0];
  const body = h("div", { class: "admin-body" });
  root.append(
    h(
      "div",
      { class: "admin-page", dataset: { tab: found[0] } },
      h(
        "header",
        { class: "page-head" },
        h("h2", {}, "Administration"),
        h("nav", { class: "tabs" }, ADMIN_TABS.map(([key, label]) => h("a", { href: `#/admin/${key}`, class: key === found[0] ? "active" : "" }, label))),
      ),
      body,
    ),
  );
  return found[2](body);
}
