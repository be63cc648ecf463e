"""End to end: a server with 6 simulated cameras on a map, both plug-ins enabled, a local
Slack stand-in and a local SMTP server. One signed alert near 3 cameras gives one
incident, locked bookmarks on those 3 only, one Slack message and one e-mail naming them,
within 2 s of the POST (measured and printed)."""

from __future__ import annotations

import importlib.metadata
import json
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select
from vms_plugin_gunshot.webhook import sign

from tests.loops import sim_config
from tests.notify_chat.receivers import ChatReceiver, MailReceiver
from tests.simulator.conftest import small_camera
from vms_core.db.models import AuditEntry, Bookmark, Camera, Event
from vms_core.simulator.simulator import Simulator

SECRET = "end-to-end shared secret"
SPOT = (41.7650, -72.6740)
# (lat offset, lon offset, heading): three cameras 55-85 m from the spot, three 550 m+.
PLACES = [
    (0.0005, 0.0, 180.0),
    (0.0, 0.0010, 270.0),
    (-0.0006, -0.0006, 45.0),
    (0.0050, 0.0, 180.0),
    (0.0, -0.0080, 90.0),
    (-0.0040, 0.0040, 0.0),
]
NEAR = {"e2e-cam-1", "e2e-cam-2", "e2e-cam-3"}


@pytest.fixture
async def six_cameras(tmp_path: Path) -> AsyncIterator[Simulator]:
    cameras = [
        small_camera(i + 1, name=f"e2e-cam-{i + 1}", ptz=False, show_name=False)
        for i in range(len(PLACES))
    ]
    config = sim_config(cameras=cameras, discovery=False)
    sim = Simulator(config)
    await sim.start()
    try:
        yield sim
    finally:
        await sim.stop()


def server_config(sim: Simulator, slack_url: str, smtp_port: int) -> str:
    parts = []
    for info, (dlat, dlon, heading) in zip(sim.cameras, PLACES, strict=True):
        parts.append(
            f"""
[[cameras]]
name = "{info.name}"
rtsp_url = "{info.rtsp_main_url}"
username = "{info.username}"
password = "{info.password}"
lat = {SPOT[0] + dlat}
lon = {SPOT[1] + dlon}
heading = {heading}
fov = 90.0
"""
        )
    # Only the two plug-ins under test: others installed in the venv stay off.
    for ep in importlib.metadata.entry_points(group="vms.plugins"):
        if ep.name not in ("gunshot", "notify_chat"):
            parts.append(f"\n[plugins.{ep.name}]\nenabled = false\n")
    parts.append(
        f"""
[plugins.gunshot]
secret = "{SECRET}"
radius_m = 150
notify_channels = ["slack", "mail"]

[plugins.notify_chat.channels.slack]
type = "slack"
url = "{slack_url}"
snapshot_timeout_s = 1.0

[plugins.notify_chat.channels.mail]
type = "email"
host = "127.0.0.1"
port = {smtp_port}
from = "vms@city.example"
to = ["watch@city.example"]
snapshot_timeout_s = 1.0
"""
    )
    return "".join(parts)


