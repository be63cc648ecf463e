"""One channel's delivery: de-duplication, rate limit with a summary, retries, health.

Every channel has one queue and one worker task, so its messages go out in order and a
``429 Retry-After`` pauses the whole channel (that is what Slack and Teams rate-limit:
the webhook, not one message). ``offer`` never waits longer than
``first_attempt_wait_s``: a message the far end did not take at once keeps being retried
in the background, with exponential backoff, until it is delivered or
``max_attempts`` is spent.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from vms_sdk import DeliveryResult, Notification, Severity

from vms_plugin_notify_chat.formats import summary_text
from vms_plugin_notify_chat.message import Message
from vms_plugin_notify_chat.senders import Outcome, Sender
from vms_plugin_notify_chat.settings import ChannelSettings

Prepare = Callable[[Notification, ChannelSettings], Awaitable[Message]]
MAX_RETRY_AFTER_S = 900.0  # a Retry-After beyond this is treated as a misconfiguration


class RateWindow:
    """At most ``limit`` messages in any ``window_s`` (sliding window)."""

    def __init__(self, limit: int, window_s: float) -> None:
        self.limit = limit
        self.window_s = window_s
        self._sent: deque[float] = deque()

    def _expire(self, now: float) -> None:
        while self._sent and now - self._sent[0] >= self.window_s:
            self._sent.popleft()

    def take(self, now: float) -> bool:
        """Use a slot if one is free."""
        self._expire(now)
        if len(self._sent) >= self.limit:
            return False
        self._sent.append(now)
        return True

    def force(self, now: float) -> None:
        """Use a slot even if none is free (the summary, after waiting for one)."""
        self._expire(now)
        self._sent.append(now)

    def reopens_at(self, now: float) -> float:
        """When the next slot frees up (``now`` if one is free)."""
        self._expire(now)
        if len(self._sent) < self.limit:
            return now
        return self._sent[0] + self.window_s


@dataclass
class ChannelHealth:
    """What an operator sees on ``GET /api/plugins/notify_chat/status``."""

    delivered: int = 0
    failed_attempts: int = 0
    given_up: int = 0
    duplicates: int = 0
    held_back: int = 0
    summaries: int = 0
    dropped: int = 0  # queue full
    retrying: bool = False
    last_error: str = ""
    last_error_at: float | None = None
    last_delivered_at: float | None = None

    @property
    def healthy(self) -> bool:
        """False while a message is being retried or after one was given up on, until
        the next message is delivered."""
        if self.retrying:
            return False
        if self.last_error_at is None:
            return True
        return self.last_delivered_at is not None and self.last_delivered_at > self.last_error_at

    def as_dict(self) -> dict[str, Any]:
        return {
            "healthy": self.healthy,
            "delivered": self.delivered,
            "failed_attempts": self.failed_attempts,
            "given_up": self.given_up,
            "duplicates": self.duplicates,
            "held_back": self.held_back,
            "summaries": self.summaries,
            "dropped": self.dropped,
            "retrying": self.retrying,
            "last_error": self.last_error,
            "last_error_at": self.last_error_at,
            "last_delivered_at": self.last_delivered_at,
        }


@dataclass
class _Job:
    notification: Notification
    first: asyncio.Future[Outcome]


class Channel:
    """Delivers the notifications of one configured channel."""

    def __init__(
        self,
        settings: ChannelSettings,
        sender: Sender,
        prepare: Prepare,
        logger: logging.Logger,
    ) -> None:
        self.settings = settings
        self.health = ChannelHealth()
        self._sender = sender
        self._prepare = prepare
        self._log = logger
        self._queue: asyncio.Queue[_Job] = asyncio.Queue(settings.queue_size)
        self._rate = RateWindow(settings.rate_limit, settings.rate_window_s)
        self._seen: dict[str, float] = {}
        self._held: list[Notification] = []
        self._summary: asyncio.Task[None] | None = None
        self._worker: asyncio.Task[None] | None = None

    @property
    def name(self) -> str:
        return self.settings.name

    async def offer(self, notification: Notification) -> DeliveryResult:
        """Take ``notification``; report the first attempt if it is quick."""
        if self._worker is None:
            self._worker = asyncio.create_task(self._work(), name=f"notify {self.name}")
        now = time.monotonic()
        key = dedupe_key(notification)
        self._seen = {
            k: t for k, t in self._seen.items() if now - t < self.settings.dedupe_window_s
        }
        if key in self._seen:
            self.health.duplicates += 1
            ago = now - self._seen[key]
            return DeliveryResult(self.name, False, f"duplicate of a message {ago:.0f} s ago")
        if self._held or not self._rate.take(now):
            return self._hold(notification, now)
        self._seen[key] = now
        job = _Job(notification, asyncio.get_running_loop().create_future())
        try:
            self._queue.put_nowait(job)
        except asyncio.QueueFull:
            self.health.dropped += 1
            return DeliveryResult(self.name, False, "queue full: the far end is far behind")
        try:
            outcome = await asyncio.wait_for(
                asyncio.shield(job.first), self.settings.first_attempt_wait_s
            )
        except TimeoutError:
            waiting = self._queue.qsize()
            return DeliveryResult(
                self.name, False, f"queued ({waiting} waiting); delivery continues"
            )
        if outcome.ok:
            return DeliveryResult(self.name, True, outcome.detail)
        tail = "; retrying in the background" if outcome.retry else "; given up"
        return DeliveryResult(self.name, False, outcome.detail + tail)

    def _hold(self, notification: Notification, now: float) -> DeliveryResult:
        self._held.append(notification)
        self.health.held_back += 1
        if self._summary is None or self._summary.done():
            delay = self._rate.reopens_at(now) - now
            self._summary = asyncio.create_task(self._send_summary(delay))
        return DeliveryResult(
            self.name,
            False,
            f"held back by the rate limit ({len(self._held)} so far; a summary follows)",
        )

    async def _send_summary(self, delay: float) -> None:
        await asyncio.sleep(max(0.0, delay))
        # The summary takes the first slot of the new window (offers are held while a
        # summary is pending), so the limit holds with summaries included.
        self._rate.force(time.monotonic())
        held, self._held = self._held, []
        if not held:
            return
        title, text = summary_text(len(held), [n.title for n in held[-5:]])
        worst = max((n.severity for n in held), key=lambda s: Severity(s).rank)
        summary = Notification(self.name, title, text, severity=worst)
        self.health.summaries += 1
        job = _Job(summary, asyncio.get_running_loop().create_future())
        try:
            self._queue.put_nowait(job)
        except asyncio.QueueFull:
            self.health.dropped += 1

    async def _work(self) -> None:
        while True:
            job = await self._queue.get()
            try:
                await self._deliver(job)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._log.exception("channel %s: delivery failed", self.name)
                self._failed(Outcome(False, detail=f"internal error: {exc}"))
            finally:
                if not job.first.done():
                    job.first.set_result(Outcome(False, detail="not delivered"))

    async def _deliver(self, job: _Job) -> None:
        s = self.settings
        message = await self._prepare(job.notification, s)
        delay = s.backoff_s
        for attempt in range(1, s.max_attempts + 1):
            outcome = await self._sender.send(message)
            if not job.first.done():
                job.first.set_result(outcome)
            if outcome.ok:
                self.health.delivered += 1
                self.health.last_delivered_at = time.time()
                self.health.retrying = False
                if attempt > 1:
                    self._log.info("channel %s: delivered on attempt %d", self.name, attempt)
                return
            self._failed(outcome)
            if not outcome.retry or attempt == s.max_attempts:
                self.health.given_up += 1
                self.health.retrying = False
                self._log.error(
                    "channel %s: gave up on %r after %d attempt(s): %s",
                    self.name,
                    job.notification.title,
                    attempt,
                    outcome.detail,
                )
                return
            wait = min(delay, s.backoff_max_s)
            if outcome.retry_after_s is not None:
                wait = min(outcome.retry_after_s, MAX_RETRY_AFTER_S)
            delay = min(delay * 2, s.backoff_max_s)
            self.health.retrying = True
            self._log.warning(
                "channel %s: attempt %d failed (%s); retrying in %.1f s",
                self.name,
                attempt,
                outcome.detail,
                wait,
            )
            await asyncio.sleep(wait)

    def _failed(self, outcome: Outcome) -> None:
        self.health.failed_attempts += 1
        self.health.last_error = outcome.detail
        self.health.last_error_at = time.time()

    def status(self) -> dict[str, Any]:
        data = self.health.as_dict()
        data.update(type=self.settings.kind, queued=self._queue.qsize())
        return data

    async def stop(self) -> None:
        for task in (self._worker, self._summary):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        await self._sender.close()


def dedupe_key(notification: Notification) -> str:
    """Same event, same words: the same message."""
    event_id = notification.event.id if notification.event is not None else ""
    raw = "\x00".join((event_id, notification.title, notification.text))
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()
