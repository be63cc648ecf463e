"""Feeding sampled video frames and audio chunks to plug-ins, fairly across cameras.

Each subscribed plug-in gets a *lane*. In it, every camera (and stream and format) has a
slot of its own holding its newest 1-2 items; the producer's ``offer`` never blocks and
never waits for a plug-in: when a slot is full, its oldest item is skipped, so a slow
analyser always gets each camera's newest frame and never backs up decoding, recording or
other plug-ins, and one camera's frames never push out another camera's.

The lane's workers (as many as the plug-in analyses at once,
``FrameSubscription.concurrency``) take the cameras **in turn**: the next delivery goes to
the camera after the one served last that has something waiting and nothing in flight.
A camera that always has a frame ready (a busy street) therefore gets the same share as
one that has a frame ready only now and then; it never takes the turns of the others.
Frames of one camera are delivered one after the other, in time order.

What each camera gets is counted (:class:`CameraFigures`): analysed and skipped frames, and
their rates over the last ``window_s`` seconds of video. A camera whose analysed rate falls
below what the plug-in asked for while frames are being skipped is *behind*: the host is
told (``on_behind``) once when it falls behind and once when it recovers, to report it.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import math
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Generic, TypeVar

from vms_sdk import AudioChunk, AudioSubscription, Frame, FrameSubscription

from vms_core.plugins.manager import PluginManager

log = logging.getLogger("vms.plugins")
Item = TypeVar("Item", Frame, AudioChunk)
Sub = TypeVar("Sub", FrameSubscription, AudioSubscription)
Key = tuple[object, ...]

WINDOW_SECONDS = 30.0
BEHIND_SHARE = 0.8  # behind below this share of the wanted rate (while skipping)
RECOVERED_SHARE = 0.9  # recovered at this share (or when nothing is skipped any more)


@dataclass
class LaneStats:
    """Per plug-in counters: offered items accepted, delivered, and dropped unseen."""

    accepted: int = 0
    delivered: int = 0
    dropped: int = 0


class RateWindow:
    """Analysed and skipped items per second of media time, over the last ``seconds``."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._buckets: collections.deque[list[int]] = collections.deque()  # second, a, s
        self._first: float | None = None
        self._last: float | None = None

    def add(self, at: float, analysed: int = 0, skipped: int = 0) -> None:
        second = math.floor(at)
        if self._first is None:
            self._first = at
        self._last = at if self._last is None else max(self._last, at)
        if self._buckets and self._buckets[-1][0] >= second:
            # This second, or a little late (an item that failed after newer ones came).
            self._buckets[-1][1] += analysed
            self._buckets[-1][2] += skipped
        else:
            self._buckets.append([second, analysed, skipped])
        oldest = math.floor(self._last - self.seconds)
        while self._buckets and self._buckets[0][0] < oldest:
            self._buckets.popleft()

    @property
    def span(self) -> float:
        """Seconds of media the window covers so far."""
        if self._first is None or self._last is None:
            return 0.0
        return min(self.seconds, self._last - self._first + 1.0)

    def rates(self) -> tuple[float, float]:
        """(analysed, skipped) per second."""
        span = self.span
        if span <= 0:
            return 0.0, 0.0
        return (
            sum(b[1] for b in self._buckets) / span,
            sum(b[2] for b in self._buckets) / span,
        )


@dataclass
class CameraFigures:
    """What one camera (stream, format) got from one lane."""

    camera_id: str
    wanted_fps: float
    window: RateWindow
    offered: int = 0  # accepted at the subscribed rate
    analysed: int = 0  # delivered to the plug-in
    skipped: int = 0  # never delivered: a newer item replaced it, or no memory was free
    behind: bool = False

    def as_dict(self) -> dict[str, Any]:
        analysed, skipped = self.window.rates()
        return {
            "wanted_fps": round(self.wanted_fps, 3),
            "analysed_fps": round(analysed, 3),
            "skipped_fps": round(skipped, 3),
            "analysed": self.analysed,
            "skipped": self.skipped,
            "behind": self.behind,
        }


# (plug-in, camera figures): a camera fell behind (figures.behind) or recovered.
BehindListener = Callable[[str, CameraFigures], None]


@dataclass
class _Slot(Generic[Item]):
    """One camera's (stream's, format's) items waiting in a lane."""

    figures: CameraFigures
    items: collections.deque[Item] = field(default_factory=collections.deque)
    in_flight: bool = False
    skipped_since: int = 0  # skipped since the last delivery (Frame.skipped)


