"""Feeding sampled video frames and audio chunks to plug-ins.

Each subscribed plug-in gets a *lane*: a tiny queue (1-2 items per camera) and a worker
task. The producer's ``offer`` never blocks and never waits for a plug-in: when a lane
already holds as many items of the same camera (and stream and format) as it may, the
oldest of them is dropped, so a slow analyser always gets each camera's newest frame
and never backs up decoding, recording or other plug-ins; one camera's frame never
pushes out another camera's.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import datetime
from typing import Generic, TypeVar

from vms_sdk import AudioChunk, AudioSubscription, Frame, FrameSubscription

from vms_core.plugins.manager import PluginManager

log = logging.getLogger("vms.plugins")
Item = TypeVar("Item", Frame, AudioChunk)
Sub = TypeVar("Sub", FrameSubscription, AudioSubscription)


@dataclass
class LaneStats:
    """Per plug-in counters: offered items accepted, delivered, and dropped unseen."""

    accepted: int = 0
    delivered: int = 0
    dropped: int = 0


@dataclass
class _Lane(Generic[Item, Sub]):
    plugin: str
    subscriptions: list[Sub]
    queue: collections.deque[Item]
    wakeup: asyncio.Event = field(default_factory=asyncio.Event)
    stats: LaneStats = field(default_factory=LaneStats)
    last_accepted: dict[str, datetime] = field(default_factory=dict)
    worker: asyncio.Task[None] | None = None


class _Dispatcher(ABC, Generic[Item, Sub]):
    def __init__(self, manager: PluginManager, queue_size: int) -> None:
        if queue_size < 1:
            raise ValueError("queue_size must be >= 1")
        self._manager = manager
        self._queue_size = queue_size
        self._lanes: dict[str, _Lane[Item, Sub]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None

    @abstractmethod
    def _subscriptions(self) -> dict[str, list[Sub]]: ...

    @abstractmethod
    def _accepts(self, lane: _Lane[Item, Sub], item: Item) -> bool: ...

    @abstractmethod
    def _key(self, item: Item) -> tuple[object, ...]:
        """Items with equal keys replace each other when a lane is behind."""

    @abstractmethod
    async def _deliver(self, plugin: str, item: Item) -> None: ...

    def start(self) -> None:
        """Create a lane per subscribed plug-in (call after ``PluginManager.start``)."""
        self._loop = asyncio.get_running_loop()
        for plugin, subs in self._subscriptions().items():
            if subs:
                lane: _Lane[Item, Sub] = _Lane(plugin, list(subs), collections.deque())
                lane.worker = asyncio.create_task(self._work(lane), name=f"vms-lane-{plugin}")
                self._lanes[plugin] = lane

    async def stop(self) -> None:
        """Stop the workers; undelivered items are discarded."""
        workers = [lane.worker for lane in self._lanes.values() if lane.worker is not None]
        for worker in workers:
            worker.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        self._lanes.clear()

    async def restart(self) -> None:
        """Pick up new subscriptions (after ``PluginManager.reload``)."""
        await self.stop()
        self.start()

    def offer(self, item: Item) -> int:
        """Hand ``item`` to every plug-in that wants it; call on the event loop.

        Never blocks. :return: how many lanes took it.
        """
        taken = 0
        for lane in self._lanes.values():
            if not self._manager.is_callable(lane.plugin) or not self._accepts(lane, item):
                continue
            key = self._key(item)
            same = [queued for queued in lane.queue if self._key(queued) == key]
            if len(same) >= self._queue_size:
                lane.queue.remove(same[0])  # the oldest of this camera's
                lane.stats.dropped += 1
            lane.queue.append(item)
            lane.stats.accepted += 1
            lane.wakeup.set()
            taken += 1
        return taken

    def offer_threadsafe(self, item: Item) -> None:
        """``offer`` from a decoder thread."""
        if self._loop is None:
            raise RuntimeError("dispatcher not started")
        self._loop.call_soon_threadsafe(self.offer, item)

    def stats(self) -> dict[str, LaneStats]:
        """Counters per plug-in."""
        return {name: lane.stats for name, lane in self._lanes.items()}

    async def _work(self, lane: _Lane[Item, Sub]) -> None:
        while True:
            await lane.wakeup.wait()
            lane.wakeup.clear()
            while lane.queue:
                item = lane.queue.popleft()
                try:
                    await self._deliver(lane.plugin, item)
                    lane.stats.delivered += 1
                except Exception:  # the manager contains plug-in errors; this is ours
                    log.exception("dispatching to plug-in %s failed", lane.plugin)


class FrameDispatcher(_Dispatcher[Frame, FrameSubscription]):
    """Delivers sampled frames to ``vms_analyze_frame``, newest first, never blocking.

    A frame is given to a plug-in when one of its subscriptions covers the frame's
    camera, stream and pixel format, and no faster than the subscription's fps
    (judged by ``Frame.time``).
    """

    def __init__(self, manager: PluginManager, queue_size: int = 1) -> None:
        super().__init__(manager, queue_size)

    def wanted(self) -> list[FrameSubscription]:
        """Every subscription, so the media side knows what to decode and how often."""
        return [s for lane in self._lanes.values() for s in lane.subscriptions]

    def _subscriptions(self) -> dict[str, list[FrameSubscription]]:
        return self._manager.frame_subscriptions()

    def _accepts(self, lane: _Lane[Frame, FrameSubscription], item: Frame) -> bool:
        fps = max(
            (s.fps for s in lane.subscriptions if s.wants(item.camera_id, item.stream, item.fmt)),
            default=0.0,
        )
        if fps <= 0:
            return False
        last = lane.last_accepted.get(item.camera_id)
        # 5 % tolerance so timestamp jitter at exactly the subscribed rate is not dropped
        if last is not None and (item.time - last).total_seconds() < 0.95 / fps:
            return False
        lane.last_accepted[item.camera_id] = item.time
        return True

    def _key(self, item: Frame) -> tuple[object, ...]:
        return (item.camera_id, item.stream, item.fmt)

    async def _deliver(self, plugin: str, item: Frame) -> None:
        await self._manager.analyze_frame(plugin, item)


class AudioDispatcher(_Dispatcher[AudioChunk, AudioSubscription]):
    """Delivers audio chunks to ``vms_analyze_audio``; a lagging plug-in loses the oldest."""

    def __init__(self, manager: PluginManager, queue_size: int = 4) -> None:
        super().__init__(manager, queue_size)

    def wanted(self) -> list[AudioSubscription]:
        """Every audio subscription."""
        return [s for lane in self._lanes.values() for s in lane.subscriptions]

    def _subscriptions(self) -> dict[str, list[AudioSubscription]]:
        return self._manager.audio_subscriptions()

    def _accepts(self, lane: _Lane[AudioChunk, AudioSubscription], item: AudioChunk) -> bool:
        # Chunks are cut once per sample rate; a plug-in gets only the rate it asked for.
        return any(
            s.wants(item.camera_id) and s.sample_rate == item.sample_rate
            for s in lane.subscriptions
        )

    def _key(self, item: AudioChunk) -> tuple[object, ...]:
        return (item.camera_id, item.sample_rate)

    async def _deliver(self, plugin: str, item: AudioChunk) -> None:
        await self._manager.analyze_audio(plugin, item)
