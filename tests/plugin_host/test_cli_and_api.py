"""`vms plugins list` without a server, and who may see `GET /api/plugins`."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.conftest import bearer
from tests.eventually import eventually
from tests.plugin_host.conftest import write_plugin

PICKY = """
    from vms_sdk import ConfigError, PluginInfo, hookimpl

    @hookimpl
    def vms_plugin_info():
        return PluginInfo("picky", "2.0.1", "1.0", "needs a token")

    @hookimpl
    def vms_configure(config):
        if not config.get("token"):
            raise ConfigError("token", "required")
"""
FUTURE = """
    from vms_sdk import PluginInfo, hookimpl

    @hookimpl
    def vms_plugin_info():
        return PluginInfo("future", "9.0.0", "2.0")
"""
FINE = """
    from vms_sdk import PluginInfo, hookimpl

    @hookimpl
    def vms_plugin_info():
        return PluginInfo("fine", "1.0.0", "1.0", "does nothing")
"""
NAMES = "picky,future,fine,off"


def plugin_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "plugins"
    for name, source in [("picky", PICKY), ("future", FUTURE), ("fine", FINE), ("off", FINE)]:
        write_plugin(folder, name, source)
    return folder


def test_plugins_list_reports_what_would_load_and_why_not(tmp_path: Path) -> None:
    folder = plugin_folder(tmp_path)
    config = tmp_path / "vms.toml"
    config.write_text(
        f'[server]\ndata_dir = "data"\n[plugin_host]\ndirs = ["{folder}"]\n'
        "[plugins.off]\nenabled = false\n"
    )
    command = [sys.executable, "-m", "vms_core.cli", "plugins", "list", "--config", str(config)]
    env = {**os.environ, "VMS_PLUGINS": NAMES}
    done = subprocess.run([*command, "--json"], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    rows = {row["name"]: row for row in json.loads(done.stdout)}
    assert rows["fine"]["state"] == "ready" and rows["fine"]["version"] == "1.0.0"
    assert rows["fine"]["source"] == str(folder / "fine.py")
    assert rows["picky"]["state"] == "refused"
    assert rows["picky"]["reason"] == "plugins.picky.token: required"
    assert rows["future"]["state"] == "refused"
    assert "2.0" in rows["future"]["reason"]
    assert rows["off"]["state"] == "disabled"

    table = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].split() == ["NAME", "VERSION", "STATE", "SOURCE"]
    picky = next(i for i, line in enumerate(lines) if line.startswith("picky "))
    assert lines[picky + 1].strip() == "plugins.picky.token: required"


@pytest.mark.allow_error_logs(
    "plug-in \\S+ \\(.*\\) refused", reason="refusing a broken plug-in is what the test checks"
)
async def test_plugin_list_is_for_administrators_and_routes_need_a_login(
    tmp_path: Path,
    make_server: Callable[..., Any],
    http: aiohttp.ClientSession,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("VMS_PLUGINS", NAMES)
    folder = plugin_folder(tmp_path)
    srv = await make_server(
        f'\n[plugin_host]\ndirs = ["{folder}"]\n[plugins.picky]\ntoken = "t0k3n"\n'
        "[plugins.off]\nenabled = false\n"
    )
    viewer = await srv.token("vera", "viewer")
    async with http.get(srv.url + "/api/plugins", headers=bearer(viewer)) as r:
        assert r.status == 403
    async with http.get(srv.url + "/api/plugins") as r:
        assert r.status == 401
    async with http.get(srv.url + "/api/plugins", headers=bearer(await srv.admin_token())) as r:
        states = {p["name"]: p["state"] for p in await r.json()}
    assert states == {"picky": "running", "fine": "running", "future": "refused", "off": "disabled"}
    # One plug-in by name: the same entry; an unknown name is a JSON 404 naming it.
    admin = bearer(await srv.admin_token())
    async with http.get(srv.url + "/api/plugins/fine", headers=admin) as r:
        one = await r.json()
        assert r.status == 200 and one["name"] == "fine" and one["state"] == "running"
        assert one["health"]["warnings"] == [] and "cameras" in one["frames"]
    async with http.get(srv.url + "/api/plugins/ghost", headers=admin) as r:
        assert r.status == 404 and "ghost" in (await r.json())["error"]["message"]
    async with http.get(srv.url + "/api/plugins/fine", headers=bearer(viewer)) as r:
        assert r.status == 403

    # Below a plug-in's prefix: a login first, then the plug-in's own answer.
    async with http.get(srv.url + "/api/plugins/fine/nothing/here") as r:
        assert r.status == 401
    async with http.get(srv.url + "/api/plugins/fine/nothing/here", headers=bearer(viewer)) as r:
        assert r.status == 404
        assert "no such route" in (await r.json())["error"]["message"]
    async with http.get(srv.url + "/api/plugins/ghost/x", headers=bearer(viewer)) as r:
        assert r.status == 404
    # Any other untabled /api path stays a 404.
    async with http.get(srv.url + "/api/pluginsx/fine/x", headers=bearer(viewer)) as r:
        assert r.status == 404


BROKEN = """
    from vms_sdk import PluginInfo, hookimpl

    @hookimpl
    def vms_plugin_info():
        return PluginInfo("broken", "1.0.0", requests=("events", "ptz"))

    @hookimpl
    def vms_on_event(event):
        raise RuntimeError("broken on purpose")
"""


@pytest.mark.allow_error_logs("quarantined after", reason="the plug-in fails on purpose")
async def test_plugins_list_shows_what_the_running_server_marked_with_the_reason(
    tmp_path: Path,
    make_server: Callable[..., Any],
    http: aiohttp.ClientSession,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Not `ready` for a plug-in the server quarantined (a gap the docs' readers found)."""
    monkeypatch.setenv("VMS_PLUGINS", "broken")
    folder = write_plugin(tmp_path / "plugins", "broken", BROKEN)
    srv = await make_server(
        f'\n[plugin_host]\ndirs = ["{folder}"]\nmax_consecutive_failures = 1\nmax_restarts = 0\n'
        '[plugins.broken]\ngrant = ["events"]\n'
    )
    token = await srv.admin_token()
    async with http.post(
        srv.url + "/api/events", json={"type": "door.opened"}, headers=bearer(token)
    ) as r:
        assert r.status == 201

    command = [
        sys.executable, "-m", "vms_core.cli", "plugins", "list",
        "--config", str(tmp_path / "vms.toml"),
    ]  # fmt: skip

    def listed() -> dict[str, Any] | None:
        done = subprocess.run([*command, "--json"], capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        rows = {row["name"]: row for row in json.loads(done.stdout)}
        return rows if rows["broken"]["state"] == "quarantined" else None

    rows = await eventually(lambda: asyncio.to_thread(listed), 20, 0.5, what="quarantined")
    broken = rows["broken"]
    assert broken["live"] is True
    assert "broken on purpose" in broken["reason"]
    assert broken["permissions"] == {
        "requested": ["events", "ptz"],
        "granted": ["events"],
        "missing": ["ptz"],
    }
    table = subprocess.run(command, capture_output=True, text=True, timeout=60).stdout
    assert "live state of the running server" in table
    assert "requests: events, ptz; granted: events; NOT granted: ptz" in table
