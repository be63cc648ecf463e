"""Recordings for browser tests, without recording in real time: the run's recorded site
(tests/playback/recorded.py, built once per run) lent to a test's server.

Each of the server's cameras gets the last ``minutes`` of one site camera's recording:
its segment files are symbolic links in the server's recordings folder (the catalog wants
one path per segment, and several cameras may borrow the same site camera), and their
rows go into the server's catalog. The site's cameras show the wall clock's second of the
minute in their pictures, so a test can read which moment a player shows.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.conftest import SITE_HOURS
from tests.playback.recorded import SITE_CAMERAS, shared_recordings
from vms_core.db.models import Segment
from vms_core.server import VmsServer

# Steady cameras first: cam-drop's holes would surprise a test that did not ask for them.
STEADY = ["cam-a", "cam-b", "north", "south"]


def _links(
    recordings: Path, camera_id: int, rows: list[dict[str, object]]
) -> list[dict[str, object]]:
    folder = recordings / f"borrowed-{camera_id}"
    folder.mkdir(parents=True, exist_ok=True)
    linked = []
    for row in rows:
        source = Path(str(row["path"]))
        link = folder / source.name
        if not link.exists():
            link.symlink_to(source)
        linked.append({**row, "path": str(link)})
    return linked


async def lend_recordings(
    server: VmsServer, minutes: float, sources: list[str] | None = None
) -> int:
    """Give every camera of ``server`` (by name order) the last ``minutes`` of a site
    camera's recording (``sources`` in turn, default the steady ones). Returns when the
    borrowed recording ends (µs): a minute or more before now."""
    _folder, index = await asyncio.to_thread(shared_recordings, SITE_CAMERAS, SITE_HOURS * 3600)
    names = sources or STEADY
    ends = max(int(str(r["end_us"])) for rows in index.values() for r in rows)
    begin = ends - int(minutes * 60 * 1_000_000)
    cameras = sorted(await server.cameras.visible(), key=lambda c: c.name)
    added = []
    for number, camera in enumerate(cameras):
        rows = [
            r
            for r in index[names[number % len(names)]]
            if r["end_us"] is not None and int(str(r["end_us"])) > begin
        ]
        linked = await asyncio.to_thread(_links, server.settings.recordings_dir, camera.id, rows)
        added.extend(Segment(camera_id=camera.id, stream_role="main", **row) for row in linked)
    async with server.db.session() as session:
        session.add_all(added)
    return ends
