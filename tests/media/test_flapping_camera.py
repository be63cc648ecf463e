"""Reliability: a camera whose stream drops every 2 s for 2 minutes while it is recorded.
Its events are debounced, recording resumes after each return, and the recorder leaks no
threads, file descriptors or memory."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any

import aiohttp
import pytest

from tests.conftest import bearer
from tests.eventually import eventually
from tests.media import procstat
from tests.media.rtsp_camera import RtspCameras
from tests.onvif.conftest import QUIET
from vms_core.rtsp.stream import RtspStream
from vms_core.simulator.media.dropper import StreamDropper
from vms_core.simulator.media.encoder import LoopSpec, encode_loop
from vms_core.simulator.media.profiles import AudioProfile, VideoProfile
from vms_core.simulator.media.scene import SceneConfig
from vms_core.timeutil import iso, parse_time

EVERY_S, DOWN_S = 2.0, 0.5
FLAPS = 60  # 2 minutes
# Up for 1.5 s each time: a reconnect (backoff <= 0.5 s, then the RTSP handshake) and the
# next keyframe fit in it with about a second to spare for a loaded machine (on an idle one
# recording resumed 0.3-0.8 s after a return with 0.5 s GOPs, 0.3-0.5 s with 0.2 s GOPs).
GOP_SECONDS = 0.2  # 2 frames at 10 fps; the 4 s loop is 20 GOPs


class ObservedStream:
    """The stream as the dropper sees it, noting when it comes back."""

    def __init__(self, stream: RtspStream) -> None:
        self.stream = stream
        self.returns: list[float] = []  # time.time()

    @property
    def available(self) -> bool:
        return self.stream.available

    @available.setter
    def available(self, value: bool) -> None:
        if value and not self.stream.available:
            self.returns.append(time.time())
        self.stream.available = value

    def disconnect_all(self) -> None:
        self.stream.disconnect_all()


@dataclass(frozen=True)
class Usage:
    threads: int
    files: int
    resident: int

    @classmethod
    def of(cls, pid: int) -> Usage:
        return cls(procstat.threads(pid), procstat.open_files(pid), procstat.resident_bytes(pid))


def _config(url: str) -> str:
    text = "segment_seconds = 2\n" + QUIET
    for entry in entry_points(group="vms.plugins"):  # plug-ins would decode the camera
        text += f"[plugins.{entry.name}]\nenabled = false\n"
    return text + f'[[cameras]]\nname = "flappy"\nrtsp_url = "{url}"\n'


@pytest.mark.slow(seconds=140)
async def test_a_camera_flapping_every_2_s_for_2_minutes(
    rtsp_cameras: RtspCameras, make_server: Any, http: aiohttp.ClientSession
) -> None:
    video = VideoProfile(320, 180, 10, 150_000, gop_seconds=GOP_SECONDS)
    loop = encode_loop(LoopSpec(SceneConfig(loop_seconds=4), video, AudioProfile("AAC", 16000)))
    url = rtsp_cameras.add("flappy", loop)
    running = await make_server(_config(url), record=True)
    recording = running.server.recording
    assert recording is not None
    # Publish the settled state 5 s after the flapping stops (a minute in production).
    recording.state_events.settle_seconds = 5.0
    headers = bearer(await running.admin_token())
    api = f"{running.url}/api"

    async def state() -> str:
        async with http.get(f"{api}/cameras/1", headers=headers) as response:
            return str((await response.json())["state"])

    async def starts(since: float) -> list[float]:
        # As the recordings API lists them. The catalog's rows are written in batches every
        # 2 s, so right after the flapping the newest segments may be only in the recorder's
        # account, which the API includes (the rows alone lacked the last segment).
        query = {"start": iso(to_us_float(since)), "segments": "true"}
        async with http.get(f"{api}/cameras/1/recordings", params=query, headers=headers) as r:
            assert r.status == 200, await r.text()
            found = [parse_time(s["start"]) / 1e6 for s in (await r.json())["segments"]]
        return sorted(start for start in found if start >= since)

    # Warm up: a few segments recorded, so buffers, templates and arenas are in place, and
    # the API asked once (its keep-alive connection stays open).
    began = time.time()
    await eventually(lambda: _count(starts(began), 1), 30, what="recording")
    pids = [*recording.pool.pids, os.getpid()]
    await eventually(lambda: _recorded_for(starts, began, 6.0), 30, what="6 s recorded")
    assert await state() == "streaming"

    # The server's pool keeps up to 5 catalog connections open, each with a thread (aiosqlite)
    # and a file or two: one more opened under load and back in the pool is not a leak (one
    # still checked out would be).
    pool: Any = running.server.db.engine.pool
    before = {pid: Usage.of(pid) for pid in pids}
    connections_before = pool.checkedin() + pool.checkedout()

    observed = ObservedStream(rtsp_cameras.server.streams["flappy"])
    dropper = StreamDropper(observed, EVERY_S, DOWN_S)

    async def start_dropping() -> None:
        dropper.start()

    rtsp_cameras.run(start_dropping())
    flapping_began = time.time()
    # The 2 minutes are the test's subject; the guard allows for a loaded machine.
    await eventually(lambda: dropper.drops >= FLAPS, FLAPS * EVERY_S * 2, interval=1.0)
    rtsp_cameras.run(dropper.stop())
    flapping_ended = time.time()

    # Recording resumed after each return: a segment began within the 1.5 s it was up.
    await eventually(lambda: _is(state, "streaming"), 15, what="streaming after the flapping")
    segment_starts = await starts(flapping_began)
    returns = [r for r in observed.returns if r < flapping_ended - (EVERY_S - DOWN_S)]
    # How long recording took to resume after each return (None: not before the next drop).
    resumed = {
        r: min((s - r for s in segment_starts if r <= s <= r + (EVERY_S - DOWN_S)), default=None)
        for r in returns
    }
    missed = [r for r, after in resumed.items() if after is None]
    assert len(returns) >= FLAPS - 1
    slowest = sorted(after for after in resumed.values() if after is not None)[-5:]
    print(f"{len(segment_starts)} segments began over {len(returns)} returns; {slowest=}")
    # For a miss: the segments that began around it, in seconds from the return (too late,
    # dated before it, or none at all are different faults).
    around = {
        round(r, 3): [round(s - r, 3) for s in segment_starts if abs(s - r) < 4] for r in missed
    }
    assert not missed, (
        f"{len(missed)} of {len(returns)} returns without recording: {slowest=}, {around=}"
    )

    # Debounced: what 60 drops and returns published (before: 4 events per cycle).
    async def camera_events() -> list[dict[str, Any]]:
        query = {"type": "camera.*", "camera": "1", "limit": "1000"}
        async with http.get(f"{api}/events", params=query, headers=headers) as response:
            found = list(reversed(await response.json()))
        assert found and found[-1]["type"] == "camera.streaming", [e["type"] for e in found]
        assert "interruptions" in found[-1]["data"], found[-1]  # settled after flapping
        return found

    events = await eventually(camera_events, 30, what="the settled state published")
    types = [e["type"] for e in events]
    assert types == [
        "camera.streaming",  # first start
        "camera.lost", "camera.streaming",
        "camera.lost", "camera.streaming",
        "camera.flapping",  # the third interruption, then nothing until it settled
        "camera.streaming",
    ]  # fmt: skip
    assert events[-1]["data"]["interruptions"] >= FLAPS - 1

    # No leak: back to what the recorder and the server used before the flapping.
    def leaks() -> bool:
        idle_more = max(pool.checkedin() - connections_before, 0)
        for pid, was in before.items():
            now = Usage.of(pid)
            pooled = idle_more if pid == os.getpid() else 0  # the server runs in this process
            print(f"pid {pid}: {was} -> {now}; {pooled} more idle catalog connections")
            assert now.threads <= was.threads + pooled, (pid, "threads", was, now)
            assert now.files <= was.files + 1 + 2 * pooled, (pid, "open files", was, now)
            assert now.resident <= was.resident + 16 * 2**20, (pid, "memory", was, now)
        return True

    await eventually(leaks, 30, what="threads, files and memory as before")


def to_us_float(seconds: float) -> int:
    return int(seconds * 1_000_000)


async def _count(found: Any, at_least: int) -> bool:
    return len(await found) >= at_least


async def _recorded_for(starts: Any, since: float, seconds: float) -> bool:
    found = await starts(since)
    return bool(found) and found[-1] - found[0] >= seconds


async def _is(state: Any, wanted: str) -> bool:
    return bool(await state() == wanted)