@dataclass
class _Lane(Generic[Item, Sub]):
    plugin: str
    subscriptions: list[Sub]
    concurrency: int = 1
    slots: dict[Key, _Slot[Item]] = field(default_factory=dict)
    turn: collections.deque[Key] = field(default_factory=collections.deque)  # next first
    wakeup: asyncio.Event = field(default_factory=asyncio.Event)
    stats: LaneStats = field(default_factory=LaneStats)
    last_accepted: dict[str, datetime] = field(default_factory=dict)
    workers: list[asyncio.Task[None]] = field(default_factory=list)

    def pending(self) -> list[Item]:
        """Items waiting, in the order the workers would take them (one per camera a
        round, cameras in turn)."""
        queues = [list(self.slots[key].items) for key in self.turn if self.slots[key].items]
        out: list[Item] = []
        while any(queues):
            for queue in queues:
                if queue:
                    out.append(queue.pop(0))
        return out

    def next_ready(self) -> tuple[Key, _Slot[Item]] | None:
        """The next camera in turn with an item waiting and none in flight (it moves to
        the back of the turn)."""
        for _ in range(len(self.turn)):
            key = self.turn[0]
            self.turn.rotate(-1)
            slot = self.slots[key]
            if slot.items and not slot.in_flight:
                return key, slot
        return None


