"""`vms plugins list [--json]`: what the configuration would load, without a server.

Discovers plug-ins exactly as the server does (entry points, ``[plugin_host] dirs``),
imports the enabled ones, checks their API version and runs their ``vms_configure`` on
their ``[plugins.<name>]`` table; nothing is started. A refused plug-in is shown with
the reason (``plugins.shotalert.secret: ...``). For live health, ``GET /api/plugins``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from vms_sdk import Bookmark, Camera, Event, Notification

from vms_core.commands import Handler
from vms_core.commands.settings import config_path, load_or_exit


def register(sub: Any, common: argparse.ArgumentParser) -> dict[str, Handler]:
    parser = sub.add_parser(
        "plugins", parents=[common], help="list the plug-ins the configuration would load"
    )
    actions = parser.add_subparsers(dest="plugins_command")
    listing = actions.add_parser("list", parents=[common], help="list plug-ins (the default)")
    for p in (parser, listing):
        p.add_argument("--json", action="store_true", help="print the list as JSON")
    return {"plugins": cmd_plugins}


def cmd_plugins(args: argparse.Namespace) -> int:
    from vms_core.plugins.host import read_live_status

    settings = load_or_exit(config_path(args))
    live = read_live_status(settings)
    if live is not None:  # the running server's view: what it marked, with the reason
        rows = [{**row, "live": True} for row in live["plugins"]]
        heading = f"live state of the running server (pid {live['pid']})"
    else:
        rows = asyncio.run(discover(settings))
        heading = ""
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        if heading:
            print(heading)
        print(format_table(rows))
    return 0


async def discover(settings: Any) -> list[dict[str, Any]]:
    """Load (not start) every plug-in as the server would; their status as dicts."""
    from vms_core.plugins.host import manager_for

    manager = manager_for(settings, OfflineServices(Path(tempfile.mkdtemp(prefix="vms-list-"))))
    await manager.load()
    rows = []
    for status in manager.list():
        row = status.as_dict()
        if row["state"] == "loaded":
            row["state"] = "ready"  # would start with the server
        rows.append(row)
    await manager.stop()
    return rows


def format_table(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "no plug-ins found (entry points in 'vms.plugins', or [plugin_host] dirs)"
    head = ("NAME", "VERSION", "STATE", "SOURCE")
    table = [head] + [(r["name"], r["version"] or "-", r["state"], r["source"]) for r in rows]
    widths = [max(len(line[i]) for line in table) for i in range(3)]
    lines = []
    for line, row in zip(table, [None, *rows], strict=True):
        cells = [line[i].ljust(widths[i]) for i in range(3)]
        lines.append("  ".join([*cells, line[3]]).rstrip())
        if row is None:
            continue
        if row["reason"]:
            lines.append(f"    {row['reason']}")
        perms = row.get("permissions") or {}
        if perms.get("requested") or perms.get("granted"):
            text = f"    requests: {', '.join(perms.get('requested') or ['-'])}"
            text += f"; granted: {', '.join(perms.get('granted') or ['-'])}"
            if perms.get("missing"):
                text += f"; NOT granted: {', '.join(perms['missing'])}"
            lines.append(text)
    return "\n".join(lines)


class OfflineServices:
    """``HostServices`` for loading without a server: no plug-in is started, so none of
    these is called; each says so if one ever is."""

    public_base_url = ""

    def __init__(self, data_dir: Path) -> None:
        self._data_dir = data_dir

    @property
    def data_dir(self) -> Path:
        return self._data_dir

    def list_cameras(self) -> Sequence[Camera]:
        return ()

    async def publish_event(self, event: Event) -> Event:
        raise RuntimeError("the server is not running")

    async def create_bookmark(
        self,
        camera_ids: Sequence[str],
        start: datetime,
        end: datetime,
        reason: str,
        lock: bool,
        created_by: str,
        event_id: str | None = None,
    ) -> Bookmark:
        raise RuntimeError("the server is not running")

    async def snapshot(self, camera_id: str) -> bytes | None:
        return None

    async def send_notification(self, notification: Notification, sender: str) -> None:
        raise RuntimeError("the server is not running")

    async def ptz_goto_preset(self, camera_id: str, preset: str) -> None:
        raise RuntimeError("the server is not running")

    async def kv_load(self, plugin: str) -> Mapping[str, Any]:
        return {}

    async def kv_set(self, plugin: str, key: str, value: Any) -> None:
        raise RuntimeError("the server is not running")

    async def kv_delete(self, plugin: str, key: str) -> None:
        raise RuntimeError("the server is not running")
