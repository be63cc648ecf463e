"""Managing simulated ONVIF cameras through the HTTP API: add, health, PTZ, snapshot,
change, remove, discovery scans."""

from __future__ import annotations

import asyncio
import io
import json
import subprocess
from typing import Any

import aiohttp
import pytest
from PIL import Image

from tests.conftest import bearer
from tests.eventually import eventually
from tests.loops import sim_config
from tests.onvif.conftest import QUIET, sim_camera
from vms_core.recording import url_with_credentials
from vms_core.simulator.discovery import DiscoveryEndpoint, _Sequence, hello_message
from vms_core.simulator.simulator import Simulator


async def _add(
    http: aiohttp.ClientSession, url: str, token: str, body: dict[str, Any]
) -> tuple[int, dict[str, Any]]:
    async with http.post(f"{url}/api/cameras", json=body, headers=bearer(token)) as response:
        return response.status, await response.json()


def _ffprobe(url: str) -> dict[str, Any]:
    out = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-rtsp_transport",
            "tcp",
            "-show_streams",
            "-select_streams",
            "v",
            "-of",
            "json",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return dict(json.loads(out.stdout))


async def test_add_each_camera_by_onvif_fills_two_profiles_and_playable_streams(
    cameras: Simulator, make_server: Any, http: aiohttp.ClientSession
) -> None:
    running = await make_server(QUIET)
    token = await running.admin_token()
    added = []
    for info in cameras.cameras:
        status, camera = await _add(
            http,
            running.url,
            token,
            {
                "name": info.name,
                "onvif_url": info.onvif_url,
                "username": info.username,
                "password": info.password,
                "record": False,
            },
        )
        assert status == 201, camera
        assert camera["state"] == "online", camera
        assert (camera["manufacturer"], camera["model"]) == (info.manufacturer, info.model)
        assert camera["has_ptz"] == info.ptz
        streams = {s["role"]: s for s in camera["streams"]}
        assert set(streams) == {"main", "sub"}
        assert (streams["main"]["width"], streams["main"]["height"]) == (320, 180)
        assert (streams["sub"]["width"], streams["sub"]["height"]) == (160, 90)
        assert streams["main"]["url"] == info.rtsp_main_url
        assert streams["sub"]["url"] == info.rtsp_sub_url
        assert streams["main"]["codec"] == "h264"
        assert "password" not in camera  # only has_password
        assert info.password not in json.dumps(camera)
        added.append(camera)

    # The stored URL plays (with the camera's login, which the API never shows).
    main_url = url_with_credentials(
        added[1]["streams"][0]["url"], cameras.cameras[1].username, cameras.cameras[1].password
    )
    probe = await asyncio.to_thread(_ffprobe, main_url)
    video = probe["streams"][0]
    assert (video["codec_name"], video["width"], video["height"]) == ("h264", 320, 180)

    # Credentials are encrypted at rest.
    raw = (running.server.settings.data_dir / "vms.db").read_bytes()
    assert cameras.cameras[0].password.encode() not in raw

    async with http.get(f"{running.url}/api/cameras", headers=bearer(token)) as response:
        listed = await response.json()
    assert [c["name"] for c in listed] == [i.name for i in cameras.cameras]


