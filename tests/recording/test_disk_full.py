"""Recording on a full disk (issue #15): a small tmpfs that the test fills with a file, as
another program would, then empties again.

- all recordings locked, catalog on another disk: the camera says it is not recording and
  why (state, reason, event), and records again when space returns;
- nothing locked, catalog on the same disk: retention frees the unlocked segments (files
  first, since the catalog cannot take a DELETE on a full disk), recording goes on;
- all locked, catalog on the same disk: nothing can be freed and nothing written; the API
  answers all along, and once space returns recording resumes and the catalog converges
  with the files (the segments cut off meanwhile are closed, none stays open).

In every case nothing is corrupted: at the end every file has its row, every row its file,
each closed with the file's size, and every segment decodes.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from vms_sdk import Event

from tests.eventually import eventually
from tests.media.mediatools import decode_errors
from tests.recording.helpers import camera_ids, camera_toml, segments, sim_camera, simulator_config
from vms_core.bookmarks import BookmarkRequest
from vms_core.server import VmsServer
from vms_core.simulator.simulator import Simulator
from vms_core.timeutil import now_us

pytestmark = pytest.mark.slow(seconds=15)

NAMES = ["full-1", "full-2"]
DISK_BYTES = 24 * 1024 * 1024
SEGMENT_SECONDS = 2


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 24 MB tmpfs at ``tmp_path/disk``, unmounted at the end (root only)."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={DISK_BYTES},mode=0755", "tmpfs", str(disk)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


@pytest.fixture
async def simulator() -> AsyncIterator[Simulator]:
    sim = Simulator(simulator_config([sim_camera(n) for n in NAMES]))
    await sim.start()
    yield sim
    await sim.stop()


def fill(disk: Path) -> Path:
    """Take every free byte of ``disk`` with one file, as another program would."""
    filler = disk / "filler"
    chunk = b"\0" * (256 * 1024)
    with filler.open("wb", buffering=0) as out:
        with contextlib.suppress(OSError):
            while True:
                out.write(chunk)
        with contextlib.suppress(OSError):  # the last partial chunk's worth, byte-wise
            while True:
                out.write(b"\0" * 4096)
    assert os.statvfs(disk).f_bavail < 2, "the disk is not full"
    return filler


async def start(
    make_server: Callable[..., Any],
    tmp_path: Path,
    simulator: Simulator,
    disk: Path,
    catalog_on_disk: bool,
) -> VmsServer:
    (disk / "recordings").mkdir()
    (tmp_path / "recordings").symlink_to(disk / "recordings")
    if catalog_on_disk:
        (disk / "data").mkdir()
        (tmp_path / "data").symlink_to(disk / "data")
    urls = {i.name: i.rtsp_main_url for i in simulator.cameras}
    config = f"segment_seconds = {SEGMENT_SECONDS}\n"
    # A floor the full disk is always under; passes every second.
    config += "[retention]\nmin_free_bytes = 4_000_000\ninterval_seconds = 1\n"
    config += "".join(camera_toml(n, urls[n], f"pw-{n}") for n in NAMES)
    running = await make_server(config, record=True)
    server: VmsServer = running.server
    ids = await camera_ids(server)

    async def recording() -> bool:
        for name in NAMES:
            closed = [r for r in await segments(server, ids[name]) if r.end is not None]
            assert len(closed) >= 2, f"{name}: {len(closed)} closed segments"
        return True

    # Connect, then two 2 s segments: about 8 s; the guard is 6x that.
    await eventually(recording, 50, what="two closed segments per camera")
    return server


async def lock_everything(server: VmsServer) -> None:
    ids = list((await camera_ids(server)).values())
    await server.bookmarks.create(
        BookmarkRequest(ids, now_us() - 3600_000_000, now_us() + 3600_000_000, "case 7", True)
    )


async def session_cookie(server: VmsServer, http: aiohttp.ClientSession, password: str) -> None:
    """Log in before the disk fills: a web session, unlike a token, writes nothing per call."""
    login = {"username": "admin", "password": password}
    async with http.post(f"{server.url}/api/auth/login", json=login) as r:
        assert r.status == 200, await r.text()


async def api_answers(server: VmsServer, http: aiohttp.ClientSession) -> dict[str, Any]:
    async with http.get(f"{server.url}/api/cameras") as r:
        assert r.status == 200, await r.text()
        cameras = {c["name"]: c for c in await r.json()}
    async with http.get(f"{server.url}/api/storage") as r:
        assert r.status == 200, await r.text()
    return cameras


async def resumes_and_converges(server: VmsServer, filler: Path, since: float) -> None:
    """Space returns: each camera records new segments, none that is not being written
    stays open; then, stopped, the catalog and the files agree and every file decodes."""
    filler.unlink()
    ids = await camera_ids(server)

    async def converged() -> bool:
        for name in NAMES:
            rows = await segments(server, ids[name])
            fresh = [r for r in rows if r.end is not None and r.start > since]
            assert fresh, f"{name}: no segment recorded since space returned"
            assert server.recording is not None
            live = {Path(s.path) for s in server.recording.live_segments(ids[name])}
            stale = [r.path.name for r in rows if r.end is None and r.path not in live]
            assert not stale, f"{name}: left open: {stale}"
        return True

    # Retention's pass, a flush (2 s) and a new segment (2-3 s): about 6 s; guard 8x.
    await eventually(converged, 50, what="recording resumed and the catalog converged")
    assert server.recording is not None
    await server.recording.stop()
    files = {p: p.stat().st_size for p in server.settings.recordings_dir.rglob("*.mp4")}
    rows = {r.path: r for name in NAMES for r in await segments(server, ids[name])}
    assert set(rows) == set(files)
    for path, row in rows.items():
        assert row.end is not None, f"{path} left open"
        assert row.size == files[path], path
        if row.end > row.start:  # a segment cut off before its first fragment holds none
            assert decode_errors(path) == "", path


async def test_full_locked_disk_says_not_recording_and_why(
    small_disk: Path,
    make_server: Callable[..., Any],
    simulator: Simulator,
    tmp_path: Path,
) -> None:
    server = await start(make_server, tmp_path, simulator, small_disk, catalog_on_disk=False)
    published: list[Event] = []

    async def listen(event: Event) -> None:
        published.append(event)

    server.events.subscribe("test", listen)
    await lock_everything(server)
    ids = await camera_ids(server)
    filler = fill(small_disk)

    async def not_recording() -> bool:
        for name in NAMES:
            camera = await server.cameras.get(ids[name])
            assert camera is not None
            assert camera.state == "not_recording", f"{name}: {camera.state}"
            assert "No space left on device" in camera.state_reason, camera.state_reason
            assert "retention cannot free space" in camera.state_reason, camera.state_reason
        return True

    # The next keyframe (1 s) fails, retention's next pass (1 s): guard 10x.
    await eventually(not_recording, 30, what="both cameras not_recording with the reason")
    said = {e.camera_ids[0] for e in published if e.type == "camera.not_recording"}
    assert said == {str(ids[n]) for n in NAMES}
    since = time.time()
    await resumes_and_converges(server, filler, since)
    for name in NAMES:
        camera = await server.cameras.get(ids[name])
        assert camera is not None and camera.state == "streaming", (name, camera)


async def test_full_disk_with_the_catalog_retention_frees_unlocked_segments(
    small_disk: Path,
    make_server: Callable[..., Any],
    simulator: Simulator,
    tmp_path: Path,
) -> None:
    server = await start(make_server, tmp_path, simulator, small_disk, catalog_on_disk=True)
    ids = await camera_ids(server)
    first = {n: (await segments(server, ids[n]))[0].path for n in NAMES}
    filler = fill(small_disk)

    def oldest_freed() -> bool:
        for name, path in first.items():
            assert not path.exists(), f"{name}: {path.name} still there"
        return True

    # Retention's next pass (1 s) deletes them: guard 20x.
    await eventually(oldest_freed, 20, what="retention freed the oldest segments")
    since = time.time()
    await resumes_and_converges(server, filler, since)


async def test_full_locked_disk_with_the_catalog_keeps_answering_then_converges(
    small_disk: Path,
    make_server: Callable[..., Any],
    simulator: Simulator,
    tmp_path: Path,
) -> None:
    server = await start(make_server, tmp_path, simulator, small_disk, catalog_on_disk=True)
    password = server.initial_admin_password or ""
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        await session_cookie(server, http, password)
        await lock_everything(server)
        filler = fill(small_disk)
        assert server.recording is not None
        recording = server.recording

        async def cut_off_while_full() -> bool:
            await api_answers(server, http)  # and the API answers all along
            assert set(recording.not_recording) == set((await camera_ids(server)).values())
            assert recording.catalog.failing_since is not None, "the catalog took a write"
            return True

        # The next keyframe fails to write, the next flush fails: guard 10x.
        await eventually(cut_off_while_full, 30, what="recording and catalog both cut off")
        # Nothing could be freed: everything on the disk is locked.
        assert os.statvfs(small_disk).f_bavail * os.statvfs(small_disk).f_frsize < 1_000_000
        since = time.time()
        await resumes_and_converges(server, filler, since)
        await api_answers(server, http)
