"""Acceptance: `gunshot.* → bookmark -30 s..+120 s on cameras within 300 m, lock`, for a
gunshot a plug-in reports, locks exactly the cameras within 300 m."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.conftest import bearer
from tests.eventually import eventually
from tests.plugin_host.conftest import grants, plugin_kv, write_plugin

# Six cameras up Main St; distances from the shot at (41.76580, -72.67340):
# c1 ~0 m, c2 ~111 m, c3 ~250 m, c4 ~445 m, c5 ~890 m, c6 ~2.2 km.
PLACED = "".join(
    f'[[cameras]]\nname = "c{i}"\nrtsp_url = "rtsp://127.0.0.1:9/c{i}"\n'
    f"lat = {41.76580 + dlat}\nlon = -72.67340\nrecord = false\n"
    for i, dlat in enumerate([0.0, 0.001, 0.00225, 0.004, 0.008, 0.02], start=1)
)
RULE = """
[[rules]]
name = "gunshot evidence"
match = "gunshot.*"
[[rules.actions]]
type = "bookmark"
before_seconds = 30
after_seconds = 120
radius_m = 300
lock = true
[[rules.actions]]
type = "notify"
channel = "chat"
"""
CHAT = """
    from vms_sdk import DeliveryResult, PluginInfo, hookimpl

    @hookimpl
    def vms_plugin_info():
        return PluginInfo("chat", "1.0.0", requests=("channel",))

    @hookimpl
    def vms_notify(ctx, notification):
        if notification.channel != "chat":
            return None
        sent = [notification.event.id, str(notification.severity)]
        ctx.kv.set("sent", ctx.kv.get("sent", []) + [sent])
        return DeliveryResult("chat", True, "posted")
"""
DETECTOR = """
    from datetime import datetime
    from vms_sdk import Event, HttpResponse, PluginInfo, Route, Severity, hookimpl

    @hookimpl
    def vms_plugin_info():
        return PluginInfo("detector", "1.0.0", requests=("events", "public_routes"))

    @hookimpl
    def vms_routes(ctx):
        async def report(request):
            body = request.json()
            event = await ctx.publish_event(
                Event(
                    body["type"],
                    time=datetime.fromisoformat(body["time"]),
                    lat=body["lat"],
                    lon=body["lon"],
                    severity=Severity.HIGH,
                )
            )
            return HttpResponse(201, json={"id": event.id})

        return [Route("POST", "/report", report, public=True)]
"""


async def test_gunshot_rule_locks_exactly_the_cameras_within_300m_of_a_plugin_event(
    tmp_path: Path,
    make_server: Callable[..., Any],
    http: aiohttp.ClientSession,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("VMS_PLUGINS", "detector,chat")
    folder = write_plugin(tmp_path / "plugins", "detector", DETECTOR)
    write_plugin(folder, "chat", CHAT)
    srv = await make_server(
        PLACED
        + RULE
        + f'\n[plugin_host]\ndirs = ["{folder}"]\n'
        + grants("detector", capabilities=("events", "public_routes"))
        + grants("chat", capabilities=("channel",))
    )
    token = await srv.admin_token()
    url = srv.url + "/api/plugins/detector/report"
    spot = {"lat": 41.76580, "lon": -72.67340}
    async with http.post(
        url, json={"type": "gunshot.detected", "time": "2026-11-22T03:14:15+00:00", **spot}
    ) as r:
        assert r.status == 201, await r.text()
        shot = (await r.json())["id"]
    # A plug-in event the rule does not match bookmarks nothing.
    async with http.post(
        url, json={"type": "door.opened", "time": "2026-11-22T03:20:00+00:00", **spot}
    ) as r:
        assert r.status == 201
    await srv.server.events.drain()

    async with http.get(srv.url + "/api/bookmarks", headers=bearer(token)) as r:
        marks = await r.json()
    names = {c.id: c.name for c in await srv.server.cameras.visible()}
    assert sorted(names[m["camera_id"]] for m in marks) == ["c1", "c2", "c3"]
    for mark in marks:
        assert mark["locked"] is True
        assert mark["event_id"] == shot
        assert mark["created_by"] == "rule:gunshot evidence"
        assert (mark["start"], mark["end"]) == (
            "2026-11-22T03:13:45.000Z",
            "2026-11-22T03:16:15.000Z",
        )

    # The rule's notify action reached the channel plug-in, once, about this shot.
    sent = await eventually(
        lambda: _sent(srv.server), 5, 0.05, what="the notification at the channel plug-in"
    )
    assert sent == [[shot, "high"]]


async def _sent(server: Any) -> list[Any]:
    return list((await plugin_kv(server, "chat")).get("sent", []))