async def test_wrong_password_is_unauthorized_with_a_reason_and_others_stay_fine(
    cameras: Simulator, make_server: Any, http: aiohttp.ClientSession
) -> None:
    running = await make_server(QUIET)
    token = await running.admin_token()
    good, bad = cameras.cameras[1], cameras.cameras[2]
    status, ok = await _add(
        http,
        running.url,
        token,
        {
            "name": good.name,
            "onvif_url": good.onvif_url,
            "username": good.username,
            "password": good.password,
            "record": False,
        },
    )
    assert status == 201 and ok["state"] == "online"
    status, refused = await _add(
        http,
        running.url,
        token,
        {
            "name": bad.name,
            "onvif_url": bad.onvif_url,
            "username": bad.username,
            "password": "not-the-password",
            "record": False,
        },
    )
    assert status == 201
    assert refused["state"] == "unauthorized"
    assert "refused the username or password" in refused["state_reason"]
    assert refused["streams"] == []
    assert refused["state_changed"] is not None

    async with http.get(f"{running.url}/api/cameras/{ok['id']}", headers=bearer(token)) as r:
        assert (await r.json())["state"] == "online"
    await running.server.events.drain()
    events = await running.server.events.query(camera_id=refused["id"])
    assert [e.type for e in events] == ["camera.unauthorized"]
    assert "refused the username or password" in events[0].data["reason"]

    # Fixing the password through PATCH brings it online with its streams.
    async with http.patch(
        f"{running.url}/api/cameras/{refused['id']}",
        json={"password": bad.password},
        headers=bearer(token),
    ) as response:
        assert response.status == 200
        fixed = await response.json()
    assert fixed["state"] == "online"
    assert {s["role"] for s in fixed["streams"]} == {"main", "sub"}


async def test_ptz_move_through_the_api_changes_the_camera_position(
    cameras: Simulator, make_server: Any, http: aiohttp.ClientSession
) -> None:
    running = await make_server(QUIET)
    token = await running.admin_token()
    info = cameras.cameras[0]
    _, camera = await _add(
        http,
        running.url,
        token,
        {
            "name": info.name,
            "onvif_url": info.onvif_url,
            "username": info.username,
            "password": info.password,
            "record": False,
        },
    )
    ptz_url = f"{running.url}/api/cameras/{camera['id']}/ptz"
    operator = await running.token("op", "operator", [camera["id"]])
    viewer = await running.token("view", "viewer", [camera["id"]])
    async with http.get(ptz_url, headers=bearer(operator)) as response:
        before = await response.json()
    assert {p["name"] for p in before["presets"]} >= {"Home"}
    head = cameras.camera(info.name).ptz
    assert head is not None

    move = {"action": "move", "pan": 1.0, "tilt": 0.5, "timeout": 5}
    async with http.post(ptz_url, json=move, headers=bearer(viewer)) as response:
        assert response.status == 403
    async with http.post(ptz_url, json=move, headers=bearer(operator)) as response:
        assert response.status == 200, await response.text()
    await asyncio.sleep(0.4)
    async with http.get(ptz_url, headers=bearer(operator)) as response:
        moving = await response.json()
    assert moving["moving"] is True
    assert moving["pan"] > before["pan"] + 0.05
    assert moving["tilt"] > before["tilt"]
    async with http.post(ptz_url, json={"action": "stop"}, headers=bearer(operator)) as response:
        assert response.status == 200
    async with http.get(ptz_url, headers=bearer(operator)) as response:
        assert (await response.json())["moving"] is False

    # Presets, by name, through the server's plug-in entry point and the API.
    await running.server.ptz_goto_preset(str(camera["id"]), "Home")
    async with http.post(
        ptz_url, json={"action": "goto_preset", "preset": "nope"}, headers=bearer(operator)
    ) as response:
        assert response.status == 404
    try:
        await running.server.ptz_goto_preset("99999", "Home")
    except ValueError as err:
        assert "no camera" in str(err)
    else:
        raise AssertionError("an unknown camera must raise ValueError")

    # A camera without PTZ says so.
    other = cameras.cameras[1]
    _, plain = await _add(
        http,
        running.url,
        token,
        {
            "name": other.name,
            "onvif_url": other.onvif_url,
            "username": other.username,
            "password": other.password,
            "record": False,
        },
    )
    async with http.post(
        f"{running.url}/api/cameras/{plain['id']}/ptz",
        json={"action": "stop"},
        headers=bearer(token),
    ) as response:
        assert response.status == 409