async def test_one_signed_alert_end_to_end(
    six_cameras: Simulator,
    make_server: Any,
    http: aiohttp.ClientSession,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("VMS_PLUGINS", "gunshot,notify_chat")
    slack = await ChatReceiver().start()
    mail = MailReceiver().start()
    try:
        running = await make_server(server_config(six_cameras, slack.url, mail.port))
        server = running.server
        async with server.db.session() as session:
            ids = {row.name: str(row.id) for row in await session.scalars(select(Camera))}
        near_ids = {ids[name] for name in NEAR}

        body = json.dumps(
            {
                "id": "SST-E2E-1",
                "time": datetime.now(UTC).isoformat(),
                "lat": SPOT[0],
                "lon": SPOT[1],
                "address": "Main St & Pearl St",
                "rounds": 4,
                "confidence": 0.97,
            }
        ).encode()
        ts = int(time.time())
        headers = {
            "Content-Type": "application/json",
            "X-Gunshot-Timestamp": str(ts),
            "X-Gunshot-Signature": sign(SECRET, ts, body),
        }
        url = f"{running.url.rstrip('/')}/api/plugins/gunshot/alerts"
        refusals = {
            "unsigned": (body, {"Content-Type": "application/json"}),
            "bad_signature": (body, {**headers, "X-Gunshot-Signature": sign("x" * 16, ts, body)}),
            "stale": (
                body,
                {
                    **headers,
                    "X-Gunshot-Timestamp": str(ts - 600),
                    "X-Gunshot-Signature": sign(SECRET, ts - 600, body),
                },
            ),
            # A JSON body that does not parse: the server refuses it before the plug-in runs.
            "bad_request": (
                b"{not json",
                {**headers, "X-Gunshot-Signature": sign(SECRET, ts, b"{not json")},
            ),
        }
        for code, (data, hdrs) in refusals.items():
            async with http.post(url, data=data, headers=hdrs) as resp:
                assert 400 <= resp.status < 500
                assert (await resp.json())["error"]["code"] == code
        async with server.db.session() as session:
            gunshots = select(Event).where(Event.type.like("gunshot%"))
            assert list(await session.scalars(gunshots)) == []
            assert list(await session.scalars(select(Bookmark))) == []
            refused = list(
                await session.scalars(
                    select(AuditEntry).where(AuditEntry.action == "plugin.request_refused")
                )
            )
        # The only trace a refused alert leaves: one audit entry each, with the reason.
        assert len(refused) == len(refusals)
        assert all(not entry.success and "gunshot POST" in entry.target for entry in refused)

        posted = time.monotonic()
        async with http.post(url, data=body, headers=headers) as resp:
            answered = time.monotonic()
            answer = await resp.json()
            assert resp.status == 201, answer
        async with http.post(url, data=body, headers=headers) as resp:  # replayed as is
            assert resp.status == 409 and (await resp.json())["error"]["code"] == "replayed"
        # A second copy of the same alert (re-signed) is the same incident.
        ts2 = ts + 1
        headers2 = {**headers, "X-Gunshot-Timestamp": str(ts2)}
        headers2["X-Gunshot-Signature"] = sign(SECRET, ts2, body)
        async with http.post(url, data=body, headers=headers2) as resp:
            assert resp.status == 200 and (await resp.json())["duplicate"] is True

        [message] = await slack.wait_for(1, timeout=10)
        await mail.wait_for(1, timeout=10)
        assert len(mail.messages) == 1
        slack_s = message.at - posted
        mail_s = mail.messages[0][0] - posted
        print(
            f"\nwebhook answered in {answered - posted:.3f} s; Slack message after "
            f"{slack_s:.3f} s; e-mail after {mail_s:.3f} s"
        )

        assert {c["id"] for c in answer["cameras"]} == near_ids
        async with server.db.session() as session:
            events = list(
                await session.scalars(select(Event).where(Event.type == "gunshot.detected"))
            )
            marks = list(await session.scalars(select(Bookmark)))
        assert len(events) == 1 and events[0].uid == answer["incident"]
        assert {str(m.camera_id) for m in marks} == near_ids
        assert all(m.locked for m in marks) and len(marks) == 3
        assert {m.end_us - m.start_us for m in marks} == {150_000_000}

        slack_text = json.dumps(message.json())
        mail_text = mail.messages[0][2].get_body(("plain",)).get_content()
        for name in NEAR:
            assert name in slack_text and name in mail_text
        for far in {"e2e-cam-4", "e2e-cam-5", "e2e-cam-6"}:
            assert far not in slack_text and far not in mail_text

        # Nothing more arrives later (one message per channel).
        await slack.wait_for(2, timeout=0.5)
        assert len(slack.received) == 1 and len(mail.messages) == 1
    finally:
        mail.stop()
        await slack.stop()
