"""The server side of PluginContext against real cameras: audio, snapshots, state, PTZ."""

from __future__ import annotations

import io
import itertools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from tests.eventually import eventually
from tests.plugin_host.conftest import camera_tables, write_plugin
from vms_core.simulator.simulator import Simulator

LISTENER = """
    from vms_sdk import AudioSubscription, PluginInfo, hookimpl

    CHUNKS = []

    @hookimpl
    def vms_plugin_info():
        return PluginInfo("listener", "1.0.0")

    @hookimpl
    def vms_startup(ctx):
        ctx.kv.set("starts", ctx.kv.get("starts", 0) + 1)

    @hookimpl
    def vms_audio_subscriptions():
        return [AudioSubscription(sample_rate=8000, chunk_seconds=0.5)]

    @hookimpl
    def vms_analyze_audio(chunk):
        CHUNKS.append((chunk.camera_id, chunk.sample_rate, chunk.time, chunk.samples))
"""


async def test_audio_snapshot_state_and_ptz_through_the_server(
    tmp_path: Path,
    cameras_sim: Simulator,
    make_server: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("VMS_PLUGINS", "listener")
    folder = write_plugin(tmp_path / "plugins", "listener", LISTENER)
    config = camera_tables(cameras_sim) + f'\n[plugin_host]\ndirs = ["{folder}"]\n'
    srv = await make_server(config)
    server = srv.server
    record = server.plugins.manager.get("listener")
    assert record is not None and record.context is not None
    plugin: Any = record.plugin
    ctx = record.context
    first = str(min(c.id for c in await server.cameras.visible()))

    # Audio: decoded from the camera's stream, resampled to 8 kHz mono, cut in 0.5 s chunks.
    await eventually(
        lambda: len([c for c in plugin.CHUNKS if c[0] == first]) >= 4, 10, 0.1, what="4 chunks"
    )
    chunks = [c for c in plugin.CHUNKS if c[0] == first]
    for _, rate, _, samples in chunks:
        assert rate == 8000 and samples.dtype == np.float32 and samples.shape == (4000,)
    assert any(float(np.abs(s).max()) > 0.01 for *_, s in chunks), "only silence decoded"
    gaps = [(b[2] - a[2]).total_seconds() for a, b in itertools.pairwise(chunks)]
    assert all(abs(gap - 0.5) < 0.05 for gap in gaps), gaps

    # Snapshot: a JPEG of the main stream's current picture.
    jpeg = await ctx.snapshot(first)
    assert jpeg is not None
    # No ONVIF here: the host decodes a keyframe of the camera's live sub stream.
    assert Image.open(io.BytesIO(jpeg)).size == (160, 90)
    assert await ctx.snapshot("999") is None

    # Cameras from memory, with their positions.
    assert [c.id for c in ctx.list_cameras()] == sorted(
        (str(c.id) for c in await server.cameras.visible()), key=int
    )
    assert ctx.cameras_near(41.76580, -72.67340, 50)[0].camera.id == first

    # Key-value state is saved in the catalog and survives a reload of the plug-ins.
    ctx.kv.set("cursor", {"page": 3})
    await ctx.kv.flush()
    await server.plugins.reload(server.settings)
    again = server.plugins.manager.get("listener")
    assert again is not None and again.context is not None
    assert again.context.kv.get("cursor") == {"page": 3}
    assert again.context.kv.get("starts") == 2

    # A camera without PTZ (simulated camera 1 has none): a clear error, not a crash.
    with pytest.raises(ValueError):
        await again.context.ptz_goto_preset(first, "home")