async def test_snapshot_is_the_cameras_jpeg(
    cameras: Simulator, make_server: Any, http: aiohttp.ClientSession
) -> None:
    running = await make_server(QUIET)
    token = await running.admin_token()
    info = cameras.cameras[1]
    _, camera = await _add(
        http,
        running.url,
        token,
        {
            "name": info.name,
            "onvif_url": info.onvif_url,
            "username": info.username,
            "password": info.password,
            "record": False,
        },
    )
    async with http.get(
        f"{running.url}/api/cameras/{camera['id']}/snapshot.jpg", headers=bearer(token)
    ) as response:
        assert response.status == 200
        assert response.content_type == "image/jpeg"
        picture = Image.open(io.BytesIO(await response.read()))
    assert picture.format == "JPEG"
    assert picture.size == (320, 180)

    # A plain RTSP camera has no snapshot URI: the picture is decoded from its live feed.
    rtsp = url_with_credentials(info.rtsp_sub_url, info.username, info.password)
    status, plain = await _add(
        http, running.url, token, {"name": "plain-rtsp", "rtsp_url": rtsp, "record": False}
    )
    assert status == 201, plain
    assert plain["streams"][0]["url"] == info.rtsp_sub_url  # login redacted
    async with http.get(
        f"{running.url}/api/cameras/{plain['id']}/snapshot.jpg", headers=bearer(token)
    ) as response:
        assert response.status == 200, await response.text()
        picture = Image.open(io.BytesIO(await response.read()))
    assert picture.size == (160, 90)


async def test_a_failing_snapshot_uri_falls_back_to_a_live_keyframe(
    make_server: Any, http: aiohttp.ClientSession
) -> None:
    # docs/operator.md: "the camera's own JPEG, else a live keyframe".
    sim = Simulator(
        sim_config(
            cameras=[sim_camera(1, snapshot_fails=True, ptz=False)],
            discovery=False,
            media=True,
        )
    )
    await sim.start()
    try:
        info = sim.cameras[0]
        running = await make_server(QUIET)
        token = await running.admin_token()
        status, camera = await _add(
            http,
            running.url,
            token,
            {
                "name": info.name,
                "onvif_url": info.onvif_url,
                "username": info.username,
                "password": info.password,
                "record": False,
            },
        )
        assert status == 201 and camera["state"] == "online", camera
        async with http.get(
            f"{running.url}/api/cameras/{camera['id']}/snapshot.jpg", headers=bearer(token)
        ) as response:
            assert response.status == 200, await response.text()
            picture = Image.open(io.BytesIO(await response.read()))
        assert picture.format == "JPEG"
        assert picture.size == (160, 90)  # the sub stream's keyframe, not the camera's JPEG
    finally:
        await sim.stop()


async def test_remove_and_config_cameras_are_refused(
    cameras: Simulator, make_server: Any, http: aiohttp.ClientSession
) -> None:
    info = cameras.cameras[2]
    running = await make_server(
        QUIET
        + f'\n[[cameras]]\nname = "from-config"\nrtsp_url = "{info.rtsp_main_url}"\n'
        + "record = false\n"
    )
    token = await running.admin_token()
    listed = await running.server.cameras.visible()
    config_id = listed[0].id
    async with http.delete(f"{running.url}/api/cameras/{config_id}", headers=bearer(token)) as r:
        assert r.status == 409
    status, camera = await _add(
        http,
        running.url,
        token,
        {
            "onvif_url": info.onvif_url,
            "username": info.username,
            "password": info.password,
            "record": False,
        },
    )
    assert status == 201
    assert camera["name"].startswith("cam-127.0.0.1-")
    status, duplicate = await _add(
        http, running.url, token, {"name": camera["name"], "rtsp_url": info.rtsp_main_url}
    )
    assert status == 409
    assert "exists already" in duplicate["error"]["message"]
    # Locked evidence keeps the camera from being deleted.
    async with http.post(
        f"{running.url}/api/bookmarks",
        json={
            "cameras": [camera["id"]],
            "start": "2026-01-01T00:00:00Z",
            "end": "2026-01-01T00:01:00Z",
            "reason": "case 17",
            "lock": True,
        },
        headers=bearer(token),
    ) as r:
        assert r.status == 201, await r.text()
        [bookmark] = await r.json()
    async with http.delete(f"{running.url}/api/cameras/{camera['id']}", headers=bearer(token)) as r:
        assert r.status == 409
        assert "locked evidence" in (await r.json())["error"]["message"]
    async with http.patch(
        f"{running.url}/api/bookmarks/{bookmark['id']}",
        json={"locked": False},
        headers=bearer(token),
    ) as r:
        assert r.status == 200, await r.text()
    async with http.delete(f"{running.url}/api/cameras/{camera['id']}", headers=bearer(token)) as r:
        assert r.status == 204
    async with http.get(f"{running.url}/api/cameras/{camera['id']}", headers=bearer(token)) as r:
        assert r.status == 404


