"""Retries, Retry-After, de-duplication, the rate limit and health, against a real
HTTP receiver on loopback."""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any

import pytest
import vms_plugin_notify_chat
from vms_sdk import Notification
from vms_sdk.testing import PluginTestHost

from tests.eventually import eventually
from tests.notify_chat.receivers import ChatReceiver, free_port
from tests.notify_chat.test_channels import CAMERAS, alert


def slack(url: str, **extra: Any) -> dict[str, Any]:
    channel = {"type": "slack", "url": url, "backoff_s": 0.1, "first_attempt_wait_s": 2}
    return {"channels": {"ops": {**channel, **extra}}}


async def status(host: PluginTestHost) -> dict[str, Any]:
    answer: dict[str, Any] = (await host.request("GET", "/status")).decoded_json()
    return answer["channels"]["ops"]


async def test_receiver_down_then_up_gets_the_message() -> None:
    port = free_port()
    receiver = ChatReceiver(port)  # not started: connections are refused
    config = slack(receiver.url, backoff_s=0.2, backoff_max_s=0.5, max_attempts=30)
    async with PluginTestHost(vms_plugin_notify_chat.NotifyChatPlugin, config, CAMERAS) as host:
        result = await host.deliver(alert("ops"))
        assert result is not None and not result.delivered
        assert "retrying" in result.detail

        async def failed_twice() -> Any:
            found = await status(host)
            return found if found["failed_attempts"] >= 2 else None

        down = await eventually(failed_twice, 5, 0.05, what="two failed attempts")
        assert not down["healthy"] and down["retrying"]
        assert "ClientConnectorError" in down["last_error"]
        await receiver.start()
        try:
            [got] = await receiver.wait_for(1, timeout=5)
            assert "Gunshot" in got.json()["text"]
            up = await status(host)
            assert up["healthy"] and up["delivered"] == 1 and up["given_up"] == 0
        finally:
            await receiver.stop()


async def test_429_retry_after_is_honoured() -> None:
    receiver = await ChatReceiver().start()
    try:
        receiver.script.append((429, {"Retry-After": "1"}))
        async with PluginTestHost(
            vms_plugin_notify_chat.NotifyChatPlugin, slack(receiver.url), CAMERAS
        ) as host:
            result = await host.deliver(alert("ops"))
            assert result is not None and not result.delivered and "429" in result.detail
            await receiver.wait_for(1, timeout=5)
        first, second = receiver.attempts
        # backoff_s is 0.1 s: only the server's Retry-After explains a 1 s pause.
        assert second - first >= 0.95
    finally:
        await receiver.stop()


@pytest.mark.allow_error_logs(
    "gave up on 'second'", reason="a 404 is given up at once: what the test checks"
)
async def test_server_errors_are_retried_and_client_errors_are_not() -> None:
    receiver = await ChatReceiver().start()
    try:
        receiver.script.extend([(503, {}), (500, {})])
        async with PluginTestHost(
            vms_plugin_notify_chat.NotifyChatPlugin, slack(receiver.url), CAMERAS
        ) as host:
            await host.deliver(alert("ops", "first"))
            await receiver.wait_for(1, timeout=5)
            assert len(receiver.attempts) == 3
            receiver.script.append((404, {}))
            result = await host.deliver(alert("ops", "second"))
            assert result is not None and not result.delivered and "given up" in result.detail
            await asyncio.sleep(0.3)  # an observation window: a retry would come in it
            assert len(receiver.attempts) == 4  # no retry of the 404
            health = await status(host)
            assert health["given_up"] == 1 and not health["healthy"]
            assert health["last_error"].startswith("HTTP 404")
    finally:
        await receiver.stop()


async def test_same_notification_twice_is_sent_once() -> None:
    receiver = await ChatReceiver().start()
    try:
        async with PluginTestHost(
            vms_plugin_notify_chat.NotifyChatPlugin, slack(receiver.url), CAMERAS
        ) as host:
            note = alert("ops")
            assert (await host.deliver(note)).delivered  # type: ignore[union-attr]
            again = await host.deliver(note)
            assert again is not None and not again.delivered and "duplicate" in again.detail
            await asyncio.sleep(0.2)  # an observation window: a second send would come in it
            assert len(receiver.received) == 1
            assert (await status(host))["duplicates"] == 1
    finally:
        await receiver.stop()


async def test_alarm_storm_gives_a_bounded_number_of_messages() -> None:
    """50 alerts in 10 s, time compressed 10x: 50 alerts in 1 s, 5 per 0.5 s window."""
    receiver = await ChatReceiver().start()
    try:
        config = slack(receiver.url, rate_limit=5, rate_window_s=0.5, first_attempt_wait_s=0.5)
        async with PluginTestHost(vms_plugin_notify_chat.NotifyChatPlugin, config, CAMERAS) as host:
            started = time.monotonic()
            results = []
            for n in range(50):
                note = Notification("ops", f"Alert {n}", f"alarm number {n}", camera_ids=("1",))
                results.append(await host.deliver(note))
                await asyncio.sleep(max(0.0, started + (n + 1) * 0.02 - time.monotonic()))
            await asyncio.sleep(1.2)  # the last summary goes out when the window reopens
            texts = [r.json()["text"] for r in receiver.received]
            held = [r for r in results if r is not None and "held back" in r.detail]
            summaries = [t for t in texts if "held back" in t]
            singles = [t for t in texts if "held back" not in t]
            counted = sum(int(re.match(r"(\d+) more", t).group(1)) for t in summaries)  # type: ignore[union-attr]
            elapsed = time.monotonic() - started
            print(
                f"\n50 alerts in {elapsed:.1f} s -> {len(texts)} messages "
                f"({len(singles)} alerts, {len(summaries)} summaries)"
            )
            # At most 5 messages per 0.5 s window over ~2.2 s: bounded, and nothing lost
            # without being counted.
            assert len(texts) <= 5 * 6
            assert len(singles) + counted == 50
            assert counted == len(held) and summaries
            assert (await status(host))["held_back"] == len(held)
    finally:
        await receiver.stop()
