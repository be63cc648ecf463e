"""``PluginRuntime``: one plug-in, loaded and called under the SDK's calling policy.

The runtime answers the server's requests (:mod:`vms_sdk.runtime.protocol`): load,
configure, start, collect routes and subscriptions, call hooks and route handlers, shut
down. Its :class:`RuntimeContext` is the plug-in's ``PluginContext``: reads are served
from what the server sent (settings, key-value state, cameras); actions are requests to
the server through a :class:`HostLink` (the RPC channel of a runner process, or a direct
link when the runtime runs inside the server for comparison benchmarks).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import logging
import threading
from collections.abc import Coroutine, Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol, TypeVar

from vms_sdk.errors import ConfigError, HttpError, NotGranted, PluginUnavailable
from vms_sdk.geo import NearbyCamera, cameras_near
from vms_sdk.policy import CallBudgets, CallFailed, HookCaller, budget_for
from vms_sdk.runtime import loading
from vms_sdk.runtime.channel import ChannelClosed, RemoteError
from vms_sdk.runtime.protocol import (
    AudioRef,
    Call,
    CamerasUpdate,
    Collect,
    Collected,
    Configure,
    ErrorBody,
    FrameRef,
    HttpCall,
    KvDelete,
    KvSet,
    Load,
    Loaded,
    MakeBookmark,
    Ping,
    PtzGoto,
    PublishEvent,
    RouteSpec,
    SendNotification,
    Shutdown,
    Start,
    TakeSnapshot,
)
from vms_sdk.types import (
    AudioChunk,
    AudioSubscription,
    Bookmark,
    Camera,
    DeliveryResult,
    Event,
    Frame,
    FrameSubscription,
    HttpResponse,
    Notification,
    PluginInfo,
    Route,
)
from vms_sdk.version import check_api_compatible

T = TypeVar("T")


class HostLink(Protocol):
    """How the runtime reaches the server."""

    async def request(self, body: Any, result: Any) -> Any:
        """Send a request; its answer decoded as ``result``."""
        ...

    def note(self, body: Any) -> None:
        """Send a message that needs no answer (call on the runtime's loop)."""
        ...


class FrameMemory(Protocol):
    """Where frame pixels are read from (shared memory in a runner)."""

    def image(self, ref: FrameRef) -> Any:
        """The read-only array of ``ref``."""
        ...

    def release(self, ref: FrameRef) -> None:
        """The plug-in is done with ``ref``'s pixels."""
        ...


def error_body(exc: BaseException) -> ErrorBody:
    """How a failure travels back to the server."""
    if isinstance(exc, CallFailed):
        cause = exc.__cause__
        if isinstance(cause, ConfigError):
            return ErrorBody("config", cause.message, key=cause.key)
        if isinstance(cause, MemoryError):
            return ErrorBody("memory", exc.message)
        return ErrorBody(exc.kind, exc.message)
    if isinstance(exc, HttpError):
        return ErrorBody("http", exc.message, status=exc.status, code=exc.code)
    if isinstance(exc, loading.PluginRefused):
        return ErrorBody("refused", str(exc))
    if isinstance(exc, MemoryError):
        return ErrorBody("memory", f"MemoryError: {exc}")
    return ErrorBody("error", f"{type(exc).__name__}: {exc}")


class RuntimeKeyValueStore:
    """The plug-in's key-value state: served from memory, written through to the server."""

    def __init__(self, initial: Mapping[str, Any], send: Any) -> None:
        self._data: dict[str, Any] = dict(initial)
        self._send = send
        self._lock = threading.Lock()

    def get(self, key: str, default: Any = None) -> Any:
        with self._lock:
            return self._data.get(key, default)

    def set(self, key: str, value: Any) -> None:
        copy = json.loads(json.dumps(value))  # TypeError now, not at write time
        with self._lock:
            self._data[key] = copy
        self._send(KvSet(key, copy))

    def delete(self, key: str) -> None:
        with self._lock:
            self._data.pop(key, None)
        self._send(KvDelete(key))

    def items(self) -> Iterator[tuple[str, Any]]:
        with self._lock:
            return iter(sorted(self._data.items()))


class RuntimeContext:
    """``PluginContext`` inside the runtime."""

    def __init__(
        self,
        start: Start,
        link: HostLink,
        loop: asyncio.AbstractEventLoop,
        data_dir: Path,
    ) -> None:
        self._name = start.name
        self._config = dict(start.config)
        self._link = link
        self._loop = loop
        self._data_dir = data_dir
        self._public_url = start.public_url
        self.cameras: list[Camera] = list(start.cameras)
        self._kv = RuntimeKeyValueStore(start.kv, self._note)
        self._logger = logging.getLogger(f"vms.plugins.{start.name}")

    def _note(self, body: Any) -> None:
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop:
            self._link.note(body)
        else:
            self._loop.call_soon_threadsafe(self._link.note, body)

    async def _ask(self, body: Any, result: Any) -> Any:
        try:
            return await self._link.request(body, result)
        except RemoteError as exc:
            if exc.body.kind == "denied":
                raise NotGranted(self._name, exc.body.key, exc.body.message) from None
            if exc.body.kind == "unavailable":
                raise PluginUnavailable(exc.body.message) from None
            if exc.body.kind == "value":
                raise ValueError(exc.body.message) from None
            raise RuntimeError(exc.body.message) from None
        except (ChannelClosed, TimeoutError) as exc:
            raise PluginUnavailable(f"the server did not answer: {exc}") from None

    @property
    def name(self) -> str:
        return self._name

    @property
    def config(self) -> Mapping[str, Any]:
        return self._config

    @property
    def logger(self) -> logging.Logger:
        return self._logger

    @property
    def kv(self) -> RuntimeKeyValueStore:
        return self._kv

    @property
    def data_dir(self) -> Path:
        self._data_dir.mkdir(parents=True, exist_ok=True)
        return self._data_dir

    @property
    def public_url(self) -> str:
        return self._public_url

    def list_cameras(self) -> Sequence[Camera]:
        return list(self.cameras)

    def get_camera(self, camera_id: str) -> Camera | None:
        wanted = str(camera_id)
        return next((c for c in self.cameras if c.id == wanted), None)

    def find_camera(self, name: str) -> Camera | None:
        return next((c for c in self.cameras if c.name == name), None)

    def cameras_near(self, lat: float, lon: float, radius_m: float) -> list[NearbyCamera]:
        return cameras_near(self.cameras, lat, lon, radius_m)

    async def publish_event(self, event: Event) -> Event:
        stored: Event = await self._ask(PublishEvent(replace(event, source=self._name)), Event)
        return stored

    async def bookmark(
        self,
        camera_ids: Iterable[str],
        start: datetime,
        end: datetime,
        reason: str,
        lock: bool = False,
        event: Event | None = None,
    ) -> Bookmark:
        event_id = event.id if event is not None else None
        request = MakeBookmark([str(c) for c in camera_ids], start, end, reason, lock, event_id)
        mark: Bookmark = await self._ask(request, Bookmark)
        return mark

    async def snapshot(self, camera_id: str) -> bytes | None:
        jpeg: bytes | None = await self._ask(TakeSnapshot(str(camera_id)), bytes | None)
        return jpeg

    async def notify(self, notification: Notification) -> None:
        await self._ask(SendNotification(notification), None)

    async def ptz_goto_preset(self, camera_id: str, preset: str) -> None:
        await self._ask(PtzGoto(str(camera_id), preset), None)

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        return asyncio.run_coroutine_threadsafe(coro, self._loop)


class PluginRuntime:
    """Answers the server's requests for one plug-in."""

    def __init__(
        self,
        link: HostLink,
        *,
        budgets: CallBudgets | None = None,
        max_threads: int = 2,
        data_dir: Path | None = None,
        frames: FrameMemory | None = None,
        folder: Path | None = None,
    ) -> None:
        self.link = link
        self.budgets = budgets or CallBudgets()
        self.pm = loading.new_pluggy()
        self.plugin: object | None = None
        self.info: PluginInfo | None = None
        self.caller = HookCaller("?", max_threads=max_threads)
        self._base_threads = max_threads
        self.context: RuntimeContext | None = None
        self.routes: list[Route] = []
        self._data_dir = data_dir or Path.cwd()
        self._frames = frames
        self._folder = folder  # where folder plug-ins are read from (an inherited handle)

    async def handle(self, body: Any) -> Any:
        """Answer one request from the server."""
        if isinstance(body, Call):
            return await self.call(body)
        if isinstance(body, HttpCall):
            return await self.http(body)
        if isinstance(body, Ping):
            return None
        if isinstance(body, Load):
            return await self.load(body)
        if isinstance(body, Configure):
            await self._call_all("vms_configure", config=dict(body.config))
            return None
        if isinstance(body, Start):
            return await self.start(body)
        if isinstance(body, Collect):
            return await self.collect()
        if isinstance(body, Shutdown):
            return await self.shutdown(body.budget)
        raise TypeError(f"unexpected request {type(body).__name__}")

    def on_note(self, body: Any) -> None:
        """A message from the server that needs no answer."""
        if isinstance(body, CamerasUpdate) and self.context is not None:
            self.context.cameras = list(body.cameras)

    # ----------------------------------------------------------------- set-up

    async def load(self, request: Load) -> Loaded:
        if request.kind == "path":
            folder = self._folder
            path = folder / request.target if folder is not None else Path(request.target)
            loaded = loading.import_contained(lambda: loading.import_path(path))
        else:
            loaded = loading.import_contained(
                lambda: loading.load_entry_point(request.target, request.hint)
            )
        self.plugin = plugin = loading.plugin_object(loaded)
        warnings = loading.register(self.pm, plugin, request.hint)
        impls = self._impls("vms_plugin_info")
        if not impls:
            raise loading.PluginRefused("does not implement vms_plugin_info (required)")
        info = await self.caller.call(
            "vms_plugin_info", impls[0].function, budget_for(self.budgets, "vms_plugin_info")
        )
        if not isinstance(info, PluginInfo):
            raise loading.PluginRefused(f"vms_plugin_info returned {info!r}, not a PluginInfo")
        self.info = info
        self.caller.plugin = info.name
        hooks = sorted({hc.name for hc in self.pm.get_hookcallers(plugin) or []})
        return Loaded(info, hooks, warnings)

    async def start(self, request: Start) -> None:
        self.context = RuntimeContext(
            request, self.link, asyncio.get_running_loop(), self._data_dir
        )
        await self._call_all("vms_startup", ctx=self.context)

    async def collect(self) -> Collected:
        self.routes = [r for rs in await self._call_all("vms_routes") for r in rs or ()]
        frames = [s for ss in await self._call_all("vms_frame_subscriptions") for s in ss or ()]
        audio = [s for ss in await self._call_all("vms_audio_subscriptions") for s in ss or ()]
        for kind, items in (("Route", self.routes), ("FrameSubscription", frames)):
            for item in items:
                wanted = Route if kind == "Route" else FrameSubscription
                if not isinstance(item, wanted):
                    raise TypeError(f"{kind} expected, got {item!r}")
        if not all(isinstance(a, AudioSubscription) for a in audio):
            raise TypeError("vms_audio_subscriptions must return AudioSubscription values")
        # Frames the plug-in analyses at once get threads of their own, on top of the
        # usual ones: its routes and events are not refused as busy meanwhile.
        concurrency = max((s.concurrency for s in frames), default=1)
        self.caller.max_threads = self._base_threads + concurrency - 1
        specs = [RouteSpec(r.method, r.path, r.public, r.role) for r in self.routes]
        return Collected(specs, frames, audio)

    async def shutdown(self, budget: float) -> list[str]:
        """Let running calls finish (within ``budget``), then ``vms_shutdown``."""
        still = await self.caller.wait_idle(budget)
        await self._call_all("vms_shutdown")
        return still

    # ----------------------------------------------------------------- calls

    async def call(self, request: Call) -> Any:
        hook = request.hook
        kwargs: dict[str, Any] = {}
        if request.event is not None:
            kwargs["event"] = request.event
        if request.segment is not None:
            kwargs["segment"] = request.segment
        if request.notification is not None:
            kwargs["notification"] = request.notification
        if request.cameras is not None:
            kwargs["cameras"] = request.cameras
            if self.context is not None:
                self.context.cameras = list(request.cameras)
        if request.audio is not None:
            kwargs["chunk"] = _audio_chunk(request.audio)
        if request.frame is not None:
            return await self._frame_call(hook, request.frame)
        results = await self._call_all(hook, **kwargs)
        if hook == "vms_notify":
            return next((r for r in results if isinstance(r, DeliveryResult)), None)
        return None

    async def _frame_call(self, hook: str, ref: FrameRef) -> None:
        if self._frames is None:
            raise RuntimeError("no frame memory")
        try:
            image = self._frames.image(ref)
            frame = Frame(
                ref.camera_id,
                ref.time,
                image,
                ref.width,
                ref.height,
                "main" if ref.stream == "main" else "sub",
                ref.skipped,
            )
            await self._call_all(hook, frame=frame)
        finally:
            self._frames.release(ref)

    async def http(self, request: HttpCall) -> HttpResponse:
        route = self.routes[request.route]
        response = await self.caller.call(
            f"route {route.method} {route.path}",
            route.handler,
            self.budgets.http,
            request.request,
            answers=(HttpError,),
        )
        if not isinstance(response, HttpResponse):
            raise CallFailed(
                "route",
                "error",
                f"route handler returned {type(response).__name__}, not HttpResponse",
            )
        return response

    def _impls(self, hook: str) -> list[Any]:
        return [
            impl
            for impl in getattr(self.pm.hook, hook).get_hookimpls()
            if impl.plugin is self.plugin
        ]

    async def _call_all(self, hook: str, **available: Any) -> list[Any]:
        available.setdefault("ctx", self.context)
        results = []
        for impl in self._impls(hook):
            kwargs = {k: v for k, v in available.items() if k in impl.argnames}
            results.append(
                await self.caller.call(
                    hook, impl.function, budget_for(self.budgets, hook), **kwargs
                )
            )
        return results

    def check_api(self) -> None:
        """Raise ``IncompatiblePluginError`` unless the plug-in's API version fits."""
        assert self.info is not None
        check_api_compatible(self.info.api_version)


def _audio_chunk(ref: AudioRef) -> AudioChunk:
    # Imported here: the server imports this module (for RunnerSpec) and needs no numpy.
    import numpy as np

    samples = np.frombuffer(ref.samples, dtype=np.float32)
    return AudioChunk(ref.camera_id, ref.time, ref.sample_rate, samples)
