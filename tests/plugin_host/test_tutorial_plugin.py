"""Acceptance: the plug-in written by following docs/plugins.md alone, pip-installed into
this environment, runs inside a real server with simulated cameras."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from vms_sdk.webhooks import sign

from tests.conftest import bearer
from tests.eventually import eventually
from tests.plugin_host.conftest import REPO, SPOTS, camera_tables, tutorial_files
from vms_core.simulator.simulator import Simulator

SECRET = "a long random shared secret"
DIST = "vms-plugin-shotalert"


@pytest.fixture
def installed_tutorial_plugin(tmp_path: Path) -> Iterator[Path]:
    """Steps 1, 2 and 4 of the tutorial: the files it shows, then `pip install`."""
    files = tutorial_files((REPO / "docs/plugins.md").read_text())
    assert set(files) >= {"pyproject.toml", "vms_plugin_shotalert/__init__.py"}, files.keys()
    project = tmp_path / DIST
    for name, text in files.items():
        path = project / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run(
        [*pip, "install", "--no-deps", "--no-build-isolation", str(project)],
        check=True,
        capture_output=True,
    )
    importlib.invalidate_caches()
    try:
        yield project
    finally:
        subprocess.run([*pip, "uninstall", "-y", DIST], capture_output=True)
        sys.modules.pop("vms_plugin_shotalert", None)


async def test_tutorial_plugin_installed_with_pip_runs_in_the_server(
    installed_tutorial_plugin: Path,
    cameras_sim: Simulator,
    make_server: Callable[..., Any],
    http: aiohttp.ClientSession,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("VMS_PLUGINS", "shotalert")  # only this one of what is installed
    config = camera_tables(cameras_sim) + (
        f'\n[plugins.shotalert]\nsecret = "{SECRET}"\n'
        'grant = ["events", "bookmarks", "evidence_locks", "frames", "public_routes"]\n'
    )
    srv = await make_server(config)
    token = await srv.admin_token()
    base = srv.url + "/api/plugins/shotalert"

    # Discovered through its entry point and configured from vms.toml.
    async with http.get(srv.url + "/api/plugins", headers=bearer(token)) as r:
        assert r.status == 200
        listed = {p["name"]: p for p in await r.json()}
    shot = listed["shotalert"]
    assert shot["state"] == "running", shot
    assert shot["version"] == "0.1.0"
    assert shot["source"].startswith(
        "entry point vms_plugin_shotalert:ShotAlert from vms-plugin-shotalert"
    )
    assert shot["permissions"]["missing"] == []

    # Its public webhook needs no login but checks the signature itself.
    lat, lon = SPOTS[0]
    body = json.dumps({"lat": lat, "lon": lon + 0.0005}).encode()  # ~40 m east of camera 1
    now = int(time.time())
    forged = {"X-Timestamp": str(now), "X-Signature": "forged"}
    async with http.post(base + "/alerts", data=body, headers=forged) as r:
        assert r.status == 401
        assert (await r.json())["error"]["message"] == "bad signature"
    signed = {"X-Timestamp": str(now), "X-Signature": sign(SECRET, now, body)}
    async with http.post(base + "/alerts", data=body, headers=signed) as r:
        assert r.status == 201, await r.text()
        answer = await r.json()
    async with http.post(base + "/alerts", data=body, headers=signed) as r:  # replayed
        assert r.status == 409
    assert answer["cameras"] == 1  # the tutorial looks 200 m around; camera 2 is ~440 m off
    async with http.get(srv.url + "/api/bookmarks", headers=bearer(token)) as r:
        marks = await r.json()
    first = min(c.id for c in await srv.server.cameras.visible())
    assert [(m["camera_id"], m["locked"], m["created_by"]) for m in marks] == [
        (first, True, "plugin:shotalert")
    ]
    assert marks[0]["event_id"] == answer["event"]  # the bookmark is linked to its event

    # The event it published is in the catalog with its name as source.
    async with http.get(srv.url + "/api/events?type=gunshot.*", headers=bearer(token)) as r:
        events = await r.json()
    assert [(e["id"], e["source"]) for e in events] == [(answer["event"], "shotalert")]

    # Its status page is not public: the server asks for a login first.
    async with http.get(base + "/status") as r:
        assert r.status == 401

    async def status() -> dict[str, Any] | None:
        async with http.get(base + "/status", headers=bearer(token)) as r:
            assert r.status == 200
            data: dict[str, Any] = await r.json()
        done = len(data["brightness"]) == 2 and data["events_seen"].get("gunshot.detected")
        return data if done else None

    # Frames of both cameras (grey, one a second) and the events reach it.
    # A hang guard: on a busy CI machine feeds open slowly.
    seen = await eventually(status, 60, 0.2, what="frames from both cameras and the event")
    assert seen["alerts"] == 1
    assert seen["events_seen"]["gunshot.detected"] == 1
    assert all(0 < b < 255 for b in seen["brightness"].values()), seen["brightness"]
    cams = {str(c.id) for c in await srv.server.cameras.visible()}
    assert set(seen["brightness"]) == cams
    # One grey picture a second from a camera with a 1 s GOP: once two keyframes have
    # shown the GOP length, only keyframes are decoded.
    taps = srv.server.plugins.sampler.taps()
    assert set(taps) == {(camera, "sub") for camera in cams}

    async def keyframes_only() -> bool:
        return all(getattr(tap, "keyframes_only", False) for tap in taps.values())

    await eventually(keyframes_only, 10, 0.2, what="keyframe-only decoding on every tap")
