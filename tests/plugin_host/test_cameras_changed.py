"""A plug-in that starts before the cameras exist hears of them (vms_cameras_changed)
and finds them by name; ids are strings in the SDK, integers in the REST API."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.eventually import eventually
from tests.plugin_host.conftest import plugin_kv, write_plugin
from vms_core.commands.demo import DemoCameras
from vms_core.simulator.simulator import Simulator

WATCHER = """
    from vms_sdk import PluginInfo, hookimpl

    @hookimpl
    def vms_plugin_info():
        return PluginInfo("watcher", "1.0.0")

    @hookimpl
    def vms_cameras_changed(ctx, cameras):
        found = ctx.find_camera("sim-cam-1")
        ctx.kv.set("heard", {
            "ids": [c.id for c in cameras],
            "listed": [c.id for c in ctx.list_cameras()],
            "by_name": found.id if found else None,
        })
"""


async def test_a_plugin_hears_of_cameras_added_after_it_started(
    tmp_path: Path,
    cameras_sim: Simulator,
    make_server: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("VMS_PLUGINS", "watcher")
    folder = write_plugin(tmp_path / "plugins", "watcher", WATCHER)
    host = f'\n[plugin_host]\ndirs = ["{folder}"]\n'
    srv = await make_server(host)
    assert (await plugin_kv(srv.server, "watcher")).get("heard") is None  # no cameras yet

    # Added while the plug-in runs, as `vms demo` adds its simulated cameras.
    demo = DemoCameras(cameras_sim, srv.server.cameras)
    await demo.start()
    try:
        await eventually(
            lambda: _all_in(srv, cameras_sim), 30, 0.1, what="every simulated camera added"
        )
    finally:
        await demo.stop()
    rest_ids = sorted(c.id for c in await srv.server.cameras.visible())  # integers

    async def heard() -> dict[str, Any]:
        seen: dict[str, Any] | None = (await plugin_kv(srv.server, "watcher")).get("heard")
        assert seen and len(seen["ids"]) == len(rest_ids), f"heard {seen}; cameras {rest_ids}"
        return seen

    seen = await eventually(heard, 10, 0.05, what="the plug-in heard of both cameras")
    assert seen["ids"] == [str(i) for i in rest_ids] == seen["listed"]
    first = next(c for c in await srv.server.cameras.visible() if c.name == "sim-cam-1")
    assert seen["by_name"] == str(first.id)


async def _all_in(srv: Any, sim: Simulator) -> bool:
    names = {c.name for c in await srv.server.cameras.visible()}
    return names == {info.name for info in sim.cameras}
