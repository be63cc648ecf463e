"""The simulator: N cameras, one RTSP server for all of them, one WS-Discovery target."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import Any, TypeVar

from vms_core.simulator.camera import SimulatedCamera, SimulatedCameraInfo
from vms_core.simulator.config import SimulatorConfig, default_cameras
from vms_core.simulator.discovery import DiscoveryTarget
from vms_core.simulator.media import LoopStore
from vms_core.simulator.streams import CameraStreams, RtspHost

log = logging.getLogger(__name__)

# Background media: every camera's small stream first (a video wall plays those), then
# the main streams.
BACKGROUND_ORDER = ("sub", "main")
# Encoding in the background yields the CPU to the rest of the machine (the server, the
# browser playing the first streams). Linux applies nice to the calling thread only.
BACKGROUND_NICE = 10


T = TypeVar("T")


class BackgroundEncoder(Executor):
    """One daemon thread at a lower priority, running jobs in the order given.

    A daemon thread, unlike a ThreadPoolExecutor's: a demo stopped during its first start
    must not wait for the loop being encoded (tens of seconds) before it exits; a loop cut
    short is never cached (the cache renames complete files only)."""

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[tuple[Future[Any], Callable[[], Any]] | None]
        self._jobs = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._work, name="loop-encoder", daemon=True)
        self._thread.start()

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        future: Future[T] = Future()
        self._jobs.put((future, lambda: fn(*args, **kwargs)))
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._jobs.put(None)
        if wait:
            self._thread.join()

    def _work(self) -> None:
        with contextlib.suppress(OSError):
            os.nice(BACKGROUND_NICE)
        while (job := self._jobs.get()) is not None:
            future, run = job
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(run())
            except BaseException as exc:  # handed to whoever waits for the future
                future.set_exception(exc)


class Simulator:
    """``await start()``, read ``.cameras``, ``await stop()``.

    ``start(media_in_background=True)`` returns once the cameras answer ONVIF, before
    their video is encoded: streams then appear one by one, small ones first, each
    encoded in turn by one low-priority thread (``stream_ready`` waits for one). A first
    start thus plays a camera's sub stream after one small encode instead of all of them.
    """

    def __init__(self, config: SimulatorConfig) -> None:
        if not config.cameras:
            config = config.model_copy(update={"cameras": default_cameras(1)})
        self.config = config
        self._cameras = [
            SimulatedCamera(
                camera,
                host=config.host,
                port=self._onvif_port(index),
                advertise_host=config.advertise_host,
            )
            for index, camera in enumerate(config.cameras)
        ]
        self.rtsp = RtspHost(config.host, config.rtsp_port, config.cache_dir)
        self._streams: list[CameraStreams] = []
        self.discovery: DiscoveryTarget | None = None
        self._started = False
        self._media_task: asyncio.Task[None] | None = None
        self._encoder: BackgroundEncoder | None = None
        self._ready: dict[tuple[str, str], asyncio.Future[None]] = {}

    def _onvif_port(self, index: int) -> int:
        explicit = self.config.cameras[index].onvif_port
        if explicit is not None:
            return explicit
        return self.config.base_port + index if self.config.base_port else 0

    @property
    def cameras(self) -> list[SimulatedCameraInfo]:
        return [camera.info for camera in self._cameras]

    def camera(self, name: str) -> SimulatedCamera:
        for camera in self._cameras:
            if camera.name == name:
                return camera
        raise KeyError(name)

    async def stream_ready(self, name: str, profile: str) -> None:
        """Wait until ``profile`` ("main" or "sub") of camera ``name`` is published; raises
        what stopped its encoding."""
        await asyncio.shield(self._ready_future(name, profile))

    def is_ready(self, name: str, profile: str) -> bool:
        future = self._ready.get((name, profile))
        return (
            future is not None
            and future.done()
            and not future.cancelled()
            and (future.exception() is None)
        )

    def _ready_future(self, name: str, profile: str) -> asyncio.Future[None]:
        key = (name, profile)
        if key not in self._ready:
            self._ready[key] = asyncio.get_running_loop().create_future()
        return self._ready[key]

    async def start(self, *, media_in_background: bool = False) -> None:
        try:
            if media_in_background and self.config.media:
                self._encoder = BackgroundEncoder()
                self.rtsp.store = LoopStore(self.config.cache_dir, self._encoder)
            await self.rtsp.start()
            for camera in self._cameras:
                camera.rtsp_port = self.rtsp.port
                await camera.start()
            if media_in_background and self.config.media:
                for camera in self._cameras:
                    for profile in BACKGROUND_ORDER:
                        self._ready_future(camera.name, profile)
                self._media_task = asyncio.create_task(
                    self._publish_in_order(), name="simulator-media"
                )
            elif self.config.media:
                # Encode all cameras' loops at once: the store runs them in worker threads.
                results = await asyncio.gather(
                    *(self.rtsp.add_camera(c.config) for c in self._cameras),
                    return_exceptions=True,
                )
                self._streams = [r for r in results if isinstance(r, CameraStreams)]
                for result in results:
                    if isinstance(result, BaseException):
                        raise result
                for camera in self._cameras:
                    for profile in BACKGROUND_ORDER:
                        self._ready_future(camera.name, profile).set_result(None)
            if self.config.discovery:
                self.discovery = DiscoveryTarget(
                    self.config.host,
                    [camera.discovery_endpoint() for camera in self._cameras],
                    port=self.config.discovery_port,
                    multicast=self.config.discovery_multicast,
                )
                await self.discovery.start()
        except BaseException:
            await self.stop()
            raise
        self._started = True

    async def _publish_in_order(self) -> None:
        started = time.monotonic()
        streams = {camera.name: CameraStreams() for camera in self._cameras}
        self._streams = list(streams.values())
        for profile in BACKGROUND_ORDER:
            for camera in self._cameras:
                ready = self._ready_future(camera.name, profile)
                try:
                    await self.rtsp.add_profile(camera.config, profile, streams[camera.name])
                except Exception as exc:  # every waiter learns why; nothing else runs
                    log.exception("simulated camera %s: %s stream failed", camera.name, profile)
                    for future in self._ready.values():
                        if not future.done():
                            future.set_exception(exc)
                            future.exception()  # retrieved here: waiters re-raise it
                    return
                ready.set_result(None)
        log.info(
            "simulated cameras: all %d streams ready after %.1f s",
            len(self._ready),
            time.monotonic() - started,
        )

    async def stop(self) -> None:
        task, self._media_task = self._media_task, None
        if task is not None:
            task.cancel()
            # wait() neither raises the task's CancelledError nor swallows our own.
            await asyncio.wait([task])
            if not task.cancelled():
                task.result()  # a task that failed says so, as awaiting it did
        if self.discovery is not None:
            await self.discovery.stop()
            self.discovery = None
        for streams in self._streams:
            await streams.stop()
        self._streams.clear()
        for camera in self._cameras:
            await camera.stop()
        await self.rtsp.stop()
        if self._encoder is not None:
            # A loop being encoded finishes in its (daemon) thread; nothing waits for it.
            self._encoder.shutdown(wait=False)
            self._encoder = None
        for future in self._ready.values():
            if not future.done():
                future.cancel()
        self._started = False
