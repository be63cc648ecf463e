"""Incident follow-up: ranking, PTZ presets, notifications, settings errors."""

from __future__ import annotations

import json

import pytest
import vms_plugin_gunshot
from vms_sdk import Camera, ConfigError
from vms_sdk.testing import PluginTestHost

from tests.eventually import eventually
from tests.gunshot.test_webhook import SECRET, alert, signed

SPOT = (41.8812, -87.6620)
CAMERAS = [
    # 60 m west of the spot, looking east at it.
    Camera("1", "West cam", lat=41.8812, lon=-87.66272, heading_deg=90, fov_deg=60),
    # 25 m east of the spot, but looking further east (away).
    Camera("2", "East cam", lat=41.8812, lon=-87.6617, heading_deg=90, fov_deg=60),
    # 100 m north, PTZ with presets.
    Camera("3", "Tower PTZ", lat=41.8821, lon=-87.6620, has_ptz=True, presets=("north", "south")),
    Camera("4", "Out of range", lat=41.8900, lon=-87.6620),
]
CONFIG = {
    "secret": SECRET,
    "radius_m": 150,
    "notify_channels": ["slack", "mail"],
    "presets": {
        "Tower PTZ": {"north": [41.8840, -87.6620], "south": [41.8810, -87.6620]},
    },
}


async def fire(host: PluginTestHost) -> dict[str, object]:
    body = json.dumps(alert(lat=SPOT[0], lon=SPOT[1])).encode()
    resp = await host.request("POST", "/alerts", body=body, headers=signed(body))
    assert resp.status == 201, resp.decoded_json()
    # The follow-up (PTZ, notifications) runs in the background.
    await eventually(lambda: len(host.notifications) == 2, 5, 0.01, what="two notifications")
    answer: dict[str, object] = resp.decoded_json()
    return answer


async def test_cameras_facing_the_spot_rank_first_and_far_ones_are_left_out() -> None:
    async with PluginTestHost(vms_plugin_gunshot.GunshotPlugin, CONFIG, CAMERAS) as host:
        answer = await fire(host)
        order = [c["id"] for c in answer["cameras"]]  # type: ignore[attr-defined]
        # West cam faces the spot; the PTZ's heading is unknown; East cam, though
        # nearest, faces away.
        assert order == ["1", "3", "2"]
        assert host.events[0].camera_ids == ("1", "3", "2")


async def test_ptz_goes_to_nearest_preset_and_channels_are_told() -> None:
    async with PluginTestHost(vms_plugin_gunshot.GunshotPlugin, CONFIG, CAMERAS) as host:
        await fire(host)
        assert host.ptz_moves == [("3", "south")]
        assert sorted(n.channel for n in host.notifications) == ["mail", "slack"]
        note = host.notifications[0]
        assert note.camera_ids == ("1", "3", "2")
        for name in ("West cam", "East cam", "Tower PTZ"):
            assert name in note.text
        assert "Out of range" not in note.text
        assert "1500 W Madison St" in note.title


@pytest.mark.parametrize(
    ("config", "key"),
    [
        ({"secret": "short"}, "secret"),
        ({"radius_m": -1}, "radius_m"),
        ({"presets": {"cam": {"p1": [1.0]}}}, "presets.cam.p1"),
        ({"radious_m": 100}, "radious_m"),
    ],
)
async def test_bad_settings_name_the_key(config: dict[str, object], key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        await PluginTestHost(vms_plugin_gunshot.GunshotPlugin, config).start()
    assert caught.value.key == key
