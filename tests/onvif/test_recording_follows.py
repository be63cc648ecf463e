"""A camera added through the API starts recording without a restart, and stops when it
is removed."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp

from tests.conftest import bearer
from tests.eventually import eventually
from tests.onvif.conftest import QUIET
from vms_core.simulator.simulator import Simulator


async def _state(http: aiohttp.ClientSession, url: str, token: str) -> str:
    async with http.get(url, headers=bearer(token)) as response:
        return str((await response.json())["state"])


async def test_added_camera_records_and_removed_camera_stops(
    cameras: Simulator, make_server: Any, http: aiohttp.ClientSession
) -> None:
    running = await make_server(QUIET, record=True)
    token = await running.admin_token()
    info = cameras.cameras[1]
    async with http.post(
        f"{running.url}/api/cameras",
        json={
            "name": info.name,
            "onvif_url": info.onvif_url,
            "username": info.username,
            "password": info.password,
        },
        headers=bearer(token),
    ) as response:
        camera = await response.json()
    camera_url = f"{running.url}/api/cameras/{camera['id']}"

    async def streaming() -> bool:
        return await _state(http, camera_url, token) == "streaming"

    await eventually(streaming, 30, 0.2, what="the added camera streaming")
    folder = running.server.settings.recordings_dir / info.name
    await eventually(lambda: any(folder.rglob("*.mp4")), 30, 0.2, what="a recording on disk")

    async with http.delete(camera_url, headers=bearer(token)) as response:
        assert response.status == 204
    # Recording stopped: the files stop growing (fragments are written every second).
    await asyncio.sleep(0.5)
    sizes = {f: f.stat().st_size for f in folder.rglob("*.mp4")}
    await asyncio.sleep(2.5)
    assert {f: f.stat().st_size for f in folder.rglob("*.mp4")} == sizes
