"""FrameSampler: decoded video and audio for plug-ins, from the server's live feeds.

For every camera stream some plug-in subscribed to, one *tap* acquires the shared live
feed (``server.live``), reads its packets in a thread, decodes only what the fastest
subscriber needs, converts each sampled picture to each wanted pixel format once, and
offers the result to the :class:`~vms_core.plugins.dispatch.FrameDispatcher` (which
throttles per plug-in and drops frames for slow ones). Audio taps decode the camera's
audio, resample to mono float32 and cut chunks for the ``AudioDispatcher``.

A tap reads from a bounded hub queue: when decoding falls behind, the hub drops packets
up to the next keyframe; ingest and recording never wait for a tap.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

import av
from vms_sdk import AudioChunk, AudioSubscription, Camera, Frame, FrameSubscription

from vms_core.live import LiveFeed
from vms_core.media.hub import Subscription
from vms_core.media.packet import MediaPacket
from vms_core.media.stream_info import StreamSession
from vms_core.plugins.dispatch import AudioDispatcher, FrameDispatcher
from vms_core.tasks import cancel_and_wait

if TYPE_CHECKING:  # numpy is loaded by the first decoded frame, not with the server
    import numpy as np
    import numpy.typing as npt

log = logging.getLogger("vms.plugins.frames")

RETRY_SECONDS = 2.0
QUEUE_PACKETS = 120


class FeedSource(Protocol):
    """``server.live``: ref-counted shared camera feeds."""

    async def acquire(self, camera_id: int, stream: str = "main") -> LiveFeed: ...


@dataclass(frozen=True)
class VideoNeed:
    """What the plug-ins want from one camera stream: the fastest rate per format."""

    camera_id: str
    stream: str
    fps_by_fmt: tuple[tuple[str, float], ...]

    @property
    def max_fps(self) -> float:
        return max(fps for _, fps in self.fps_by_fmt)


@dataclass(frozen=True)
class AudioNeed:
    """What the plug-ins want from one camera's audio: (sample rate, chunk seconds) pairs."""

    camera_id: str
    formats: tuple[tuple[int, float], ...]


def video_needs(
    subscriptions: Sequence[FrameSubscription], cameras: Sequence[Camera]
) -> list[VideoNeed]:
    """Group subscriptions by camera stream; ``camera_ids=None`` means every camera."""
    wanted: dict[tuple[str, str], dict[str, float]] = {}
    for sub in subscriptions:
        ids = sub.camera_ids if sub.camera_ids is not None else [c.id for c in cameras]
        for camera_id in ids:
            rates = wanted.setdefault((camera_id, sub.stream), {})
            rates[sub.fmt] = max(rates.get(sub.fmt, 0.0), sub.fps)
    return [
        VideoNeed(cam, stream, tuple(sorted(rates.items())))
        for (cam, stream), rates in sorted(wanted.items())
    ]


def audio_needs(
    subscriptions: Sequence[AudioSubscription], cameras: Sequence[Camera]
) -> list[AudioNeed]:
    wanted: dict[str, set[tuple[int, float]]] = {}
    for sub in subscriptions:
        ids = sub.camera_ids if sub.camera_ids is not None else [c.id for c in cameras]
        for camera_id in ids:
            wanted.setdefault(camera_id, set()).add((sub.sample_rate, sub.chunk_seconds))
    return [AudioNeed(cam, tuple(sorted(fmts))) for cam, fmts in sorted(wanted.items())]


# ------------------------------------------------------------------------------ decoding


def _decoder(session: StreamSession, kind: str) -> Any | None:
    template = session.templates.get(kind)  # type: ignore[call-overload]
    if template is None:
        return None
    source = template.codec_context
    # The template may carry an encoder's name (libx264): decode by the codec's own name.
    decoder = av.CodecContext.create(source.codec.canonical_name, "r")
    if source.extradata:
        decoder.extradata = source.extradata
    return decoder


def _packet_bytes(packet: MediaPacket) -> bytes:
    return packet.data if isinstance(packet.data, bytes) else bytes(packet.data)


def _readonly(array: npt.NDArray[Any]) -> npt.NDArray[Any]:
    array.flags.writeable = False  # one array is shared by every plug-in
    return array


