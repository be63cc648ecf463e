"""End to end: a real server with one simulated camera whose picture has a car with a
hotlisted plate crossing, the LPR and chat plug-ins enabled, a rule sending hotlist hits to
a local Slack stand-in. The hit is published within 3 s of the car appearing on the
camera's wall clock, and one Slack-format message follows (times printed)."""

from __future__ import annotations

import importlib.metadata
import json
import tempfile
import time
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from vms_sdk import Event

from tests.conftest import bearer
from tests.eventually import eventually
from tests.loops import sim_config
from tests.notify_chat.receivers import ChatReceiver
from tests.simulator.conftest import small_camera
from vms_core.simulator.config import VideoProfileConfig
from vms_core.simulator.simulator import Simulator

LOOP_S = 12
CAR_AT_S = 4.0  # the car appears when time.time() % LOOP_S == CAR_AT_S
SCENE = {
    "loop_seconds": LOOP_S,
    "vehicle": {"plate": "ABC1234", "every_s": LOOP_S, "crossing_s": 5, "first_at_s": CAR_AT_S},
}


@pytest.fixture
async def plate_camera(tmp_path: Path) -> AsyncIterator[Simulator]:
    camera = small_camera(
        1,
        name="lpr-cam",
        ptz=False,
        show_name=False,
        main=VideoProfileConfig(width=320, height=180, fps=5),
        sub=VideoProfileConfig(width=640, height=360, fps=5),
        scene=SCENE,
    )
    config = sim_config(cameras=[camera], discovery=False)
    sim = Simulator(config)
    await sim.start()
    try:
        yield sim
    finally:
        await sim.stop()


def server_config(sim: Simulator, hotlist: Path, slack_url: str) -> str:
    (info,) = sim.cameras
    parts = [
        f"""
[[cameras]]
name = "{info.name}"
rtsp_url = "{info.rtsp_main_url}"
sub_rtsp_url = "{info.rtsp_sub_url}"
username = "{info.username}"
password = "{info.password}"

[[rules]]
name = "stolen vehicles to chat"
match = "lpr.hotlist_hit"
min_severity = "high"
actions = [{{ type = "notify", channel = "slack" }}]

[plugins.lpr]
hotlists = {{ stolen = "{hotlist}" }}
read = ["{hotlist}"]

[plugins.notify_chat.channels.slack]
type = "slack"
url = "{slack_url}"
snapshot = false
"""
    ]
    for ep in importlib.metadata.entry_points(group="vms.plugins"):
        if ep.name not in ("lpr", "notify_chat"):
            parts.append(f"\n[plugins.{ep.name}]\nenabled = false\n")
    return "".join(parts)


async def test_hotlisted_plate_reaches_slack(
    plate_camera: Simulator,
    make_server: Any,
    http: aiohttp.ClientSession,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("VMS_PLUGINS", "lpr,notify_chat")
    # Where the plug-in's runner (another user) may read it, as an operator would put it;
    # pytest's own temporary folders are private to root.
    shared = Path(tempfile.mkdtemp(prefix="vms-hotlists-"))
    shared.chmod(0o755)
    hotlist = shared / "stolen.csv"
    hotlist.write_text("plate,reason\nABC1234,stolen 2026-04-30\n")
    slack = await ChatReceiver().start()
    hits: list[tuple[float, float, Event]] = []  # wall clock, monotonic, event

    async def on_event(event: Event) -> None:
        if event.type == "lpr.hotlist_hit":
            hits.append((time.time(), time.monotonic(), event))

    try:
        running = await make_server(
            server_config(plate_camera, hotlist, slack.url),
            before_start=lambda server: server.events.subscribe("test", on_event),
        )
        assert running.server is not None
        [message] = await slack.wait_for(1, timeout=3 * LOOP_S)
        assert hits, "a Slack message came without a hit event"
        published, published_mono, event = hits[0]
        after_s = (published - CAR_AT_S) % LOOP_S  # the simulator's loop runs on the wall clock
        # A figure, not a goal here (bench/lpr.py measures hotlist latency).
        print(
            f"\nhit published {after_s:.2f} s after the car appeared; Slack message "
            f"{message.at - published_mono:.2f} s after that"
        )
        assert event.data["plate"] == "ABC1234" and event.data["reason"] == "stolen 2026-04-30"
        slack_text = json.dumps(message.json())
        assert "lpr.hotlist_hit" in slack_text and "lpr-cam" in slack_text
        assert "blocks" in message.json()  # Slack's message format
        # The read is searchable through the server's API, fuzzily, with its crop.
        headers = bearer(await running.admin_token())
        url = f"{running.url.rstrip('/')}/api/plugins/lpr/reads"
        async with http.get(url, params={"plate": "A8C1234"}, headers=headers) as resp:
            assert resp.status == 200
            (read,) = (await resp.json())["reads"]
        assert read["plate"] == "ABC1234" and read["match"] == "fuzzy"
        async with http.get(f"{url}/{read['id']}/crop", headers=headers) as resp:
            assert resp.status == 200 and resp.content_type == "image/jpeg"
        async with http.get(url) as resp:
            assert resp.status == 401  # reads are for logged-in users only

        # The next pass of the same vehicle (a loop later; a crossing lasts 5 s) merges into
        # that read: no second hit.
        async def next_pass_merged() -> bool:
            async with http.get(url, params={"plate": "ABC1234"}, headers=headers) as resp:
                reads = (await resp.json())["reads"]
            assert len(reads) == 1, reads
            seen = datetime.fromisoformat(reads[0]["last_seen"]) - datetime.fromisoformat(
                reads[0]["time"]
            )
            return seen.total_seconds() >= LOOP_S / 2

        await eventually(next_pass_merged, 3 * LOOP_S, 0.5, what="the next pass merged")
        assert len(hits) == 1 and len(slack.received) == 1
    finally:
        await slack.stop()
