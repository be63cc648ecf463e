"""One relay per camera stream: reframe and packetize each packet once, fan out to viewers.

The relay holds a single StreamHub subscription (its first packets are the hub's cached
GOP, so it starts on a keyframe). Every video packet is turned into an Annex-B
``av.Packet`` and split into RTP payloads here, once, whatever the number of viewers;
each viewer's queue then only holds references. A viewer that falls behind drops its
backlog and resumes at the next keyframe, on its own: nobody else waits.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import av
from aiortc.codecs.h264 import H264Encoder

from vms_core.live import LiveFeed
from vms_core.media.hub import AsyncSubscription
from vms_core.media.packet import MediaPacket
from vms_core.webrtc.h264 import AnnexBFormatter, parameter_sets

log = logging.getLogger(__name__)

VIDEO_CLOCK = 90_000
VIDEO_TIME_BASE = Fraction(1, VIDEO_CLOCK)
VIEWER_QUEUE_PACKETS = 120  # ~4 s of 30 fps video: past this a viewer skips ahead


@dataclass(slots=True)
class Relayed:
    """A packet ready for every viewer: ``packet`` is what the track returns, ``payloads``
    its RTP payloads (computed once), ``timestamp`` in the codec clock."""

    kind: str
    packet: av.Packet[Any]
    keyframe: bool
    timestamp: int
    wall: float
    payloads: list[bytes] = field(default_factory=list)


class ViewerQueue:
    """A bounded queue on the event loop with the skip-to-next-keyframe policy."""

    def __init__(self, kind: str, maxsize: int = VIEWER_QUEUE_PACKETS) -> None:
        self.kind = kind
        self.maxsize = maxsize
        self.dropped = 0
        self.closed = False
        self._items: deque[Relayed] = deque()
        self._skipping = kind == "video"  # a video viewer starts on a keyframe
        self._waiter: asyncio.Future[None] | None = None

    def offer(self, item: Relayed) -> None:
        if self._skipping:
            if not item.keyframe:
                self.dropped += 1
                return
            self._skipping = False
        elif len(self._items) >= self.maxsize:
            self.dropped += len(self._items)
            self._items.clear()
            if self.kind == "video" and not item.keyframe:
                self._skipping = True
                self.dropped += 1
                return
        self._items.append(item)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def get(self) -> Relayed | None:
        """The next item, or ``None`` once closed."""
        while not self._items:
            if self.closed:
                return None
            self._waiter = asyncio.get_running_loop().create_future()
            await self._waiter
            self._waiter = None
        return self._items.popleft()

    def close(self) -> None:
        self.closed = True
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)


class CameraRelay:
    """Relays one live feed to any number of viewers on this event loop."""

    def __init__(self, feed: LiveFeed, audio_codec: str | None) -> None:
        self.feed = feed
        self.audio_codec = audio_codec  # "PCMU"/"PCMA" to forward, else None
        self._viewers: list[tuple[ViewerQueue, ViewerQueue | None]] = []
        self._gop: list[Relayed] = []
        self._formatter: AnnexBFormatter | None = None
        self._session: object | None = None
        self._subscription: AsyncSubscription | None = None
        self._task: asyncio.Task[None] | None = None
        self.packets = 0

    @property
    def viewer_count(self) -> int:
        return len(self._viewers)

    def start(self) -> None:
        self._subscription = self.feed.hub.subscribe_async("webrtc", maxsize=512)
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._subscription is not None:
            self._subscription.close()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        for video, audio in self._viewers:
            video.close()
            if audio is not None:
                audio.close()
        self._viewers.clear()

    def attach(self, with_audio: bool) -> tuple[ViewerQueue, ViewerQueue | None, list[Relayed]]:
        """Queues for a new viewer, the video one prefilled with the current GOP (the
        backlog, also returned)."""
        video = ViewerQueue("video")
        audio = ViewerQueue("audio", maxsize=50) if with_audio and self.audio_codec else None
        backlog = list(self._gop)
        for item in backlog:
            video.offer(item)
        self._viewers.append((video, audio))
        return video, audio, backlog

    def detach(self, video: ViewerQueue) -> None:
        self._viewers = [pair for pair in self._viewers if pair[0] is not video]
        video.close()

    async def _run(self) -> None:
        assert self._subscription is not None
        async for packet in self._subscription:
            try:
                item = self._relay(packet)
            except Exception:  # one bad packet must not end the live view
                log.exception("relay %s: cannot forward a packet", self.feed.key)
                continue
            if item is None:
                continue
            self.packets += 1
            if item.kind == "video":
                if item.keyframe:
                    self._gop = [item]
                elif self._gop:
                    self._gop.append(item)
                for video, _audio in self._viewers:
                    video.offer(item)
            else:
                for _video, audio in self._viewers:
                    if audio is not None:
                        audio.offer(item)

    def _relay(self, packet: MediaPacket) -> Relayed | None:
        if packet.session is not self._session:
            self._session = packet.session
            self._formatter = AnnexBFormatter(parameter_sets(self.feed.video_extradata()))
            self._gop = []
        if packet.kind == "video":
            assert self._formatter is not None
            data = self._formatter.format(_bytes(packet), packet.keyframe)
            timestamp = round(packet.wall * VIDEO_CLOCK)
            out = av.Packet(data)
            out.pts = timestamp
            out.time_base = VIDEO_TIME_BASE
            payloads = H264Encoder._packetize(H264Encoder._split_bitstream(data))
            return Relayed("video", out, packet.keyframe, timestamp, packet.wall, payloads)
        if self.audio_codec is None:
            return None
        data = _bytes(packet)
        rate = 8000  # G.711
        timestamp = round(packet.wall * rate)
        out = av.Packet(data)
        out.pts = timestamp
        out.time_base = Fraction(1, rate)
        return Relayed("audio", out, True, timestamp, packet.wall, [data])


def _bytes(packet: MediaPacket) -> bytes:
    return packet.data if isinstance(packet.data, bytes) else bytes(packet.data)