class VideoDecodeLoop:
    """Thread body of a video tap: decode as little as the wanted rate allows.

    When the fastest subscriber wants no more than one frame per GOP, only keyframes are
    decoded (each is self-contained); otherwise every packet is decoded (P-frames need
    their references) and pictures are converted only when one is due.
    """

    def __init__(self, need: VideoNeed, emit: Callable[[Frame], None]) -> None:
        self.need = need
        self._emit = emit
        self._decoder: Any = None
        self._session: StreamSession | None = None
        self._last_key_wall: float | None = None
        self.gop_seconds: float | None = None
        self._last_sent: dict[str, float] = {}
        self.decoded = 0
        self.emitted = 0

    @property
    def keyframes_only(self) -> bool:
        gop = self.gop_seconds
        # 5 % slack, as the dispatcher's: a "1 s" GOP measures 1.0005 s on the wall clock.
        return gop is not None and self.need.max_fps * gop <= 1.05

    def feed(self, packet: MediaPacket) -> None:
        if packet.kind != "video":
            return
        if packet.session is not self._session:
            self._session = packet.session
            self._decoder = _decoder(packet.session, "video")
            self._last_key_wall = None
            self.gop_seconds = None
        if packet.keyframe:
            if self._last_key_wall is not None and packet.wall > self._last_key_wall:
                self.gop_seconds = packet.wall - self._last_key_wall
            self._last_key_wall = packet.wall
        elif self.keyframes_only or self._last_key_wall is None:
            return  # not needed, or no reference picture yet
        if self._decoder is None:
            return
        if self.keyframes_only and not self._due(packet.wall):
            return  # every other packet must be decoded: P-frames need their references
        try:
            pictures = self._decoder.decode(av.Packet(_packet_bytes(packet)))
        except av.error.FFmpegError as exc:
            log.debug("camera %s: undecodable packet: %s", self.need.camera_id, exc)
            return
        for picture in pictures:
            self.decoded += 1
            self._sample(picture, packet.wall)

    def _due(self, wall: float) -> bool:
        return any(
            wall - self._last_sent.get(fmt, -1e18) >= 0.95 / fps
            for fmt, fps in self.need.fps_by_fmt
        )

    def _sample(self, picture: Any, wall: float) -> None:
        when = datetime.fromtimestamp(wall, UTC)
        for fmt, fps in self.need.fps_by_fmt:
            if wall - self._last_sent.get(fmt, -1e18) < 0.95 / fps:
                continue
            self._last_sent[fmt] = wall
            image = _readonly(picture.to_ndarray(format="gray" if fmt == "gray" else "bgr24"))
            self._emit(
                Frame(
                    camera_id=self.need.camera_id,
                    time=when,
                    image=image,
                    width=int(picture.width),
                    height=int(picture.height),
                    stream="main" if self.need.stream == "main" else "sub",
                )
            )
            self.emitted += 1


@dataclass
class _Chunker:
    sample_rate: int
    chunk_seconds: float
    resampler: Any
    buffer: list[npt.NDArray[np.float32]] = field(default_factory=list)
    buffered: int = 0
    start_wall: float | None = None

    @property
    def chunk_samples(self) -> int:
        return max(1, round(self.sample_rate * self.chunk_seconds))


class AudioDecodeLoop:
    """Thread body of an audio tap: decode, resample to mono float32, cut chunks."""

    def __init__(self, need: AudioNeed, emit: Callable[[AudioChunk], None]) -> None:
        self.need = need
        self._emit = emit
        self._decoder: Any = None
        self._session: StreamSession | None = None
        self._chunkers: list[_Chunker] = []

    def _reset(self, session: StreamSession) -> None:
        self._session = session
        self._decoder = _decoder(session, "audio")
        self._chunkers = [
            _Chunker(rate, seconds, av.AudioResampler(format="flt", layout="mono", rate=rate))
            for rate, seconds in self.need.formats
        ]

    def feed(self, packet: MediaPacket) -> None:
        if packet.kind != "audio":
            return
        if packet.session is not self._session:
            self._reset(packet.session)
        if self._decoder is None:
            return
        try:
            decoded = self._decoder.decode(av.Packet(_packet_bytes(packet)))
        except av.error.FFmpegError as exc:
            log.debug("camera %s: undecodable audio: %s", self.need.camera_id, exc)
            return
        for frame in decoded:
            for chunker in self._chunkers:
                for out in chunker.resampler.resample(frame):
                    self._add(chunker, out.to_ndarray().reshape(-1), packet.wall)

    def _add(self, chunker: _Chunker, samples: npt.NDArray[np.float32], wall: float) -> None:
        import numpy as np  # loaded already (the samples are an array)

        if chunker.start_wall is None:
            chunker.start_wall = wall
        chunker.buffer.append(samples.astype(np.float32, copy=False))
        chunker.buffered += len(samples)
        while chunker.buffered >= chunker.chunk_samples:
            joined = np.concatenate(chunker.buffer)
            head, rest = joined[: chunker.chunk_samples], joined[chunker.chunk_samples :]
            self._emit(
                AudioChunk(
                    camera_id=self.need.camera_id,
                    time=datetime.fromtimestamp(chunker.start_wall, UTC),
                    sample_rate=chunker.sample_rate,
                    samples=_readonly(np.ascontiguousarray(head)),
                )
            )
            chunker.start_wall += chunker.chunk_seconds
            chunker.buffer = [rest] if len(rest) else []
            chunker.buffered = len(rest)


# ------------------------------------------------------------------------------ taps


