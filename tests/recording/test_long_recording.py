"""The long acceptance run: one server records six simulated cameras for
``VMS_LONG_RECORDING_SECONDS`` (120 s in ``make test``; ``make test-long`` runs the full ten
minutes), each camera with a role:

- steady-1..4: the first five minutes (all but the last 30 s of a shorter run) are covered
  by segments without a gap over 1 s or an overlap, every segment decodes cleanly, and each
  segment's wall-clock start agrees with the clock burned into its first frame within 1 s;
- flaky: drops its stream every 20 s for 5 s; it is recorded with gaps only while down
  (recording resumes within 2 s of the camera coming back), and the recordings API lists
  those gaps;
- capped: a small ``max_bytes``; its folder never holds more than that, only its oldest
  unlocked segments are deleted, and a locked range survives whole.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.conftest import bearer
from tests.eventually import eventually
from tests.media.mediatools import decode_errors
from tests.recording.helpers import (
    Row,
    camera_ids,
    camera_toml,
    clock_difference,
    first_frame_clock,
    folder_bytes,
    segments,
    sim_camera,
    simulator_config,
)
from vms_core.simulator.simulator import Simulator
from vms_core.timeutil import from_us

LONG_SECONDS = float(os.environ.get("VMS_LONG_RECORDING_SECONDS", "120"))
COVERAGE_SECONDS = min(300.0, LONG_SECONDS - 30.0)
SEGMENT_SECONDS = 3
MAX_BYTES = 1_000_000
DROP_EVERY, DOWN = 20.0, 5.0
STEADY = [f"steady-{i}" for i in range(1, 5)]


def check_contiguous(name: str, rows: list[Row]) -> None:
    for before, after in itertools.pairwise(rows):
        assert before.end is not None
        step = after.start - before.end
        assert step <= 1.0, f"{name}: gap of {step:.3f} s before {after.path.name}"
        assert step >= -0.02, f"{name}: overlap of {-step:.3f} s at {after.path.name}"


@pytest.mark.slow(seconds=LONG_SECONDS + 10)
@pytest.mark.timeout(LONG_SECONDS + 300)
async def test_long_recording_with_drops_and_a_byte_cap(
    make_server: Callable[..., Any], http: aiohttp.ClientSession
) -> None:
    cameras = [sim_camera(n) for n in STEADY]
    cameras.append(sim_camera("flaky", drop_every_s=DROP_EVERY, down_s=DOWN))
    cameras.append(sim_camera("capped"))
    simulator = Simulator(simulator_config(cameras))
    await simulator.start()
    try:
        urls = {info.name: info.rtsp_main_url for info in simulator.cameras}
        extra = f"segment_seconds = {SEGMENT_SECONDS}\n[retention]\ninterval_seconds = 5\n"
        for camera in cameras:
            limit = (
                f"retention = {{ max_bytes = {MAX_BYTES} }}\n" if camera.name == "capped" else ""
            )
            extra += camera_toml(camera.name, urls[camera.name], camera.password, limit)
        running = await make_server(extra, record=True)
        await run_and_check(running, http)
    finally:
        await simulator.stop()


async def run_and_check(running: Any, http: aiohttp.ClientSession) -> None:
    server = running.server
    token = await running.admin_token()
    ids = await camera_ids(server)
    capped_dir = server.settings.recordings_dir / "capped"

    async def all_recording() -> bool:
        return all([await segments(server, ids[n]) for n in ids])

    await eventually(all_recording, 60, 0.25, what="every camera recording")
    began = time.monotonic()

    # -- the run: watch the capped camera's folder and catalog; lock a range early on --
    largest_folder = 0
    seen: dict[Path, Row] = {}
    locked_rows: list[Row] = []
    lock_range: tuple[float, float] | None = None
    while time.monotonic() - began < LONG_SECONDS:
        largest_folder = max(largest_folder, await asyncio.to_thread(folder_bytes, capped_dir))
        rows = await segments(server, ids["capped"])
        vanished_before_lock = lock_range is None and any(
            p not in {r.path for r in rows} for p in seen
        )
        assert not vanished_before_lock, "retention deleted before the lock: raise MAX_BYTES"
        seen.update((r.path, r) for r in rows)
        closed = [r for r in rows if r.end is not None]
        if lock_range is None and closed and closed[-1].end - rows[0].start > 8:  # type: ignore[operator]
            lock_range = (rows[0].start + 1.5, rows[0].start + 5.5)
            await lock(http, running.url, token, ids["capped"], lock_range)
            locked_rows = [
                r
                for r in closed
                if r.start <= lock_range[1] and r.end >= lock_range[0]  # type: ignore[operator]
            ]
        await asyncio.sleep(0.25)

    # -- capped: the cap held, only the oldest unlocked went, the locked range is whole --
    assert lock_range is not None and locked_rows
    print(f"capped: largest folder {largest_folder} bytes (cap {MAX_BYTES})")
    assert largest_folder <= MAX_BYTES
    remaining = {r.path: r for r in await segments(server, ids["capped"])}
    deleted = [r for p, r in seen.items() if p not in remaining]
    assert deleted, "nothing was deleted: the cap was never reached"
    locked_paths = {r.path for r in locked_rows}
    for row in locked_rows:
        assert row.path in remaining and row.path.exists(), f"locked {row.path.name} deleted"
    check_contiguous("capped (locked)", locked_rows)
    unlocked_left = [r for p, r in remaining.items() if p not in locked_paths]
    assert max(r.start for r in deleted) < min(r.start for r in unlocked_left)
    for row in deleted:
        assert not row.path.exists(), f"{row.path} deleted from the catalog but not the disk"

    # -- steady cameras: coverage, clean decode, burned-in clock --
    with ThreadPoolExecutor(2) as pool:
        for name in STEADY:
            rows = [r for r in await segments(server, ids[name]) if r.end is not None]
            first = rows[0].start
            window = [r for r in rows if r.start < first + COVERAGE_SECONDS]
            assert window[-1].end - first >= COVERAGE_SECONDS - 1  # type: ignore[operator]
            check_contiguous(name, window)
            errors = list(pool.map(lambda r: (r.path.name, decode_errors(r.path)), window))
            assert [e for e in errors if e[1]] == []
            clocks = list(pool.map(lambda r: first_frame_clock(r.path), window))
            worst = max(
                clock_difference(r.start, c) for r, c in zip(window, clocks, strict=True) if c
            )
            assert sum(1 for c in clocks if c is None) == 0
            print(f"{name}: {len(window)} segments, worst clock difference {worst:.3f} s")
            assert worst <= 1.0

    # -- flaky: gaps only while down, and the API lists them --
    rows = [r for r in await segments(server, ids["flaky"]) if r.end is not None]
    start, end = rows[0].start, rows[-1].end
    assert end is not None
    async with http.get(
        f"{running.url}/api/cameras/{ids['flaky']}/recordings",
        params={"start": str(start), "end": str(end)},
        headers=bearer(token),
    ) as response:
        assert response.status == 200
        timeline = await response.json()
    gaps = [g["seconds"] for g in timeline["gaps"]]
    print(f"flaky: gaps {gaps}")
    drops = (end - start) // DROP_EVERY
    assert len(gaps) >= drops - 1
    for gap in gaps:
        # Down for DOWN s; back on disk within 2 s of the camera coming back.
        assert DOWN - 1.5 <= gap <= DOWN + 2.0
    catalog_gaps = [
        b.start - a.end  # type: ignore[operator]
        for a, b in itertools.pairwise(rows)
        if b.start - a.end > 0.5  # type: ignore[operator]
    ]
    assert len(catalog_gaps) == len(gaps)

    # -- the storage report and the stream parameters --
    async with http.get(f"{running.url}/api/storage", headers=bearer(token)) as response:
        report = await response.json()
    capped = next(c for c in report["cameras"] if c["name"] == "capped")
    assert capped["locked_bytes"] >= sum(r.size for r in locked_rows)
    assert report["last_run"] is not None and report["last_run"]["errors"] == []
    async with http.get(
        f"{running.url}/api/cameras/{ids['steady-1']}", headers=bearer(token)
    ) as response:
        stream = next(s for s in (await response.json())["streams"] if s["role"] == "main")
    assert (stream["codec"], stream["width"], stream["height"]) == ("h264", 320, 180)
    assert stream["fps"] == pytest.approx(10, abs=0.5)
    assert stream["audio_codec"] == "aac" and stream["bitrate"] > 10_000


async def lock(
    http: aiohttp.ClientSession, url: str, token: str, camera: int, span: tuple[float, float]
) -> None:
    body = {
        "cameras": [camera],
        "start": from_us(int(span[0] * 1e6)).isoformat(),
        "end": from_us(int(span[1] * 1e6)).isoformat(),
        "reason": "evidence for the retention test",
        "lock": True,
    }
    async with http.post(f"{url}/api/bookmarks", json=body, headers=bearer(token)) as response:
        assert response.status in (200, 201), await response.text()
