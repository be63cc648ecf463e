import asyncio
from datetime import timedelta

import numpy as np
import pytest
from vms_sdk import (
    AudioChunk,
    Camera,
    ConfigError,
    Event,
    HttpRequest,
    HttpResponse,
    Notification,
    PluginContext,
    PluginInfo,
    Principal,
    Route,
    hookimpl,
    utc_now,
)
from vms_sdk.testing import PluginTestHost, make_frame

from tests.sdk import gunshot_example

CAMS = [
    Camera("c1", "Main St", lat=40.0, lon=-75.0, heading_deg=90, fov_deg=90, has_ptz=True),
    Camera("c2", "Far", lat=41.0, lon=-75.0),
]


async def test_gunshot_event_bookmarks_nearby_camera() -> None:
    async with PluginTestHost(gunshot_example, {"radius_m": 300}, CAMS) as host:
        assert isinstance(host, PluginContext)
        shot = Event("gunshot.detected", lat=40.0, lon=-74.999)
        await host.emit_event(shot)
        await host.emit_event(Event("camera.lost", camera_ids=("c1",)))
        assert len(host.bookmarks) == 1
        mark = host.bookmarks[0]
        assert mark.camera_ids == ("c1",)
        assert mark.locked and mark.end - mark.start == timedelta(seconds=30)
        assert host.ptz_moves == [("c1", "street")]
        assert host.kv.get("handled") == 1


async def test_routes_publish_events_and_read_state() -> None:
    async with PluginTestHost(gunshot_example, cameras=CAMS) as host:
        resp = await host.request("POST", "/alerts", json={"lat": 40.0, "lon": -75.0})
        assert resp.status == 201
        assert [e.type for e in host.events] == ["gunshot.detected"]
        assert host.events[0].source == "gunshot"
        assert resp.decoded_json() == {"id": host.events[0].id}
        assert [r.public for r in host.routes] == [True, False]

        stats = await host.request("GET", "/stats/me")
        assert stats.decoded_json() == {"handled": 0, "who": {"who": "me"}}
        assert (await host.request("GET", "/nope")).status == 404
        assert (await host.request("DELETE", "/alerts")).status == 405


async def test_frames_reach_a_sync_analyser_only_when_subscribed() -> None:
    async with PluginTestHost(gunshot_example, cameras=CAMS) as host:
        bright = np.full((180, 320), 255, np.uint8)
        assert await host.feed_frame(make_frame("c1", image=bright))
        assert not await host.feed_frame(make_frame("c2", image=bright))
        color = np.full((18, 32, 3), 255, np.uint8)
        assert not await host.feed_frame(make_frame("c1", image=color))  # wants gray
        assert await host.feed_frame(make_frame("c1", fmt="gray"))  # dark: nothing found
        assert [(e.type, e.camera_ids) for e in host.events] == [("flash.detected", ("c1",))]


async def test_bad_config_raises_config_error_naming_key() -> None:
    with pytest.raises(ConfigError) as err:
        await PluginTestHost(gunshot_example, {"radius_m": -1}).start()
    assert err.value.key == "radius_m"


async def test_hanging_hook_fails_the_test_in_time() -> None:
    class Hangs:
        @staticmethod
        def vms_plugin_info():  # type: ignore[no-untyped-def]
            return gunshot_example.vms_plugin_info()

        async def vms_on_event(self, event: Event) -> None:
            await asyncio.sleep(60)

    from vms_sdk import hookimpl

    hookimpl(Hangs.vms_plugin_info)
    hookimpl(Hangs.vms_on_event)
    host = await PluginTestHost(Hangs(), call_timeout=0.2).start()
    with pytest.raises(TimeoutError):
        await host.emit_event(Event("x.y"))


def test_kv_rejects_non_json_values() -> None:
    host = PluginTestHost(gunshot_example)
    with pytest.raises(TypeError):
        host.kv.set("k", object())
    host.kv.set("k", {"a": [1, 2]})
    assert list(host.kv.items()) == [("k", {"a": [1, 2]})]


async def test_audio_and_segments_and_notifications_reach_the_plugin() -> None:
    import textwrap
    import types

    from tests.plugins.plugin_sources import LISTENER

    listener = types.ModuleType("listener_under_test")
    exec(textwrap.dedent(LISTENER), listener.__dict__)
    async with PluginTestHost(listener) as host:
        loud = np.full(4000, 0.95, np.float32)
        assert await host.feed_audio(AudioChunk("c1", utc_now(), 8000, loud))
        assert not await host.feed_audio(AudioChunk("c9", utc_now(), 8000, loud))
        assert [e.type for e in host.events] == ["gunshot.detected"]
        assert await host.deliver(Notification("chat", "hi")) is None  # not a channel plug-in


class _GuardedPlugin:
    """Routes that look at their caller: one camera's data, and a setting for operators."""

    @hookimpl
    def vms_plugin_info(self) -> PluginInfo:
        return PluginInfo("guarded", "0.1.0")

    @hookimpl
    def vms_routes(self) -> list[Route]:
        def reads(request: HttpRequest) -> HttpResponse:
            who = request.require_role("viewer")
            rows = [{"camera": "c1", "n": 1}, {"camera": "c2", "n": 2}]
            return HttpResponse(json=who.visible(rows, lambda r: str(r["camera"])))

        def body(request: HttpRequest) -> HttpResponse:
            return HttpResponse(json=request.json())

        return [
            Route("GET", "/reads", reads),
            Route("POST", "/settings", body, role="operator"),
            Route("POST", "/hook", body, public=True),
        ]


async def test_routes_see_the_callers_cameras_and_roles_like_on_the_server() -> None:
    viewer = Principal(5, "vic", "viewer", frozenset({"c1"}))
    async with PluginTestHost(_GuardedPlugin(), cameras=CAMS) as host:
        everything = await host.request("GET", "/reads")  # TEST_ADMIN by default
        assert [r["camera"] for r in everything.decoded_json()] == ["c1", "c2"]
        mine = await host.request("GET", "/reads", principal=viewer)
        assert mine.decoded_json() == [{"camera": "c1", "n": 1}]
        refused = await host.request("POST", "/settings", json={"a": 1}, principal=viewer)
        assert refused.status == 403 and "operator" in refused.decoded_json()["error"]["message"]
        operator = Principal(6, "olga", "operator", frozenset())
        ok = await host.request("POST", "/settings", json={"a": 1}, principal=operator)
        assert ok.decoded_json() == {"a": 1}
        nested = b"[" * 2000 + b"]" * 2000
        for headers in ({"content-type": "application/json"}, {}):
            bad = await host.request("POST", "/hook", body=nested, headers=headers)
            assert bad.status == 400, "host or json() refuses it, never a RecursionError"
            assert bad.decoded_json()["error"]["code"] == "bad_request"
