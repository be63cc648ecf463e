"""Camera feeds inside the server process, opened on demand.

The recorder runs each camera's ingest in a worker process, so its StreamHub is out of
reach here. Live view, frame sampling for plug-ins and snapshots instead share one
in-process Ingest + StreamHub per camera stream, opened when the first user acquires it
and closed a little after the last one releases it. A camera thus sees at most two
connections from us (recorder and live), however many viewers and plug-ins there are.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from vms_core.media.hub import StreamHub
from vms_core.media.ingest import Ingest, IngestOptions, IngestState, IngestStatus
from vms_core.media.sources import make_ingest
from vms_core.media.stream_info import StreamInfo, StreamSession

log = logging.getLogger(__name__)

# (camera id, stream role) → source URL with credentials, or None if no such stream.
UrlResolver = Callable[[int, str], Awaitable[str | None]]


@dataclass(frozen=True, slots=True)
class FeedKey:
    camera_id: int
    stream: str


class LiveFeed:
    """One shared camera stream. Hold it between ``acquire`` and ``release``."""

    def __init__(self, sources: LiveSources, key: FeedKey, ingest: Ingest) -> None:
        self._sources = sources
        self.key = key
        self.ingest = ingest
        self.users = 0
        self._idle_since: float | None = None

    @property
    def hub(self) -> StreamHub:
        return self.ingest.hub

    @property
    def status(self) -> IngestStatus:
        return self.ingest.status

    def info(self) -> StreamInfo | None:
        """Codec, size and frame rate once connected, else ``None``."""
        return self.ingest.stream_info

    def session(self) -> StreamSession | None:
        """The current connection's parameters and codec templates (for muxers/decoders)."""
        session: StreamSession | None = getattr(self.ingest, "_session", None)
        return session

    def video_extradata(self) -> bytes | None:
        """The video codec's extradata (avcC or Annex-B SPS/PPS) as the camera sent it."""
        session = self.session()
        template: Any = session.templates.get("video") if session else None
        if template is None:
            return None
        data = template.codec_context.extradata
        return bytes(data) if data else None

    async def wait_ready(self, timeout: float = 5.0) -> bool:  # noqa: ASYNC109
        """Wait until the stream is connected (its parameters known); False on timeout."""
        deadline = time.monotonic() + timeout
        while self.info() is None or self.status.state != IngestState.STREAMING:
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(0.05)
        return True

    def release(self) -> None:
        """Give the feed back; the last release starts the linger timer."""
        self._sources._release(self)


class LiveStopped(RuntimeError):
    """The server is stopping: no new live feed opens (a request already in flight when the
    stop began gets this, and answers 503)."""


class LiveSources:
    """Ref-counted, on-demand in-process feeds, keyed by camera and stream role."""

    def __init__(
        self,
        resolve_url: UrlResolver,
        *,
        linger_seconds: float = 10.0,
        options: IngestOptions | None = None,
    ) -> None:
        self._resolve_url = resolve_url
        self.linger_seconds = linger_seconds
        # A viewer waits for the probe: keep it short (RTSP's SDP already carries the codec
        # parameters). Measured on a 720p25 camera: first packet 1.24 s at FFmpeg's default
        # 1 s analysis, 0.5-1.2 s at 0.3 s (the rest is waiting for the next keyframe).
        self._options = options or IngestOptions(analyzeduration=0.3)
        self._feeds: dict[FeedKey, LiveFeed] = {}
        self._lock = asyncio.Lock()
        self._reaper: asyncio.Task[None] | None = None
        self._closed = False

    async def acquire(self, camera_id: int, stream: str = "main") -> LiveFeed:
        """The shared feed of ``camera_id``'s ``stream`` ("main" or "sub"), opened if needed.

        Falls back to the main stream when the camera has no ``sub``. Raises
        ``LookupError`` for an unknown camera or a camera without that stream.
        """
        if self._closed:
            raise LiveStopped("live sources are stopped")
        async with self._lock:
            url = await self._resolve_url(camera_id, stream)
            if url is None and stream == "sub":
                stream = "main"
                url = await self._resolve_url(camera_id, stream)
            if url is None:
                raise LookupError(f"camera {camera_id} has no {stream} stream")
            key = FeedKey(camera_id, stream)
            feed = self._feeds.get(key)
            if feed is not None and feed.ingest.url != url:
                # Camera settings changed: the old connection is stale.
                await self._close(feed)
                feed = None
            if feed is None:
                hub = StreamHub(f"live-{camera_id}-{stream}")
                ingest = make_ingest(
                    f"{camera_id}/{stream}", url, hub, options=self._options, on_state=_log_state
                )
                ingest.start()
                feed = LiveFeed(self, key, ingest)
                self._feeds[key] = feed
                log.info("live feed opened: camera %s %s", camera_id, stream)
            feed.users += 1
            feed._idle_since = None
            self._ensure_reaper()
            return feed

    def _release(self, feed: LiveFeed) -> None:
        feed.users = max(0, feed.users - 1)
        if feed.users == 0:
            feed._idle_since = time.monotonic()

    def feeds(self) -> list[LiveFeed]:
        return list(self._feeds.values())

    def _ensure_reaper(self) -> None:
        if self._reaper is None or self._reaper.done():
            self._reaper = asyncio.get_running_loop().create_task(self._reap_idle())

    async def _reap_idle(self) -> None:
        while self._feeds and not self._closed:
            await asyncio.sleep(min(1.0, max(0.05, self.linger_seconds / 4)))
            now = time.monotonic()
            async with self._lock:
                for feed in list(self._feeds.values()):
                    idle = feed._idle_since
                    if feed.users == 0 and idle is not None and now - idle >= self.linger_seconds:
                        await self._close(feed)

    async def _close(self, feed: LiveFeed) -> None:
        self._feeds.pop(feed.key, None)
        await asyncio.to_thread(feed.ingest.stop)
        feed.hub.reset()
        feed.hub.close_all()  # consumers' get() returns None: the feed is gone
        log.info("live feed closed: camera %s %s", feed.key.camera_id, feed.key.stream)

    async def close_camera(self, camera_id: int) -> None:
        """Close every feed of a camera (it was removed or its settings changed)."""
        async with self._lock:
            for feed in [f for f in self._feeds.values() if f.key.camera_id == camera_id]:
                await self._close(feed)

    async def stop(self) -> None:
        self._closed = True
        if self._reaper is not None:
            self._reaper.cancel()
        async with self._lock:
            for feed in list(self._feeds.values()):
                await self._close(feed)


def _log_state(feed: str, status: IngestStatus) -> None:
    """Called on the ingest thread: why a live feed is not streaming is worth a log line."""
    if status.state in (IngestState.LOST, IngestState.ERROR):
        log.info("live feed %s %s: %s", feed, status.state, status.reason)
    else:
        log.debug("live feed %s %s", feed, status.state)