class _Dispatcher(ABC, Generic[Item, Sub]):
    def __init__(
        self,
        manager: PluginManager,
        queue_size: int,
        *,
        window_s: float = WINDOW_SECONDS,
        on_behind: BehindListener | None = None,
    ) -> None:
        if queue_size < 1:
            raise ValueError("queue_size must be >= 1")
        self._manager = manager
        self._queue_size = queue_size
        self._window_s = window_s
        self.on_behind = on_behind
        self._lanes: dict[str, _Lane[Item, Sub]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None

    @abstractmethod
    def _subscriptions(self) -> dict[str, list[Sub]]: ...

    @abstractmethod
    def _accepts(self, lane: _Lane[Item, Sub], item: Item) -> bool: ...

    @abstractmethod
    def _key(self, item: Item) -> Key:
        """Items with equal keys share a slot (replace each other when a lane is behind)."""

    @abstractmethod
    def _wanted_rate(self, lane: _Lane[Item, Sub], item: Item) -> float:
        """Items per second the plug-in asked for, of ``item``'s kind."""

    @abstractmethod
    def _concurrency(self, subscriptions: list[Sub]) -> int: ...

    @abstractmethod
    async def _deliver(self, plugin: str, item: Item, skipped: int) -> bool:
        """Hand ``item`` to the plug-in; whether it reached it."""

    def start(self) -> None:
        """Create a lane per subscribed plug-in (call after ``PluginManager.start``)."""
        self._loop = asyncio.get_running_loop()
        for plugin, subs in self._subscriptions().items():
            if subs:
                lane: _Lane[Item, Sub] = _Lane(plugin, list(subs), self._concurrency(subs))
                lane.workers = [
                    asyncio.create_task(self._work(lane), name=f"vms-lane-{plugin}-{n}")
                    for n in range(lane.concurrency)
                ]
                self._lanes[plugin] = lane

    async def stop(self) -> None:
        """Stop the workers; undelivered items are discarded."""
        workers = [worker for lane in self._lanes.values() for worker in lane.workers]
        for worker in workers:
            worker.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        for lane in self._lanes.values():
            for slot in lane.slots.values():
                if slot.figures.behind:  # its lane is gone: nothing is skipped any more
                    slot.figures.behind = False
                    if self.on_behind is not None:
                        self.on_behind(lane.plugin, slot.figures)
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
            slot = self._slot(lane, item)
            slot.figures.offered += 1
            if len(slot.items) >= self._queue_size:
                self._skip(lane, slot, slot.items.popleft())  # the oldest of this camera's
            slot.items.append(item)
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

    def cameras(self, plugin: str) -> dict[str, dict[str, Any]]:
        """Per camera (stream, format) of ``plugin``: wanted, analysed and skipped rates
        and counts, and whether it is behind."""
        lane = self._lanes.get(plugin)
        if lane is None:
            return {}
        out: dict[str, dict[str, Any]] = {}
        for key, slot in sorted(lane.slots.items(), key=lambda kv: str(kv[0])):
            name = slot.figures.camera_id
            label = name if name not in out else "/".join(str(k) for k in key)
            out[label] = slot.figures.as_dict()
        return out

    def _slot(self, lane: _Lane[Item, Sub], item: Item) -> _Slot[Item]:
        key = self._key(item)
        slot = lane.slots.get(key)
        if slot is None:
            camera = str(key[0])
            wanted = self._wanted_rate(lane, item)
            figures = CameraFigures(camera, wanted, RateWindow(self._window_s))
            slot = lane.slots[key] = _Slot(figures)
            lane.turn.append(key)
        return slot

    def _skip(self, lane: _Lane[Item, Sub], slot: _Slot[Item], item: Item) -> None:
        lane.stats.dropped += 1
        slot.skipped_since += 1
        slot.figures.skipped += 1
        slot.figures.window.add(self._time(item), skipped=1)
        self._judge(lane, slot.figures)

    @staticmethod
    def _time(item: Item) -> float:
        return item.time.timestamp()

    def _judge(self, lane: _Lane[Item, Sub], figures: CameraFigures) -> None:
        """Is the camera behind what the plug-in asked for (or back to it)?"""
        if figures.window.span < min(self._window_s, 5.0) or figures.wanted_fps <= 0:
            return
        analysed, skipped = figures.window.rates()
        if not figures.behind:
            behind = skipped > 0 and analysed < BEHIND_SHARE * figures.wanted_fps
        else:
            offered = analysed + skipped
            enough = RECOVERED_SHARE * min(figures.wanted_fps, offered)
            behind = skipped > 0 and analysed < enough
        if behind != figures.behind:
            figures.behind = behind
            if self.on_behind is not None:
                self.on_behind(lane.plugin, figures)

    async def _work(self, lane: _Lane[Item, Sub]) -> None:
        while True:
            ready = lane.next_ready()
            if ready is None:
                lane.wakeup.clear()
                await lane.wakeup.wait()
                continue
            _, slot = ready
            item = slot.items.popleft()
            skipped, slot.skipped_since = slot.skipped_since, 0
            slot.in_flight = True
            try:
                reached = await self._deliver(lane.plugin, item, skipped)
            except Exception:  # the manager contains plug-in errors; this is ours
                log.exception("dispatching to plug-in %s failed", lane.plugin)
                reached = False
            finally:
                slot.in_flight = False
                if slot.items:
                    lane.wakeup.set()  # another worker may take this camera's next item
            if reached:
                lane.stats.delivered += 1
                slot.figures.analysed += 1
                slot.figures.window.add(self._time(item), analysed=1)
                self._judge(lane, slot.figures)
            else:
                slot.skipped_since += skipped
                self._skip(lane, slot, item)


class FrameDispatcher(_Dispatcher[Frame, FrameSubscription]):
    """Delivers sampled frames to ``vms_analyze_frame``, newest first, never blocking,
    cameras in turn.

    A frame is given to a plug-in when one of its subscriptions covers the frame's
    camera, stream and pixel format, and no faster than the subscription's fps
    (judged by ``Frame.time``).
    """

    def __init__(
        self,
        manager: PluginManager,
        queue_size: int = 1,
        *,
        window_s: float = WINDOW_SECONDS,
        on_behind: BehindListener | None = None,
    ) -> None:
        super().__init__(manager, queue_size, window_s=window_s, on_behind=on_behind)

    def wanted(self) -> list[FrameSubscription]:
        """Every subscription, so the media side knows what to decode and how often."""
        return [s for lane in self._lanes.values() for s in lane.subscriptions]

    def _subscriptions(self) -> dict[str, list[FrameSubscription]]:
        return self._manager.frame_subscriptions()

    def _concurrency(self, subscriptions: list[FrameSubscription]) -> int:
        return max(s.concurrency for s in subscriptions)

    def _wanted_rate(self, lane: _Lane[Frame, FrameSubscription], item: Frame) -> float:
        return max(
            (s.fps for s in lane.subscriptions if s.wants(item.camera_id, item.stream, item.fmt)),
            default=0.0,
        )

    def _accepts(self, lane: _Lane[Frame, FrameSubscription], item: Frame) -> bool:
        fps = self._wanted_rate(lane, item)
        if fps <= 0:
            return False
        last = lane.last_accepted.get(item.camera_id)
        # 5 % tolerance so timestamp jitter at exactly the subscribed rate is not dropped
        if last is not None and (item.time - last).total_seconds() < 0.95 / fps:
            return False
        lane.last_accepted[item.camera_id] = item.time
        return True

    def _key(self, item: Frame) -> Key:
        return (item.camera_id, item.stream, item.fmt)

    async def _deliver(self, plugin: str, item: Frame, skipped: int) -> bool:
        frame = replace(item, skipped=skipped) if skipped else item
        return await self._manager.analyze_frame(plugin, frame)


class AudioDispatcher(_Dispatcher[AudioChunk, AudioSubscription]):
    """Delivers audio chunks to ``vms_analyze_audio``; a lagging plug-in loses the oldest."""

    def __init__(
        self,
        manager: PluginManager,
        queue_size: int = 4,
        *,
        window_s: float = WINDOW_SECONDS,
        on_behind: BehindListener | None = None,
    ) -> None:
        super().__init__(manager, queue_size, window_s=window_s, on_behind=on_behind)

    def wanted(self) -> list[AudioSubscription]:
        """Every audio subscription."""
        return [s for lane in self._lanes.values() for s in lane.subscriptions]

    def _subscriptions(self) -> dict[str, list[AudioSubscription]]:
        return self._manager.audio_subscriptions()

    def _concurrency(self, subscriptions: list[AudioSubscription]) -> int:
        return 1

    def _wanted_rate(self, lane: _Lane[AudioChunk, AudioSubscription], item: AudioChunk) -> float:
        seconds = len(item.samples) / item.sample_rate if item.sample_rate else 0.0
        return 1 / seconds if seconds > 0 else 0.0

    def _accepts(self, lane: _Lane[AudioChunk, AudioSubscription], item: AudioChunk) -> bool:
        # Chunks are cut once per sample rate; a plug-in gets only the rate it asked for.
        return any(
            s.wants(item.camera_id) and s.sample_rate == item.sample_rate
            for s in lane.subscriptions
        )

    def _key(self, item: AudioChunk) -> Key:
        return (item.camera_id, item.sample_rate)

    async def _deliver(self, plugin: str, item: AudioChunk, skipped: int) -> bool:
        return await self._manager.analyze_audio(plugin, item)
