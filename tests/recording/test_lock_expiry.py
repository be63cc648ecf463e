"""Automatic evidence locks expire, so a busy detector cannot lock every recording.

The demo fires a simulated gunshot every minute and its rule locks the nearby cameras:
after 8 minutes the locks covered 100 % of the recorded bytes and retention could free
nothing. Locks taken by rules and plug-ins now end after ``[evidence]
automatic_lock_days`` (the demo: ``[demo] automatic_lock_minutes``); a person's lock, or a
person confirming an automatic one, never expires.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.conftest import bearer
from tests.eventually import eventually
from tests.recording.test_storage_api import add_segment
from vms_core.server import VmsServer
from vms_core.storage import retention
from vms_core.timeutil import iso, now_us, parse_time

S = 1_000_000
CAMERA = """
[[cameras]]
name = "front"
rtsp_url = "rtsp://127.0.0.1:9/front"
record = false
retention = { max_bytes = 3000 }
[[rules]]
name = "gunshot evidence"
match = "gunshot.*"
[[rules.actions]]
type = "bookmark"
before_seconds = 60
after_seconds = 60
lock = true
"""
QUIET = "".join(f"[plugins.{n}]\nenabled = false\n" for n in ("analytics", "lpr", "gunshot"))
# About 2.6 s: long enough to see the lock hold, short enough to see it end.
LOCK_DAYS = 0.00003


async def _bookmarks(http: aiohttp.ClientSession, url: str, token: str) -> list[dict[str, Any]]:
    async with http.get(url + "/api/bookmarks", headers=bearer(token)) as r:
        return list(await r.json())


async def test_an_automatic_lock_ends_and_retention_frees_what_it_held(
    make_server: Callable[..., Any],
    http: aiohttp.ClientSession,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(retention, "DIR_QUIET_SECONDS", 0.0)
    running = await make_server(CAMERA + QUIET + f"[evidence]\nautomatic_lock_days = {LOCK_DAYS}\n")
    server: VmsServer = running.server
    base = now_us() - 3600 * S
    files = [await add_segment(server, "front", base + i * 10 * S, 10, 1000) for i in range(5)]
    admin = await running.admin_token()
    front = (await server.cameras.visible())[0].id
    async with http.post(
        running.url + "/api/events",
        headers=bearer(admin),
        json={
            "type": "gunshot.detected",
            "camera_ids": [front],
            "severity": "high",
            "time": iso(base + 25 * S),
        },
    ) as r:
        assert r.status == 201
    await server.events.drain()
    [mark] = await _bookmarks(http, running.url, admin)
    assert mark["locked"] and mark["created_by"] == "rule:gunshot evidence"
    expires = parse_time(mark["lock_expires"])
    assert abs(expires - (parse_time(mark["created"]) + LOCK_DAYS * 86_400 * S)) < S

    # While it holds, retention keeps everything it covers, over the byte limit or not.
    first = await server.retention.run_once()
    assert first.segments_deleted == 0 and all(f.exists() for f in files)

    async def freed() -> int:
        run = await server.retention.run_once()
        assert run.segments_deleted, "the lock still holds"
        return run.segments_deleted

    # Hang guard: the lock ends about 2.6 s after it was taken.
    assert await eventually(freed, 30, 0.5, what="retention after the lock expired") == 2
    assert [f.exists() for f in files] == [False, False, True, True, True]
    [mark] = await _bookmarks(http, running.url, admin)
    assert mark["locked"] is False and mark["lock_expires"] is not None  # why it ended
    async with http.get(
        running.url + "/api/audit?action=evidence.lock_expired", headers=bearer(admin)
    ) as r:
        [entry] = await r.json()
    assert entry["username"] == "system" and entry["detail"]["cameras"] == [front]


async def test_a_persons_lock_never_expires_even_on_an_automatic_one(
    make_server: Callable[..., Any], http: aiohttp.ClientSession
) -> None:
    running = await make_server(CAMERA + QUIET + f"[evidence]\nautomatic_lock_days = {LOCK_DAYS}\n")
    server: VmsServer = running.server
    front = (await server.cameras.visible())[0].id
    operator = await running.token("ana", "operator", [front])
    async with http.post(
        running.url + "/api/events",
        headers=bearer(operator),
        json={"type": "gunshot.detected", "camera_ids": [front], "severity": "high"},
    ) as r:
        assert r.status == 201
    await server.events.drain()
    [automatic] = await _bookmarks(http, running.url, operator)
    assert automatic["lock_expires"] is not None
    # The operator keeps it: locking it again makes it theirs, without an end.
    async with http.patch(
        f"{running.url}/api/bookmarks/{automatic['id']}",
        json={"locked": True},
        headers=bearer(operator),
    ) as r:
        kept = await r.json()
    assert kept["locked"] is True and kept["lock_expires"] is None
    span = {"start": iso(now_us()), "end": iso(now_us() + 10 * S)}
    async with http.post(
        running.url + "/api/bookmarks",
        headers=bearer(operator),
        json={"cameras": [front], **span, "reason": "seen on the wall", "lock": True},
    ) as r:
        [manual] = await r.json()
    assert manual["lock_expires"] is None
    assert await server.bookmarks.expire_locks() == 0


async def test_the_demos_automatic_locks_last_minutes(
    make_server: Callable[..., Any], http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    def as_demo(server: VmsServer) -> None:
        server.demo = True

    running = await make_server(
        CAMERA + QUIET + "[demo]\nautomatic_lock_minutes = 5\n", before_start=as_demo
    )
    front = (await running.server.cameras.visible())[0].id
    admin = await running.admin_token()
    async with http.post(
        running.url + "/api/events",
        headers=bearer(admin),
        json={"type": "gunshot.detected", "camera_ids": [front], "severity": "high"},
    ) as r:
        assert r.status == 201
    await running.server.events.drain()
    [mark] = await _bookmarks(http, running.url, admin)
    lasts = parse_time(mark["lock_expires"]) - parse_time(mark["created"])
    assert abs(lasts - 5 * 60 * S) < S


async def test_retention_still_frees_when_ending_locks_fails(
    make_server: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a full disk the catalog may refuse the update that ends expired locks; the pass
    that frees the disk must run all the same."""
    from sqlalchemy.exc import OperationalError

    monkeypatch.setattr(retention, "DIR_QUIET_SECONDS", 0.0)
    running = await make_server(CAMERA + QUIET)
    server: VmsServer = running.server
    base = now_us() - 3600 * S
    files = [await add_segment(server, "front", base + i * 10 * S, 10, 1000) for i in range(5)]

    async def refused() -> None:
        raise OperationalError("UPDATE bookmarks ...", {}, Exception("database or disk is full"))

    server.retention.before_pass = refused
    run = await server.retention.run_once()
    assert run.segments_deleted == 2
    assert [f.exists() for f in files] == [False, False, True, True, True]
