"""Each channel type, delivered to a real receiver on loopback."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
import vms_plugin_notify_chat
from vms_sdk import Camera, ConfigError, Event, Notification, Severity
from vms_sdk.testing import PluginTestHost

from tests.notify_chat.receivers import ChatReceiver, MailReceiver

JPEG = b"\xff\xd8\xff\xe0" + b"picture" * 50 + b"\xff\xd9"
WEBHOOK_SECRET = "webhook shared secret 123"
CAMERAS = [Camera("1", "Madison & Ogden"), Camera("2", "Ogden north")]
WHEN = datetime(2026, 11, 22, 9, 30, 5, tzinfo=UTC)
FAST = {"backoff_s": 0.05, "first_attempt_wait_s": 3}


def alert(channel: str, title: str = "Gunshot: 3 rounds near 1500 W Madison St") -> Notification:
    event = Event("gunshot.detected", time=WHEN, camera_ids=("1", "2"), severity="high")
    return Notification(
        channel,
        title,
        "3 rounds. Cameras: Madison & Ogden; Ogden north",
        severity=Severity.HIGH,
        event=event,
        camera_ids=("1", "2"),
    )


@pytest.fixture
async def receiver() -> AsyncIterator[ChatReceiver]:
    chat = await ChatReceiver().start()
    yield chat
    await chat.stop()


async def fetch_snapshot(host: PluginTestHost, url: str) -> bytes:
    assert url.startswith(host.public_url + "snapshots/")
    resp = await host.request("GET", url[len(host.public_url) - 1 :])
    assert resp.status == 200 and resp.content_type == "image/jpeg"
    return resp.body


async def test_slack_block_kit_with_snapshot_and_deep_links(receiver: ChatReceiver) -> None:
    config = {"channels": {"ops": {"type": "slack", "url": receiver.url, **FAST}}}
    async with PluginTestHost(vms_plugin_notify_chat.NotifyChatPlugin, config, CAMERAS) as host:
        host.snapshots["1"] = JPEG
        result = await host.deliver(alert("ops"))
        assert result is not None and result.delivered, result
        [got] = await receiver.wait_for(1)
        body = got.json()
        kinds = [b["type"] for b in body["blocks"]]
        assert kinds[0] == "header" and "image" in kinds and "actions" in kinds
        assert "Madison & Ogden" in body["text"]
        image = next(b for b in body["blocks"] if b["type"] == "image")
        assert await fetch_snapshot(host, image["image_url"]) == JPEG
        buttons = next(b for b in body["blocks"] if b["type"] == "actions")["elements"]
        assert [b["url"] for b in buttons] == [
            "http://vms.test/#/camera/1?t=2026-11-22T09:30:05Z",
            "http://vms.test/#/camera/2?t=2026-11-22T09:30:05Z",
        ]
        assert (await host.request("GET", "/snapshots/../../etc.jpg")).status == 404


@pytest.mark.parametrize("kind", ["mattermost", "rocketchat"])
async def test_slack_compatible_attachments(kind: str, receiver: ChatReceiver) -> None:
    config = {"channels": {"ops": {"type": kind, "url": receiver.url, **FAST}}}
    async with PluginTestHost(vms_plugin_notify_chat.NotifyChatPlugin, config, CAMERAS) as host:
        host.snapshots["1"] = JPEG
        assert (await host.deliver(alert("ops"))).delivered  # type: ignore[union-attr]
        [got] = await receiver.wait_for(1)
        [attachment] = got.json()["attachments"]
        assert attachment["title_link"].endswith("#/camera/1?t=2026-11-22T09:30:05Z")
        assert "[Ogden north](http://vms.test/#/camera/2" in attachment["text"]
        assert await fetch_snapshot(host, attachment["image_url"]) == JPEG


async def test_teams_adaptive_card(receiver: ChatReceiver) -> None:
    config = {"channels": {"ops": {"type": "teams", "url": receiver.url, **FAST}}}
    async with PluginTestHost(vms_plugin_notify_chat.NotifyChatPlugin, config, CAMERAS) as host:
        host.snapshots["1"] = JPEG
        assert (await host.deliver(alert("ops"))).delivered  # type: ignore[union-attr]
        [got] = await receiver.wait_for(1)
        [attachment] = got.json()["attachments"]
        assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
        card = attachment["content"]
        assert card["type"] == "AdaptiveCard"
        assert [a["title"] for a in card["actions"]] == ["Open Madison & Ogden", "Open Ogden north"]
        assert any(b["type"] == "Image" for b in card["body"])


async def test_generic_webhook_is_signed(receiver: ChatReceiver) -> None:
    channel = {"type": "webhook", "url": receiver.url, "secret": WEBHOOK_SECRET, **FAST}
    async with PluginTestHost(
        vms_plugin_notify_chat.NotifyChatPlugin, {"channels": {"hook": channel}}, CAMERAS
    ) as host:
        assert (await host.deliver(alert("hook"))).delivered  # type: ignore[union-attr]
        [got] = await receiver.wait_for(1)
        ts = got.headers["X-VMS-Timestamp"]
        expected = hmac.new(WEBHOOK_SECRET.encode(), ts.encode() + b"." + got.body, hashlib.sha256)
        assert got.headers["X-VMS-Signature"] == "sha256=" + expected.hexdigest()
        body = got.json()
        assert body["event"]["type"] == "gunshot.detected"
        assert [c["name"] for c in body["cameras"]] == ["Madison & Ogden", "Ogden north"]


async def test_email_with_snapshot_attached() -> None:
    mail = MailReceiver().start()
    try:
        channel = {
            "type": "email",
            "host": "127.0.0.1",
            "port": mail.port,
            "from": "vms@city.example",
            "to": ["watch@city.example", "sergeant@city.example"],
            **FAST,
        }
        async with PluginTestHost(
            vms_plugin_notify_chat.NotifyChatPlugin, {"channels": {"mail": channel}}, CAMERAS
        ) as host:
            host.snapshots["1"] = JPEG
            result = await host.deliver(alert("mail"))
            assert result is not None and result.delivered, result
            await mail.wait_for(1)
        [(_, rcpt, message)] = mail.messages
        assert sorted(rcpt) == ["sergeant@city.example", "watch@city.example"]
        assert message["Subject"] == "[HIGH] Gunshot: 3 rounds near 1500 W Madison St"
        text = message.get_body(("plain",)).get_content()
        assert "Madison & Ogden: http://vms.test/#/camera/1?t=2026-11-22T09:30:05Z" in text
        [picture] = list(message.iter_attachments())
        assert picture.get_content_type() == "image/jpeg"
        assert picture.get_content() == JPEG
    finally:
        mail.stop()


async def test_other_channels_are_not_taken(receiver: ChatReceiver) -> None:
    config = {"channels": {"ops": {"type": "slack", "url": receiver.url}}}
    async with PluginTestHost(vms_plugin_notify_chat.NotifyChatPlugin, config, CAMERAS) as host:
        assert await host.deliver(alert("sms")) is None
    assert receiver.attempts == []


@pytest.mark.parametrize(
    ("config", "key"),
    [
        ({"channels": {"a": {"type": "fax", "url": "http://x"}}}, "channels.a.type"),
        ({"channels": {"a": {"type": "slack"}}}, "channels.a.url"),
        ({"channels": {"a": {"type": "webhook", "url": "http://x/"}}}, "channels.a.secret"),
        ({"channels": {"a": {"type": "email", "host": "mx", "from": "a@b"}}}, "channels.a.to"),
        (
            {"channels": {"a": {"type": "slack", "url": "http://x", "rate_limt": 3}}},
            "channels.a.rate_limt",
        ),
        (
            {"channels": {"a": {"type": "slack", "url": "http://x", "rate_limit": 0}}},
            "channels.a.rate_limit",
        ),
    ],
)
async def test_bad_settings_name_the_key(config: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        await PluginTestHost(vms_plugin_notify_chat.NotifyChatPlugin, config).start()
    assert caught.value.key == key
