"""A vms server recording good cameras while hostile cameras are added: the good ones
keep recording, the API keeps answering, each hostile camera shows why it fails, the
recorder's CPU stays bounded, and deleting them ends their threads."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import replace
from importlib.metadata import entry_points
from typing import Any

import aiohttp
import pytest

from tests.conftest import bearer
from tests.eventually import eventually
from tests.media import procstat
from tests.media.hostile_rtsp import MODES, HostileCameraProcess
from tests.media.rtsp_camera import RtspCameras, small_loop
from tests.media.test_hostile_cameras import REASONS
from tests.onvif.conftest import QUIET


@pytest.fixture
def hostile() -> Iterator[HostileCameraProcess]:
    cameras = HostileCameraProcess(sorted(MODES))
    yield cameras
    cameras.close()


def _config() -> str:
    text = "segment_seconds = 1\n" + QUIET
    for entry in entry_points(group="vms.plugins"):  # plug-ins would decode the cameras
        text += f"[plugins.{entry.name}]\nenabled = false\n"
    return text


async def test_hostile_cameras_fail_alone_and_leave_when_deleted(
    rtsp_cameras: RtspCameras,
    hostile: HostileCameraProcess,
    make_server: Any,
    http: aiohttp.ClientSession,
) -> None:
    running = await make_server(_config(), record=True)
    recording = running.server.recording
    assert recording is not None
    # Cameras that stall fail after 2 s instead of 5 (the workers start with the first
    # camera, below).
    pool = recording.pool
    pool.config = replace(
        pool.config, ingest_options=replace(pool.config.ingest_options, io_timeout=2.0)
    )
    headers = bearer(await running.admin_token())
    api = f"{running.url}/api"

    async def add(name: str, url: str) -> int:
        body = {"name": name, "rtsp_url": url, "username": "admin", "password": "secret"}
        async with http.post(f"{api}/cameras", json=body, headers=headers) as response:
            assert response.status == 201, await response.text()
            return int((await response.json())["id"])

    # One good camera per recorder worker: each worker then has the threads a recording
    # worker keeps (batch reader, event queue feeder) before the hostile ones come.
    good = [f"good-{n}" for n in range(recording.workers)]
    loop = small_loop("AAC")
    for name in good:
        await add(name, rtsp_cameras.add(name, loop))
    recordings = running.server.settings.recordings_dir

    async def cameras() -> dict[str, dict[str, Any]]:
        async with http.get(f"{api}/cameras", headers=headers) as response:
            assert response.status == 200
            return {c["name"]: c for c in await response.json()}

    def recorded() -> int:
        """Segments of the camera that has the fewest."""
        return min(len(list((recordings / name).rglob("*.mp4"))) for name in good)

    # Hang guards below: typical waits are 1-6 s (the ingest's I/O timeout is 5 s).
    # Five 1-s segments: recording for long enough that each camera went over to the
    # worker's batch reader (at most 2 s after it started), whose thread stays.
    await eventually(lambda: recorded() >= 5, 60, what="the good cameras recording")
    pids = recording.pool.pids
    threads_before = sum(procstat.threads(pid) for pid in pids)

    ids = {mode: await add(mode, url) for mode, url in hostile.urls.items()}

    async def all_failing_with_reasons() -> bool:
        found = await cameras()
        for mode in ids:
            camera = found[mode]
            assert camera["state"] in ("error", "lost"), (mode, camera["state"])
            assert re.search(REASONS[mode], camera["state_reason"]), (mode, camera)
        return True

    await eventually(all_failing_with_reasons, 60, what="every hostile camera failing")

    # A while with all of them retrying: the recorder's CPU stays bounded (an endless
    # parse loop took a core per thread), the good camera goes on recording.
    cpu_before = sum(procstat.cpu_seconds(pid) for pid in pids)
    began, recorded_before = time.monotonic(), recorded()
    await eventually(lambda: recorded() >= recorded_before + 2, 30, what="new good segments")
    elapsed = time.monotonic() - began
    cpu = sum(procstat.cpu_seconds(pid) for pid in pids) - cpu_before
    assert cpu < 1.0 * elapsed, f"recorder workers used {cpu:.1f} CPU-s in {elapsed:.1f} s"
    found = await cameras()
    assert all(found[name]["state"] == "streaming" for name in good)
    assert min(hostile.connections()[mode] for mode in ids) >= 2  # they were retried

    for camera_id in ids.values():
        async with http.delete(f"{api}/cameras/{camera_id}", headers=headers) as response:
            assert response.status == 204

    def threads_back() -> bool:
        now = sum(procstat.threads(pid) for pid in pids)
        assert now == threads_before, f"{now} threads, {threads_before} before"
        return True

    await eventually(threads_back, 20, what="the hostile cameras' threads ended")
    found = await cameras()
    assert all(found[name]["state"] == "streaming" for name in good)