async def test_discovery_scan_through_the_api_finds_the_cameras_by_unicast(
    cameras: Simulator, make_server: Any, http: aiohttp.ClientSession
) -> None:
    running = await make_server(QUIET)
    token = await running.admin_token()
    assert cameras.discovery is not None
    first = cameras.cameras[0]
    _, added = await _add(
        http,
        running.url,
        token,
        {
            "name": "known",
            "onvif_url": first.onvif_url,
            "username": first.username,
            "password": first.password,
            "record": False,
        },
    )
    body = {
        "ranges": ["127.0.0.1/32"],
        "multicast": False,
        "timeout": 0.5,
        "port": cameras.discovery.port,
    }
    async with http.post(
        f"{running.url}/api/discovery/scans", json=body, headers=bearer(token)
    ) as response:
        assert response.status == 202
        scan = await response.json()
    assert scan["status"] == "running"

    async def finished() -> Any:
        async with http.get(
            f"{running.url}/api/discovery/scans/{scan['id']}", headers=bearer(token)
        ) as response:
            found = await response.json()
        return found if found["status"] != "running" else None

    scan = await eventually(finished, 5, 0.1, what="the scan finished")
    assert scan["status"] == "done"
    assert scan["rejected"] == []
    assert sorted(d["name"] for d in scan["devices"]) == [c.name for c in cameras.cameras]
    assert {d["xaddrs"][0] for d in scan["devices"]} == {c.onvif_url for c in cameras.cameras}
    assert [d["camera_id"] for d in scan["devices"]] == [added["id"], None, None]

    # Announcements the server heard (fed directly: multicast needs a test namespace).
    listener = running.server.camera_manager.scans.listener
    assert listener is not None
    endpoint = DiscoveryEndpoint("urn:uuid:hello", (cameras.cameras[0].onvif_url,), ())
    listener.received(hello_message(endpoint, _Sequence()), "127.0.0.1")
    async with http.get(
        f"{running.url}/api/discovery/announcements", headers=bearer(token)
    ) as response:
        assert await response.json() == [
            {
                "endpoint_reference": "urn:uuid:hello",
                "xaddrs": [cameras.cameras[0].onvif_url],
                "scopes": [],
                "types": ["dn:NetworkVideoTransmitter", "tds:Device"],
                "address": "127.0.0.1",
                "name": "",
                "hardware": "",
                "location": "",
                "camera_id": added["id"],
            }
        ]
    async with http.post(
        f"{running.url}/api/discovery/scans",
        json={"ranges": ["10.0.0.0/8"], "multicast": False},
        headers=bearer(token),
    ) as response:
        assert response.status == 400


