"""The server side of PluginContext against real cameras, seen from inside a runner:
audio, snapshots, cameras, state, PTZ, and what an ungranted call gets."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.conftest import bearer
from tests.eventually import eventually
from tests.plugin_host.conftest import camera_tables, grants, plugin_kv, write_plugin
from vms_core.simulator.simulator import Simulator

LISTENER = """
    import io
    import threading

    import numpy as np
    from vms_sdk import AudioSubscription, HttpResponse, NotGranted, PluginInfo, Route, hookimpl

    LOCK = threading.Lock()

    @hookimpl
    def vms_plugin_info():
        return PluginInfo("listener", "1.0.0", requests=("audio", "snapshots", "ptz", "events"))

    @hookimpl
    def vms_startup(ctx):
        ctx.kv.set("starts", ctx.kv.get("starts", 0) + 1)

    @hookimpl
    def vms_audio_subscriptions():
        return [AudioSubscription(sample_rate=8000, chunk_seconds=0.5)]

    @hookimpl
    def vms_analyze_audio(ctx, chunk):
        seen = [
            chunk.camera_id,
            chunk.sample_rate,
            chunk.time.isoformat(),
            str(chunk.samples.dtype),
            len(chunk.samples),
            float(np.abs(chunk.samples).max()),
        ]
        with LOCK:
            ctx.kv.set("chunks", ctx.kv.get("chunks", []) + [seen])

    @hookimpl
    def vms_routes(ctx):
        async def probe(request):
            first = request.query["camera"]
            jpeg = await ctx.snapshot(first)
            out = {
                "snapshot": None if jpeg is None else [jpeg[:2].hex(), len(jpeg)],
                "missing": await ctx.snapshot("999"),
                "cameras": [c.id for c in ctx.list_cameras()],
                "near": ctx.cameras_near(41.76580, -72.67340, 50)[0].camera.id,
            }
            try:
                await ctx.ptz_goto_preset(first, "home")
            except ValueError as exc:
                out["ptz"] = f"ValueError: {exc}"
            try:
                await ctx.publish_event(__import__("vms_sdk").Event("probe.done"))
            except NotGranted as exc:
                out["publish"] = f"NotGranted: {exc.capability}"
            ctx.kv.set("cursor", {"page": 3})
            return HttpResponse(json=out)

        return [Route("GET", "/probe", probe)]
"""


async def test_audio_snapshot_state_and_ptz_through_the_server(
    tmp_path: Path,
    cameras_sim: Simulator,
    make_server: Callable[..., Any],
    http: aiohttp.ClientSession,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("VMS_PLUGINS", "listener")
    folder = write_plugin(tmp_path / "plugins", "listener", LISTENER)
    config = (
        camera_tables(cameras_sim)
        + f'\n[plugin_host]\ndirs = ["{folder}"]\n'
        + grants("listener", capabilities=("audio", "snapshots", "ptz"))  # not "events"
    )
    srv = await make_server(config)
    server = srv.server
    token = await srv.admin_token()
    first = str(min(c.id for c in await server.cameras.visible()))

    # Audio: decoded from the camera's stream, resampled to 8 kHz mono, cut in 0.5 s chunks.
    async def four_chunks() -> list[Any] | None:
        chunks = (await plugin_kv(server, "listener")).get("chunks", [])
        mine = [c for c in chunks if c[0] == first]
        return mine if len(mine) >= 4 else None

    chunks = await eventually(four_chunks, 10, 0.1, what="4 chunks")
    for _, rate, _, dtype, length, _ in chunks:
        assert (rate, dtype, length) == (8000, "float32", 4000)
    assert any(peak > 0.01 for *_, peak in chunks), "only silence decoded"
    times = [datetime.fromisoformat(c[2]) for c in chunks]
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(times)]
    assert all(abs(gap - 0.5) < 0.05 for gap in gaps), gaps

    async with http.get(
        srv.url + "/api/plugins/listener/probe", params={"camera": first}, headers=bearer(token)
    ) as r:
        assert r.status == 200, await r.text()
        probe = await r.json()
    # Snapshot: a JPEG of the camera's current picture (no ONVIF here: a keyframe of its
    # live sub stream, 160x90).
    assert probe["snapshot"][0] == "ffd8" and probe["snapshot"][1] > 500
    assert probe["missing"] is None
    # Cameras from memory, with their positions.
    assert probe["cameras"] == sorted((str(c.id) for c in await server.cameras.visible()), key=int)
    assert probe["near"] == first
    # A camera without PTZ (simulated camera 1 has none): a clear error, not a crash.
    assert probe["ptz"].startswith("ValueError: ")
    # Not granted "events": refused with the capability named, and audited.
    assert probe["publish"] == "NotGranted: events"
    async with http.get(srv.url + "/api/audit", headers=bearer(token)) as r:
        audit = await r.json()
    refused = [a for a in audit if a["action"] == "plugin.call_refused"]
    assert refused and refused[0]["detail"]["capability"] == "events", audit

    # Key-value state is saved in the catalog and survives a reload of the plug-ins.
    await eventually(lambda: _has_cursor(server), 5, 0.05, what="the cursor saved by the host")
    await server.plugins.reload(server.settings)
    again = await plugin_kv(server, "listener")
    assert again["cursor"] == {"page": 3}
    assert again["starts"] == 2


async def _has_cursor(server: Any) -> bool:
    record = server.plugins.manager.get("listener")
    await record.kv.flush()
    return bool(record.kv.get("cursor"))
