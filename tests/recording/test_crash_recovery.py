"""kill -9 of the server mid-recording, then a restart: the catalog matches the disk, the
interrupted segments play, and at most about a second of video is missing per camera."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.eventually import eventually
from tests.media.mediatools import decode_errors, probe
from tests.recording.helpers import camera_toml, sim_camera, simulator_config
from vms_core.config import load_config
from vms_core.db import Database
from vms_core.db.models import Segment
from vms_core.server import VmsServer
from vms_core.simulator.simulator import Simulator

SEGMENT_SECONDS = 10
NAMES = ["crash-1", "crash-2"]


@pytest.fixture
async def simulator(tmp_path: Path) -> AsyncIterator[Simulator]:
    sim = Simulator(simulator_config([sim_camera(n) for n in NAMES]))
    await sim.start()
    yield sim
    await sim.stop()


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


async def rows(db: Database) -> list[tuple[str, int, int | None, int]]:
    async with db.session() as session:
        found = await session.execute(
            select(Segment.path, Segment.start_us, Segment.end_us, Segment.bytes)
        )
        return [(p, s, e, b) for p, s, e, b in found]


@pytest.mark.timeout(240)
async def test_kill_9_then_restart_recovers_every_camera(
    simulator: Simulator, tmp_path: Path
) -> None:
    infos = {i.name: i for i in simulator.cameras}
    config = tmp_path / "vms.toml"
    text = (
        '[server]\nhost = "127.0.0.1"\nport = 0\ndata_dir = "data"\n'
        f'[storage]\nrecordings_dir = "recordings"\nsegment_seconds = {SEGMENT_SECONDS}\n'
    )
    for name in NAMES:
        text += camera_toml(name, infos[name].rtsp_main_url, f"pw-{name}")
    config.write_text(text)
    settings = load_config(config)
    vms = Path(sys.executable).parent / "vms"
    log = (tmp_path / "server.log").open("w")
    server = subprocess.Popen(
        [str(vms), "serve", "--config", str(config)], stdout=log, stderr=subprocess.STDOUT
    )
    db = Database(settings.database_url)
    try:
        # Wait until every camera has a closed segment and is some seconds into the next,
        # not near its rollover. The windows are wide so that cameras whose segments are
        # out of phase (one connected later) still share a moment inside them.
        async def mid_segment() -> bool:
            if not settings.database_url or not (settings.data_dir / "vms.db").exists():
                return False
            try:
                found = await rows(db)
            except Exception:
                return False  # schema not there yet
            now = time.time() * 1e6
            per_camera = {n: [r for r in found if f"/{n}/" in r[0]] for n in NAMES}
            return all(
                any(r[2] is not None for r in mine)
                and any(r[2] is None and 2e6 < now - r[1] < 8.5e6 for r in mine)
                for mine in per_camera.values()
            )

        await eventually(mid_segment, 90, 0.25, what="every camera mid-segment")
        workers = children_of(server.pid)
        killed_at = time.time()
        os.kill(server.pid, signal.SIGKILL)
        server.wait()
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
        log.close()
    # The recorder workers die with the server (they would otherwise go on writing); the
    # kernel tells them at once, they stop within a second or so.
    await eventually(lambda: not [p for p in workers if alive(p)], 10, 0.1, what="no worker left")
    interrupted = [r for r in await rows(db) if r[2] is None]
    await db.close()
    assert sorted(Path(r[0]).parts[-4] for r in interrupted) == NAMES

    # Restart: reconciliation closes the interrupted segments from what the files hold.
    restarted = VmsServer(load_config(config), config, record=True)
    await restarted.start()
    try:
        report = restarted.recording.last_reconcile if restarted.recording else None
        assert report is not None
        assert sorted(str(f.path) for f in report.closed) == sorted(r[0] for r in interrupted)

        async def recording_again() -> bool:  # every camera, after the restart
            found = [r for r in await rows(restarted.db) if r[1] > killed_at * 1e6]
            return all(any(f"/{n}/" in r[0] for r in found) for n in NAMES)

        await eventually(recording_again, 60, 0.25, what="every camera recording again")
    finally:
        await restarted.stop()

    db = Database(settings.database_url)
    try:
        catalog = {Path(p): (s, e, b) for p, s, e, b in await rows(db)}
    finally:
        await db.close()
    on_disk = {p: p.stat().st_size for p in settings.recordings_dir.rglob("*.mp4")}
    assert set(catalog) == set(on_disk)
    for path, (_start, end, size) in catalog.items():
        assert end is not None, f"{path} left open"
        assert size == on_disk[path], path
    for path_text, start_us, _end, _bytes in interrupted:
        path = Path(path_text)
        assert decode_errors(path) == ""
        info = probe(path)
        assert info.video_frames > 0
        end_us = catalog[path][1]
        assert end_us is not None
        missing = killed_at - end_us / 1e6
        print(f"{path.name}: {missing:.2f} s lost to the kill")
        # The fragment being written (0.75 s), the frame in flight and the fsync.
        assert missing <= 1.0, (path, missing)
        assert abs((end_us - start_us) / 1e6 - info.duration) < 0.25