async def test_settings_urls_win_and_ptz_still_finds_its_profile(
    cameras: Simulator, make_server: Any, http: aiohttp.ClientSession
) -> None:
    # A camera with ONVIF and an explicit main RTSP URL (as `vms demo` adds them): the URL
    # stays, the sub stream comes from ONVIF, PTZ asks the camera for its profile.
    info = cameras.cameras[0]
    explicit = info.rtsp_main_url + "?explicit=1"
    running = await make_server(
        QUIET
        + f'\n[[cameras]]\nname = "mixed"\nonvif_url = "{info.onvif_url}"\n'
        + f'rtsp_url = "{explicit}"\nusername = "{info.username}"\n'
        + f'password = "{info.password}"\nrecord = false\n'
    )
    token = await running.admin_token()
    [camera] = await running.server.cameras.visible()
    description = await running.server.camera_manager.health.check(camera.id)
    assert description is not None
    async with http.get(f"{running.url}/api/cameras/{camera.id}", headers=bearer(token)) as r:
        shown = await r.json()
    streams = {s["role"]: s["url"] for s in shown["streams"]}
    assert streams == {"main": explicit, "sub": info.rtsp_sub_url}
    assert shown["has_ptz"] is True
    changes = await running.server.cameras.sync_from_config(running.server.settings)
    assert changes == []  # the reload finds nothing to change: no ping-pong
    head = cameras.camera(info.name).ptz
    assert head is not None
    await running.server.ptz_goto_preset("mixed", "Crossing")
    async with http.get(
        f"{running.url}/api/cameras/{camera.id}/ptz", headers=bearer(token)
    ) as response:
        status = await response.json()
    crossing = next(p for p in status["presets"] if p["name"] == "Crossing")
    assert crossing["token"]
    preset = next(p for p in cameras.camera(info.name).config.presets if p.name == "Crossing")
    assert (head.position().pan, head.position().tilt) == pytest.approx((preset.pan, preset.tilt))
    assert (status["pan"], status["tilt"]) == pytest.approx((preset.pan, preset.tilt))


async def test_an_onvif_check_does_not_overrule_a_lost_signal(
    cameras: Simulator, make_server: Any
) -> None:
    """Recording reports the signal lost while an ONVIF check of the same camera is under
    way: the camera answering ONVIF does not make it "online" again (the check used to read
    the state, then write "online" over what was reported meanwhile)."""
    info = cameras.cameras[0]
    running = await make_server(
        QUIET
        + f'\n[[cameras]]\nname = "door"\nonvif_url = "{info.onvif_url}"\n'
        + f'username = "{info.username}"\npassword = "{info.password}"\nrecord = false\n'
    )
    server = running.server
    [camera] = await server.cameras.visible()
    await eventually(
        lambda: camera_state(server, camera.id, "online"), 20, 0.05, what="first check done"
    )
    health = server.camera_manager.health
    # The report lands at every point of a check in turn, until the check is done before it.
    for turns in range(0, 5000, 3):  # the window is four turns or more (measured)
        await server.cameras.set_state(camera.id, "unknown", "not checked yet")
        check = asyncio.create_task(health.check(camera.id))
        for _ in range(turns):
            await asyncio.sleep(0)
        checked_before = check.done()
        await server.cameras.set_state(camera.id, "lost", "no packets for 10 s")
        assert await check is not None
        now = await server.cameras.get(camera.id)
        assert now is not None
        assert (now.state, now.state_reason) == ("lost", "no packets for 10 s"), turns
        if checked_before:
            break
    assert checked_before, "no check ran to its end before the report"
    await server.cameras.set_state(camera.id, "unreachable", "timed out")
    assert await server.camera_manager.health.check(camera.id) is not None
    now = await server.cameras.get(camera.id)
    assert now is not None and now.state == "online"  # over its own kind of state, it does


async def camera_state(server: Any, camera_id: int, state: str) -> bool:
    camera = await server.cameras.get(camera_id)
    return camera is not None and camera.state == state


async def test_a_state_report_for_a_deleted_camera_changes_nothing(make_server: Any) -> None:
    """The recorder reports a camera's state while the camera is being deleted: the report
    changes nothing and fails nothing (it raised StaleDataError, logged as an ERROR)."""
    running = await make_server(
        '[[cameras]]\nname = "gone"\nrtsp_url = "rtsp://127.0.0.1:9/x"\nrecord = false\n'
    )
    cameras = running.server.cameras
    (camera,) = await cameras.visible()
    assert await cameras.set_state(camera.id, "lost", "no packets") is True
    assert await cameras.set_state(camera.id, "lost", "no packets") is False  # no change
    assert await cameras.set_state(camera.id, "lost", "other reason") is True
    await cameras.remove(camera.id)
    assert await cameras.set_state(camera.id, "error", "stopped") is False
    assert await cameras.get(camera.id) is None