class _Tap:
    """One camera stream feeding one decode loop in its own thread, re-acquiring the
    feed when it goes away (camera changed), until stopped."""

    def __init__(
        self,
        live: FeedSource,
        camera_id: int,
        stream: str,
        loop_body: VideoDecodeLoop | AudioDecodeLoop,
    ) -> None:
        self._live = live
        self._camera_id = camera_id
        self._stream = stream
        self.body = loop_body
        self._stop = threading.Event()
        self._task: asyncio.Task[None] | None = None
        self._queue: Subscription | None = None

    def start(self) -> None:
        name = f"vms-tap-{self._camera_id}-{self._stream}"
        self._task = asyncio.get_running_loop().create_task(self._run(), name=name)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while not self._stop.is_set():
            try:
                feed = await self._live.acquire(self._camera_id, self._stream)
            except LookupError as exc:
                log.warning("frames for plug-ins: %s", exc)
                return
            except RuntimeError:
                return  # live sources stopped: the server is going down
            try:
                queue = feed.hub.subscribe(f"plugins-{type(self.body).__name__}", QUEUE_PACKETS)
                self._queue = queue
                ended: asyncio.Future[None] = loop.create_future()
                # Its own thread, not the default executor: a tap runs for hours and would
                # starve every other to_thread caller.
                threading.Thread(
                    target=self._pump_until_closed,
                    args=(queue, loop, ended),
                    name=f"vms-tap-{self._camera_id}-{self._stream}",
                    daemon=True,
                ).start()
                try:
                    await ended
                finally:
                    queue.close()
            finally:
                feed.release()
            if not self._stop.is_set():
                await asyncio.sleep(RETRY_SECONDS)

    def _pump_until_closed(
        self, queue: Subscription, loop: asyncio.AbstractEventLoop, ended: asyncio.Future[None]
    ) -> None:
        try:
            self._pump(queue)
        finally:
            with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits
                loop.call_soon_threadsafe(_settle, ended)

    def _pump(self, queue: Subscription) -> None:
        while not self._stop.is_set():
            packet = queue.get(0.5)
            if packet is None:
                if queue.closed:
                    return
                continue
            try:
                self.body.feed(packet)
            except Exception:
                log.exception("camera %s: decoding for plug-ins failed", self._camera_id)

    async def stop(self) -> None:
        self._stop.set()
        if self._queue is not None:
            self._queue.close()
        task, self._task = self._task, None
        try:
            await cancel_and_wait(task)
        except Exception:  # said, not raised: the other cameras' decoders still stop
            log.exception("camera %s: the decoder for plug-ins had failed", self._camera_id)


def _settle(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class FrameSampler:
    """Keeps one video tap per wanted camera stream and one audio tap per camera.

    :param live: the server's live feeds.
    :param frames: the frame dispatcher (started, so it knows the subscriptions).
    :param audio: the audio dispatcher (started).
    :param cameras: the current cameras (for subscriptions to every camera).
    """

    def __init__(
        self,
        live: FeedSource,
        frames: FrameDispatcher,
        audio: AudioDispatcher,
        cameras: Callable[[], Sequence[Camera]],
    ) -> None:
        self._live = live
        self._frames = frames
        self._audio = audio
        self._cameras = cameras
        self._taps: dict[tuple[str, str], tuple[VideoNeed | AudioNeed, _Tap]] = {}
        self._lock = asyncio.Lock()

    def taps(self) -> dict[tuple[str, str], VideoDecodeLoop | AudioDecodeLoop]:
        """Running taps by (camera id, "main" | "sub" | "audio"), for status and tests."""
        return {key: tap.body for key, (_, tap) in self._taps.items()}

    async def refresh(self) -> None:
        """Start taps that are now wanted, stop those no longer wanted or changed."""
        async with self._lock:
            cameras = list(self._cameras())
            wanted: dict[tuple[str, str], VideoNeed | AudioNeed] = {}
            for need in video_needs(self._frames.wanted(), cameras):
                wanted[(need.camera_id, need.stream)] = need
            for audio_need in audio_needs(self._audio.wanted(), cameras):
                wanted[(audio_need.camera_id, "audio")] = audio_need
            for key, (running, tap) in list(self._taps.items()):
                if wanted.get(key) != running:
                    await tap.stop()
                    del self._taps[key]
            for key, new in wanted.items():
                if key in self._taps or not new.camera_id.isdigit():
                    continue
                self._taps[key] = (new, self._start_tap(new))

    def _start_tap(self, need: VideoNeed | AudioNeed) -> _Tap:
        body: VideoDecodeLoop | AudioDecodeLoop
        if isinstance(need, VideoNeed):
            body = VideoDecodeLoop(need, self._frames.offer_threadsafe)
            stream = need.stream
        else:
            body = AudioDecodeLoop(need, self._audio.offer_threadsafe)
            stream = "sub"  # audio is the same on both streams; sub is the cheaper one
        tap = _Tap(self._live, int(need.camera_id), stream, body)
        tap.start()
        return tap

    async def stop(self) -> None:
        async with self._lock:
            for _, tap in self._taps.values():
                await tap.stop()
            self._taps.clear()
