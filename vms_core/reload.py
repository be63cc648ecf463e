"""What a configuration reload applied, and what waits for a restart.

The server reads some sections once at start (listening address, database, storage paths,
ONVIF and WebRTC options); a change to them is reported, never silently ignored. Cameras,
rules, retention and plug-ins apply at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from vms_core.cameras import CameraChange
from vms_core.config import Settings

RESTART_SECTIONS = ("server", "database", "storage", "onvif", "webrtc", "demo")


@dataclass(frozen=True)
class ReloadReport:
    cameras: list[CameraChange] = field(default_factory=list)
    # Rule names by what happened to them.
    rules: dict[str, list[str]] = field(default_factory=dict)
    # Plug-ins whose [plugins.<name>] table changed (every plug-in is restarted anyway).
    plugins: list[str] = field(default_factory=list)
    retention_changed: bool = False
    restart_needed: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "changes": [
                {"kind": c.kind, "camera_id": c.camera_id, "name": c.name} for c in self.cameras
            ],
            "rules": self.rules,
            "plugins": self.plugins,
            "retention_changed": self.retention_changed,
            "restart_needed": self.restart_needed,
        }

    def audit_detail(self) -> dict[str, Any]:
        """The audit entry's detail: like ``as_json`` with cameras as "kind name" lines."""
        detail = self.as_json()
        del detail["changes"]
        detail["cameras"] = [f"{c.kind} {c.name}" for c in self.cameras]
        return detail

    def summary(self) -> str:
        parts = [f"camera {c.kind} {c.name}" for c in self.cameras]
        parts += [f"rule {kind} {name}" for kind, names in self.rules.items() for name in names]
        parts += [f"plug-in {name} reconfigured" for name in self.plugins]
        if self.retention_changed:
            parts.append("retention changed")
        if self.restart_needed:
            parts.append(f"needs a restart for [{'], ['.join(self.restart_needed)}]")
        return ", ".join(parts) or "nothing changed"


def compare(old: Settings, new: Settings, cameras: list[CameraChange]) -> ReloadReport:
    old_rules = {r.name: r for r in old.rules}
    new_rules = {r.name: r for r in new.rules}
    rules = {
        "added": sorted(new_rules.keys() - old_rules.keys()),
        "changed": sorted(
            n for n in new_rules.keys() & old_rules.keys() if new_rules[n] != old_rules[n]
        ),
        "removed": sorted(old_rules.keys() - new_rules.keys()),
    }
    plugins = sorted(
        name
        for name in old.plugins.keys() | new.plugins.keys()
        if old.plugins.get(name) != new.plugins.get(name)
    )
    return ReloadReport(
        cameras=cameras,
        rules={kind: names for kind, names in rules.items() if names},
        plugins=plugins,
        retention_changed=old.retention != new.retention,
        restart_needed=[s for s in RESTART_SECTIONS if getattr(new, s) != getattr(old, s)],
    )
