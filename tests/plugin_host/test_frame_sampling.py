"""Frames for plug-ins: decoded once, only as much as needed, shared between plug-ins."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.eventually import eventually
from tests.plugin_host.conftest import camera_tables, grants, plugin_kv, write_plugin
from vms_core.plugins.frames import VideoDecodeLoop
from vms_core.simulator.simulator import Simulator


def watcher(name: str, fps: float, fmt: str = "gray") -> str:
    return f"""
    from vms_sdk import FrameSubscription, PluginInfo, hookimpl

    @hookimpl
    def vms_plugin_info():
        return PluginInfo("{name}", "1.0.0")

    @hookimpl
    def vms_frame_subscriptions():
        return [FrameSubscription(fps={fps}, stream="main", fmt="{fmt}")]

    @hookimpl
    def vms_analyze_frame(ctx, frame):
        seen = [
            frame.camera_id,
            frame.time.isoformat(),
            list(frame.image.shape),
            frame.image.flags.writeable,
            int(frame.image.sum()),
        ]
        ctx.kv.set("frames", ctx.kv.get("frames", []) + [seen])
"""


@dataclass(frozen=True)
class Seen:
    camera_id: str
    time: datetime
    shape: tuple[int, ...]
    writeable: bool
    checksum: int


async def _frames(server: Any, plugin: str, count: int, seconds: float = 15.0) -> list[Seen]:
    async def enough() -> list[Seen] | None:
        raw = (await plugin_kv(server, plugin)).get("frames", [])
        seen = [Seen(c, datetime.fromisoformat(t), tuple(s), w, x) for c, t, s, w, x in raw]
        return seen if len(seen) >= count else None

    found: list[Seen] = await eventually(enough, seconds, 0.1, what=f"{count} frames")
    return found


async def test_one_decode_and_one_conversion_serve_every_plugin(
    tmp_path: Path,
    cameras_sim: Simulator,
    make_server: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("VMS_PLUGINS", "slow_a,slow_b,fast,colour")
    folder = tmp_path / "plugins"
    write_plugin(folder, "slow_a", watcher("slow_a", 1.0))
    write_plugin(folder, "slow_b", watcher("slow_b", 1.0))
    write_plugin(folder, "fast", watcher("fast", 5.0))
    write_plugin(folder, "colour", watcher("colour", 1.0, "bgr24"))
    only_first = camera_tables(cameras_sim).split("[[cameras]]")[1]
    names = ("slow_a", "slow_b", "fast", "colour")
    srv = await make_server(
        f'[[cameras]]{only_first}\n[plugin_host]\ndirs = ["{folder}"]\n'
        + grants(*names, capabilities=("frames",))
    )
    server = srv.server
    fast_frames = await _frames(server, "fast", 15)
    a_frames, b_frames = await _frames(server, "slow_a", 3), await _frames(server, "slow_b", 3)

    # The same gray picture reached both 1 fps plug-ins (one conversion, one sample).
    shared = {(f.time, f.checksum) for f in a_frames} & {(f.time, f.checksum) for f in b_frames}
    assert shared, "two plug-ins at the same rate and format got different pictures"
    # The 5 fps plug-in gets about five a second (the camera sends 10), the others one.
    span = (fast_frames[-1].time - fast_frames[0].time).total_seconds()
    assert 2.5 <= (len(fast_frames) - 1) / span <= 5.5
    # In the runner, a read-only view of the shared memory the server wrote it to.
    assert all(f.shape == (180, 320) and not f.writeable for f in fast_frames)
    assert all(f.checksum > 0 for f in fast_frames)
    colour_frames = await _frames(server, "colour", 2)
    assert colour_frames[0].shape == (180, 320, 3)
    for frames in (a_frames, b_frames):
        gaps = [(b.time - a.time).total_seconds() for a, b in itertools.pairwise(frames)]
        assert all(gap >= 0.9 for gap in gaps), gaps

    # One tap (one decoder) per camera stream, whatever the number of plug-ins.
    taps = srv.server.plugins.sampler.taps()
    assert list(taps) == [(fast_frames[0].camera_id, "main")]


def test_a_rate_of_one_per_gop_decodes_keyframes_only() -> None:
    from vms_core.plugins.frames import VideoNeed

    loop = VideoDecodeLoop(VideoNeed("1", "sub", (("gray", 1.0),)), lambda frame: None)
    loop.gop_seconds = 1.0
    assert loop.keyframes_only
    loop.gop_seconds = 0.5  # two keyframes a second: every other one is enough
    assert loop.keyframes_only
    faster = VideoDecodeLoop(VideoNeed("1", "sub", (("gray", 1.0), ("bgr24", 2.0))), print)
    faster.gop_seconds = 1.0
    assert not faster.keyframes_only  # 2 fps from a 1 s GOP needs the P-frames
