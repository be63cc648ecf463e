"""A camera that keeps failing publishes its transition once: reconnect attempts are not
events, a flapping camera is folded into one ``camera.flapping``, while the camera's state
in the API stays exact."""

from __future__ import annotations

import socket
import time
from importlib.metadata import entry_points
from typing import Any

import aiohttp

from tests.conftest import bearer
from tests.eventually import eventually, eventually_sync
from tests.media.rtsp_camera import RtspCameras, small_loop
from tests.media.states import States
from tests.onvif.conftest import QUIET
from vms_core.cameras.state_events import StateEvent, StateEventDebouncer
from vms_core.media.hub import StreamHub
from vms_core.media.ingest import IngestOptions, IngestState
from vms_core.media.sources import make_ingest


def kinds(events: list[StateEvent]) -> list[str]:
    return [e.kind for e in events]


def test_a_dead_camera_is_one_event_then_a_rare_reminder() -> None:
    debouncer = StateEventDebouncer(reminder_seconds=3600)
    events = debouncer.observe("cam", "connecting", "", 0.0)
    events += debouncer.observe("cam", "error", "Connection refused", 0.1, attempts=1)
    for attempt in range(2, 7000):  # an hour of what a worker said before: 4 events/s
        at = attempt * 0.5
        events += debouncer.observe("cam", "connecting", "", at)
        events += debouncer.observe("cam", "error", "Connection refused", at + 0.1, attempt)
        events += debouncer.due(at)
    assert kinds(events) == ["error"]
    reminder = debouncer.due(3600.2)
    assert kinds(reminder) == ["still_down"]
    assert reminder[0].data["attempts"] == 6999 and reminder[0].data["down_seconds"] > 3600
    assert debouncer.due(3700) == []


def test_a_drop_and_a_return_are_one_event_each() -> None:
    debouncer = StateEventDebouncer()
    events = debouncer.observe("cam", "streaming", "", 10.0)
    events += debouncer.observe("cam", "lost", "end of stream", 20.0)
    events += debouncer.observe("cam", "lost", "503 Service Unavailable", 20.3, attempts=1)
    events += debouncer.observe("cam", "lost", "503 Service Unavailable", 20.3, attempts=7)
    events += debouncer.observe("cam", "streaming", "", 24.0)
    assert kinds(events) == ["streaming", "lost", "streaming"]
    assert events[1].data == {"reason": "end of stream"} and events[1].at == 20.0
    assert events[2].data == {"reason": "", "down_seconds": 4.0, "attempts": 7}


def test_a_flapping_camera_is_one_event_until_it_settles() -> None:
    debouncer = StateEventDebouncer(
        flap_interruptions=3, flap_window_seconds=120, settle_seconds=60
    )
    events: list[StateEvent] = []
    at = 0.0
    for _cycle in range(60):  # up 1 s, down 1 s, for 2 minutes
        events += debouncer.observe("cam", "streaming", "", at)
        events += debouncer.observe("cam", "lost", "end of stream", at + 1)
        events += debouncer.due(at + 1.5)
        at += 2
    events += debouncer.observe("cam", "streaming", "", at)
    # The third interruption within the window is the flapping, not a third "lost".
    assert kinds(events) == ["streaming", "lost", "streaming", "lost", "streaming", "flapping"]
    assert events[-1].data["interruptions"] == 3
    assert debouncer.due(at + 59) == []
    settled = debouncer.due(at + 60)
    assert kinds(settled) == ["streaming"]
    assert settled[0].at == at and settled[0].data["interruptions"] == 60
    assert debouncer.due(at + 3600) == []  # streaming: nothing to recall


def test_a_flapping_camera_that_settles_down_says_so_and_is_recalled() -> None:
    debouncer = StateEventDebouncer(settle_seconds=60, reminder_seconds=600)
    events: list[StateEvent] = []
    for cycle in range(4):
        events += debouncer.observe("cam", "streaming", "", cycle * 2.0)
        events += debouncer.observe("cam", "lost", "end of stream", cycle * 2.0 + 1)
    assert kinds(events)[-1] == "flapping"
    settled = debouncer.due(7.0 + 60)  # down since the last drop, at 7 s
    assert kinds(settled) == ["lost"] and settled[0].at == 7.0
    assert debouncer.due(7.0 + 599) == []
    assert kinds(debouncer.due(7.0 + 600)) == ["still_down"]


def test_a_forgotten_camera_starts_afresh() -> None:
    debouncer = StateEventDebouncer()
    assert kinds(debouncer.observe("cam", "error", "x", 0.0)) == ["error"]
    debouncer.forget("cam")
    assert debouncer.due(10_000) == []
    assert kinds(debouncer.observe("cam", "error", "x", 1.0)) == ["error"]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_reconnect_attempts_are_counted_not_reported() -> None:
    states = States()
    url = f"rtsp://127.0.0.1:{_closed_port()}/dead"
    ingest = make_ingest("dead", url, StreamHub("dead"), options=IngestOptions(), on_state=states)
    ingest.start()
    try:
        # Hang guard: about 2 attempts a second.
        eventually_sync(lambda: ingest.status.attempts >= 8, 30, what="8 failed attempts")
    finally:
        ingest.stop()
    reported = [(s.state, s.attempts) for s in states.seen]
    assert reported == [(IngestState.ERROR, 1), (IngestState.STOPPED, 0)]
    assert "Connection refused" in (states.seen[0].reason or "")


def _config(url: str) -> str:
    text = QUIET
    for entry in entry_points(group="vms.plugins"):  # plug-ins would decode the camera
        text += f"[plugins.{entry.name}]\nenabled = false\n"
    return text + f'[[cameras]]\nname = "door"\nrtsp_url = "{url}"\n'


async def test_a_camera_down_for_a_while_is_one_event_down_and_one_back(
    rtsp_cameras: RtspCameras, make_server: Any, http: aiohttp.ClientSession
) -> None:
    url = rtsp_cameras.add("door", small_loop(None))
    rtsp_cameras.set_down("door", True)  # answers 503 to every DESCRIBE
    running = await make_server(_config(url), record=True)
    headers = bearer(await running.admin_token())
    api = f"{running.url}/api"

    async def camera() -> dict[str, Any]:
        async with http.get(f"{api}/cameras/1", headers=headers) as response:
            return dict(await response.json())

    async def camera_events() -> list[dict[str, Any]]:
        query = {"type": "camera.*", "camera": "1"}
        async with http.get(f"{api}/events", params=query, headers=headers) as response:
            return list(reversed(await response.json()))

    async def refused_again_and_again() -> bool:
        status = await camera()
        assert status["state"] == "error" and "503" in status["state_reason"], status
        return rtsp_cameras.server.connections >= 6  # the recorder kept trying

    began = time.monotonic()
    await eventually(refused_again_and_again, 30, what="the camera refused, several times")
    assert [e["type"] for e in await camera_events()] == ["camera.error"]

    rtsp_cameras.set_down("door", False)
    await eventually(lambda: _state_is(camera, "streaming"), 30, what="the camera streaming again")
    events = await eventually(
        lambda: _with_types(camera_events, 2), 10, what="the return announced"
    )
    assert [e["type"] for e in events] == ["camera.error", "camera.streaming"]
    back = events[1]["data"]
    assert back["attempts"] >= 5 and 0 < back["down_seconds"] < time.monotonic() - began + 1


async def _state_is(camera: Any, state: str) -> bool:
    return bool((await camera())["state"] == state)


async def _with_types(events: Any, count: int) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = await events()
    assert len(found) >= count, found
    return found
