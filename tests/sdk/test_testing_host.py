import asyncio
from datetime import timedelta

import numpy as np
import pytest
from vms_sdk import AudioChunk, Camera, ConfigError, Event, Notification, PluginContext, utc_now
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
