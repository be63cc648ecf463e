"""Retention on real files and a real catalog; /api/storage, vms storage and the
recordings API (spans, gaps, permissions)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import update

from tests.conftest import bearer
from vms_core.db.models import Segment
from vms_core.media.segment_writer import segment_path
from vms_core.server import VmsServer
from vms_core.storage import retention
from vms_core.timeutil import from_us, iso, now_us, parse_time

CAMERAS = """
[[cameras]]
name = "front"
rtsp_url = "rtsp://127.0.0.1:9/front"
record = false
retention = { max_bytes = 3000 }
[[cameras]]
name = "back"
rtsp_url = "rtsp://127.0.0.1:9/back"
record = false
"""
S = 1_000_000


async def add_segment(
    server: VmsServer, camera: str, start_us: int, seconds: int, size: int
) -> Path:
    """A segment file of ``size`` bytes where the recorder would put it, and its row."""
    cameras = {c.name: c.id for c in await server.cameras.visible()}
    path = segment_path(server.settings.recordings_dir, camera, from_us(start_us))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\0" * size)
    async with server.db.session() as session:
        session.add(
            Segment(
                camera_id=cameras[camera],
                path=str(path),
                stream_role="main",
                codec="h264",
                start_us=start_us,
                end_us=start_us + seconds * S,
                bytes=size,
            )
        )
    return path


async def test_retention_keeps_locked_and_newest_and_reports_it(
    make_server: Callable[..., Any],
    http: aiohttp.ClientSession,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Folders are normally left alone for a minute after they change (the recorder may be
    # creating a segment in one); these were all written just now.
    monkeypatch.setattr(retention, "DIR_QUIET_SECONDS", 0.0)
    running = await make_server(CAMERAS)
    server: VmsServer = running.server
    ids = {c.name: c.id for c in await server.cameras.visible()}
    base = now_us() - 3600 * S
    front = [await add_segment(server, "front", base + i * 10 * S, 10, 1000) for i in range(5)]
    ancient = await add_segment(server, "back", base - 40 * 86_400 * S, 10, 500)
    recent = await add_segment(server, "back", base, 10, 500)
    admin = await running.admin_token()
    lock = {
        "cameras": [ids["front"]],
        "start": iso(base + 2 * S),
        "end": iso(base + 4 * S),
        "reason": "incident 42",
        "lock": True,
    }
    async with http.post(f"{running.url}/api/bookmarks", json=lock, headers=bearer(admin)) as r:
        assert r.status == 201, await r.text()

    run = await server.retention.run_once()

    # front: 5000 bytes, cap 3000: its oldest unlocked two go; the locked first one stays.
    assert [p.exists() for p in front] == [True, False, False, True, True]
    # back: over the default 30 days only the ancient one goes.
    assert not ancient.exists() and recent.exists()
    assert (run.segments_deleted, run.bytes_freed, run.errors) == (3, 2500, [])
    assert not ancient.parent.exists()  # emptied hour folder removed
    async with http.get(
        f"{running.url}/api/cameras/{ids['front']}/recordings",
        params={"start": iso(base), "end": iso(base + 50 * S), "segments": "true"},
        headers=bearer(admin),
    ) as r:
        listed = await r.json()
    assert [s["start"] for s in listed["segments"]] == [
        iso(base),
        iso(base + 30 * S),
        iso(base + 40 * S),
    ]

    async with http.get(f"{running.url}/api/storage", headers=bearer(admin)) as r:
        assert r.status == 200
        report = await r.json()
    by_name = {c["name"]: c for c in report["cameras"]}
    assert by_name["front"]["bytes"] == 3000 and by_name["front"]["locked_bytes"] == 1000
    assert by_name["front"]["oldest"] == iso(base) and by_name["front"]["max_bytes"] == 3000
    assert by_name["back"]["bytes"] == 500 and by_name["back"]["locked_bytes"] == 0
    assert report["total"] == {"segments": 4, "bytes": 3500, "locked_bytes": 1000}
    assert report["last_run"]["segments_deleted"] == 3
    assert report["disk"]["free_bytes"] > 0

    viewer = await running.token("watcher", "viewer", [ids["front"]])
    async with http.get(f"{running.url}/api/storage", headers=bearer(viewer)) as r:
        assert r.status == 403

    # The CLI reads the same catalog (and the last run the server saved).
    vms = Path(sys.executable).parent / "vms"
    out = await asyncio.to_thread(
        subprocess.run,
        [str(vms), "storage", "--json", "--config", str(server.config_path)],
        capture_output=True,
        text=True,
        check=True,
    )
    printed = json.loads(out.stdout)
    assert printed["total"] == report["total"]
    assert printed["last_run"]["bytes_freed"] == 2500
    text = await asyncio.to_thread(
        subprocess.run,
        [str(vms), "storage", "--config", str(server.config_path)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "front" in text.stdout and "3 segments, 2.4 KB freed" in text.stdout


async def test_recordings_spans_and_gaps_across_midnight(
    make_server: Callable[..., Any], http: aiohttp.ClientSession
) -> None:
    running = await make_server(CAMERAS)
    server: VmsServer = running.server
    ids = {c.name: c.id for c in await server.cameras.visible()}
    midnight = parse_time("2026-03-02T00:00:00Z")
    await add_segment(server, "front", midnight - 10 * S, 10, 100)
    await add_segment(server, "front", midnight, 10, 100)
    await add_segment(server, "front", midnight + 20 * S, 10, 100)
    admin = await running.admin_token()
    url = f"{running.url}/api/cameras/{ids['front']}/recordings"
    query = {"start": "2026-03-01T23:59:40Z", "end": "2026-03-02T00:00:40Z"}
    async with http.get(url, params=query, headers=bearer(admin)) as r:
        assert r.status == 200
        body = await r.json()
    assert [(s["start"], s["end"], s["segments"]) for s in body["spans"]] == [
        ("2026-03-01T23:59:50.000Z", "2026-03-02T00:00:10.000Z", 2),
        ("2026-03-02T00:00:20.000Z", "2026-03-02T00:00:30.000Z", 1),
    ]
    assert [(g["start"], g["seconds"]) for g in body["gaps"]] == [
        ("2026-03-01T23:59:40.000Z", 10.0),
        ("2026-03-02T00:00:10.000Z", 10.0),
        ("2026-03-02T00:00:30.000Z", 10.0),
    ]
    assert body["recorded_seconds"] == 30.0 and "segments" not in body

    only_back = await running.token("backdoor", "viewer", [ids["back"]])
    async with http.get(url, params=query, headers=bearer(only_back)) as r:
        assert r.status == 404
    async with http.get(
        f"{running.url}/api/cameras/{ids['back']}/recordings", headers=bearer(only_back)
    ) as r:
        assert r.status == 200
        assert (await r.json())["spans"] == []
    bad = {"start": "2026-03-01T23:59:40", "end": "2026-03-02T00:00:40Z"}
    async with http.get(url, params=bad, headers=bearer(admin)) as r:
        assert r.status == 400


async def test_storage_reports_the_floor_retention_works_to(
    make_server: Callable[..., Any], http: aiohttp.ClientSession
) -> None:
    """The free-disk floor retention keeps is min_free_bytes plus room for the segments
    still being written; /api/storage and `vms storage` report that one (issue #15: they
    reported min_free_bytes alone while retention deleted to the larger floor)."""
    running = await make_server(CAMERAS + "[retention]\nmin_free_bytes = 1000\n")
    server: VmsServer = running.server
    ids = {c.name: c.id for c in await server.cameras.visible()}
    # "back" records: its last segment was 100 kB, its open one holds 30 kB so far, so
    # retention keeps 1.25 x 100 kB - 30 kB = 95 kB free for it on top of the floor.
    server.retention.segment_closed(ids["back"], 100_000)
    path = await add_segment(server, "back", now_us() - 5 * S, 5, 30_000)
    async with server.db.session() as session:
        await session.execute(update(Segment).where(Segment.path == str(path)).values(end_us=None))
    run = await server.retention.run_once()
    assert run.segments_deleted == 0
    admin = await running.admin_token()
    async with http.get(f"{running.url}/api/storage", headers=bearer(admin)) as r:
        assert r.status == 200
        report = await r.json()
    assert report["limits"]["min_free_bytes"] == 1000
    assert report["disk"]["floor_bytes"] == 1000 + 95_000
