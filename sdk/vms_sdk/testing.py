"""Test a plug-in without a server.

:class:`PluginTestHost` is an in-memory host: it registers your plug-in with pluggy
exactly as the server does, configures and starts it, and lets a test drive it and
look at what it did::

    from vms_sdk import Camera, Event
    from vms_sdk.testing import PluginTestHost
    import my_plugin

    async def test_bookmarks_gunshots():
        cams = [Camera(id="c1", name="Main St", lat=40.0, lon=-75.0)]
        async with PluginTestHost(my_plugin, config={"radius_m": 200}, cameras=cams) as host:
            await host.emit_event(Event(type="gunshot.detected", lat=40.0, lon=-75.0))
            assert host.bookmarks[0].camera_ids == ("c1",)

Like the server, plain hooks run in a worker thread and ``async`` hooks on the event
loop, and a route is called with a :class:`~vms_sdk.types.Principal` (pass your own to
:meth:`PluginTestHost.request` to test what a viewer limited to some cameras gets);
unlike the server, an exception in a hook (other than an ``HttpError`` a route raises
as its answer) is raised into your test, and a hook that runs longer than
``call_timeout`` seconds fails the test with ``TimeoutError``.
Events the plug-in publishes are recorded in :attr:`PluginTestHost.events`; they are
not fed back to its own ``vms_on_event`` (the server does feed them back).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import json as _json
import logging
import os
import tempfile
import uuid
from collections.abc import Coroutine, Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
import pluggy

from vms_sdk import hookspecs
from vms_sdk.errors import HttpError
from vms_sdk.geo import NearbyCamera, cameras_near
from vms_sdk.jsonbody import parse_json
from vms_sdk.types import (
    AudioChunk,
    AudioSubscription,
    Bookmark,
    Camera,
    DeliveryResult,
    Event,
    Frame,
    FrameSubscription,
    HttpRequest,
    HttpResponse,
    Notification,
    PluginInfo,
    Principal,
    Route,
    SegmentInfo,
    utc_now,
)
from vms_sdk.version import check_api_compatible

T = TypeVar("T")

TEST_ADMIN = Principal(user_id=1, username="admin", role="admin", camera_ids=None)
"""Who calls a plug-in's (non-public) routes in :meth:`PluginTestHost.request` by default."""


def _is_json(content_type: str | None) -> bool:
    media = (content_type or "").split(";", 1)[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


class MemoryKeyValueStore:
    """A :class:`~vms_sdk.context.KeyValueStore` kept in memory (JSON values, like the server)."""

    def __init__(self, initial: Mapping[str, Any] | None = None) -> None:
        self._data: dict[str, Any] = {}
        for key, value in (initial or {}).items():
            self.set(key, value)

    def get(self, key: str, default: Any = None) -> Any:
        """The value stored under ``key``, or ``default``."""
        return self._data.get(key, default)

    def set(self, key: str, value: Any) -> None:
        """Store a JSON round-tripped copy of ``value`` (so tests catch non-JSON values)."""
        self._data[str(key)] = _json.loads(_json.dumps(value))

    def delete(self, key: str) -> None:
        """Remove ``key`` if present."""
        self._data.pop(key, None)

    def items(self) -> Iterator[tuple[str, Any]]:
        """All ``(key, value)`` pairs in key order."""
        return iter(sorted(self._data.items()))

    def __len__(self) -> int:
        return len(self._data)


def make_frame(
    camera_id: str,
    width: int = 320,
    height: int = 180,
    *,
    image: npt.NDArray[np.uint8] | None = None,
    fmt: str = "bgr24",
    time: datetime | None = None,
    stream: str = "sub",
) -> Frame:
    """A :class:`~vms_sdk.types.Frame` for tests: black unless ``image`` is given."""
    if image is None:
        shape = (height, width) if fmt == "gray" else (height, width, 3)
        image = np.zeros(shape, dtype=np.uint8)
    h, w = image.shape[:2]
    return Frame(camera_id, time or utc_now(), image, w, h, "main" if stream == "main" else "sub")


class PluginTestHost:
    """An in-memory host for one plug-in; also the plug-in's ``PluginContext``.

    :param plugin: the plug-in: a module or an object with ``@hookimpl`` functions.
    :param config: the plug-in's settings, as its ``[plugins.<name>]`` table would be.
    :param cameras: the cameras the plug-in sees.
    :param public_url: the server's base URL.
    :param call_timeout: seconds a hook may take before the test fails.
    :param data_dir: folder returned by ``ctx.data_dir`` (default: a new temporary one).

    After ``start()`` (or entering ``async with``), inspect :attr:`events`,
    :attr:`bookmarks`, :attr:`notifications`, :attr:`ptz_moves`, :attr:`kv`,
    :attr:`routes`, :attr:`frame_subscriptions` and :attr:`audio_subscriptions`.
    Put JPEG bytes in :attr:`snapshots` for ``ctx.snapshot`` to return.
    """

    def __init__(
        self,
        plugin: object,
        config: Mapping[str, Any] | None = None,
        cameras: Iterable[Camera] = (),
        *,
        public_url: str = "http://vms.test/",
        call_timeout: float = 5.0,
        data_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        self._pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
        self._pm.add_hookspecs(hookspecs)
        self._pm.register(plugin)
        self._config: dict[str, Any] = dict(config or {})
        self._cameras: list[Camera] = list(cameras)
        self._base_url = public_url.rstrip("/") + "/"
        self._call_timeout = call_timeout
        self._data_dir = Path(data_dir) if data_dir is not None else None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.info: PluginInfo | None = None
        self.events: list[Event] = []
        self.bookmarks: list[Bookmark] = []
        self.notifications: list[Notification] = []
        self.ptz_moves: list[tuple[str, str]] = []
        self.snapshots: dict[str, bytes] = {}
        self.kv = MemoryKeyValueStore()
        self.routes: list[Route] = []
        self.frame_subscriptions: list[FrameSubscription] = []
        self.audio_subscriptions: list[AudioSubscription] = []
        self._logger = logging.getLogger("vms.plugins.test")
        self._submitted: list[concurrent.futures.Future[Any]] = []

    # ----------------------------------------------------------------- lifecycle

    async def start(self) -> PluginTestHost:
        """Check the API version, configure, start, and collect routes/subscriptions."""
        self._loop = asyncio.get_running_loop()
        info = await self._call_first("vms_plugin_info")
        if not isinstance(info, PluginInfo):
            raise TypeError(f"vms_plugin_info must return PluginInfo, got {info!r}")
        check_api_compatible(info.api_version)
        self.info = info
        self._logger = logging.getLogger(f"vms.plugins.{info.name}")
        await self._call_all("vms_configure", config=dict(self._config))
        await self._call_all("vms_startup", ctx=self)
        self.routes = [r for rs in await self._call_all("vms_routes", ctx=self) for r in rs]
        self.frame_subscriptions = [
            s for ss in await self._call_all("vms_frame_subscriptions", ctx=self) for s in ss
        ]
        self.audio_subscriptions = [
            s for ss in await self._call_all("vms_audio_subscriptions", ctx=self) for s in ss
        ]
        return self

    async def stop(self) -> None:
        """Run ``vms_shutdown``."""
        await self._call_all("vms_shutdown", ctx=self)

    async def __aenter__(self) -> PluginTestHost:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # ----------------------------------------------------------------- driving the plug-in

    async def emit_event(self, event: Event) -> None:
        """Deliver ``event`` to the plug-in's ``vms_on_event``."""
        await self._call_all("vms_on_event", ctx=self, event=event)

    async def feed_frame(self, frame: Frame) -> bool:
        """Deliver ``frame`` to ``vms_analyze_frame`` if a subscription covers it.

        :return: whether it was delivered (``False``: the plug-in did not subscribe).
        """
        if not any(
            s.wants(frame.camera_id, frame.stream, frame.fmt) for s in self.frame_subscriptions
        ):
            return False
        await self._call_all("vms_analyze_frame", ctx=self, frame=frame)
        return True

    async def feed_audio(self, chunk: AudioChunk) -> bool:
        """Deliver ``chunk`` to ``vms_analyze_audio`` if a subscription covers it."""
        if not any(s.wants(chunk.camera_id) for s in self.audio_subscriptions):
            return False
        await self._call_all("vms_analyze_audio", ctx=self, chunk=chunk)
        return True

    async def segment_closed(self, segment: SegmentInfo) -> None:
        """Deliver ``segment`` to ``vms_on_segment_closed``."""
        await self._call_all("vms_on_segment_closed", ctx=self, segment=segment)

    async def deliver(self, notification: Notification) -> DeliveryResult | None:
        """Offer ``notification`` to the plug-in's ``vms_notify``; its answer or ``None``."""
        results = await self._call_all("vms_notify", ctx=self, notification=notification)
        return next((r for r in results if r is not None), None)

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        body: bytes = b"",
        headers: Mapping[str, str] | None = None,
        query: Mapping[str, str] | None = None,
        principal: Principal | None = None,
    ) -> HttpResponse:
        """Call the plug-in's route for ``method`` ``path`` (path below its prefix).

        As on the server: a route that is not public is called as ``principal``
        (default :data:`TEST_ADMIN`); a public route gets no principal. A route's
        ``role`` is checked first (403 without calling the handler), a JSON body
        (``Content-Type: application/json``) that is not valid or nested too deeply is
        answered 400 without calling it, and an :class:`~vms_sdk.errors.HttpError` the
        handler raises becomes its JSON error response.

        :return: the handler's response; ``404``/``405`` JSON errors when no route fits,
            like the server.
        """
        if json is not None:
            body = _json.dumps(json).encode("utf-8")
            headers = {"content-type": "application/json", **(headers or {})}
        path_matches = [r for r in self.routes if r.match_path(path) is not None]
        for route in path_matches:
            params = route.match(method, path)
            if params is None:
                continue
            caller = None if route.public else (principal or TEST_ADMIN)
            if not route.admits(caller):
                assert caller is not None  # a non-public route always has one
                return HttpResponse.error(
                    403,
                    "forbidden",
                    f"this needs the {route.role} role; {caller.username} is {caller.role}",
                )
            req = HttpRequest(
                method, path, dict(query or {}), dict(headers or {}), body, params, caller
            )
            try:
                if _is_json(req.header("content-type")):
                    parse_json(body)
                response = await self._run(route.handler, req)
            except HttpError as exc:
                return HttpResponse.for_error(exc)
            if not isinstance(response, HttpResponse):
                raise TypeError(f"route handler must return HttpResponse, got {response!r}")
            return response
        code, status = ("method_not_allowed", 405) if path_matches else ("not_found", 404)
        return HttpResponse(status, json={"error": {"code": code, "message": f"{method} {path}"}})

    # ----------------------------------------------------------------- PluginContext

    @property
    def name(self) -> str:
        """The plug-in's name (after ``start``)."""
        return self.info.name if self.info else ""

    @property
    def config(self) -> Mapping[str, Any]:
        """The settings given to the constructor."""
        return self._config

    @property
    def logger(self) -> logging.Logger:
        """Logger ``vms.plugins.<name>``."""
        return self._logger

    @property
    def data_dir(self) -> Path:
        """The ``data_dir`` given to the constructor, else a fresh temporary folder."""
        if self._data_dir is None:
            self._data_dir = Path(tempfile.mkdtemp(prefix="vms-plugin-"))
        self._data_dir.mkdir(parents=True, exist_ok=True)
        return self._data_dir

    @property
    def public_url(self) -> str:
        """``<public_url>api/plugins/<name>/``."""
        return f"{self._base_url}api/plugins/{self.name}/"

    def list_cameras(self) -> Sequence[Camera]:
        """The cameras given to the constructor."""
        return list(self._cameras)

    def get_camera(self, camera_id: str) -> Camera | None:
        """The camera with ``camera_id`` or ``None``."""
        return next((c for c in self._cameras if c.id == camera_id), None)

    def cameras_near(self, lat: float, lon: float, radius_m: float) -> list[NearbyCamera]:
        """See :func:`vms_sdk.geo.cameras_near`."""
        return cameras_near(self._cameras, lat, lon, radius_m)

    async def publish_event(self, event: Event) -> Event:
        """Record the event in :attr:`events` (``source`` set to the plug-in's name)."""
        stored = replace(event, source=self.name)
        self.events.append(stored)
        return stored

    async def bookmark(
        self,
        camera_ids: Iterable[str],
        start: datetime,
        end: datetime,
        reason: str,
        lock: bool = False,
    ) -> Bookmark:
        """Record a bookmark in :attr:`bookmarks`."""
        mark = Bookmark(uuid.uuid4().hex, tuple(camera_ids), start, end, reason, lock)
        self.bookmarks.append(mark)
        return mark

    async def snapshot(self, camera_id: str) -> bytes | None:
        """The bytes in :attr:`snapshots` for ``camera_id``, or ``None``."""
        return self.snapshots.get(camera_id)

    async def notify(self, notification: Notification) -> None:
        """Record the notification in :attr:`notifications`."""
        self.notifications.append(notification)

    async def ptz_goto_preset(self, camera_id: str, preset: str) -> None:
        """Record ``(camera_id, preset)`` in :attr:`ptz_moves`."""
        self.ptz_moves.append((camera_id, preset))

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Run ``coro`` on the test's event loop from a worker thread."""
        if self._loop is None:
            raise RuntimeError("PluginTestHost not started")
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        self._submitted.append(future)
        return future

    async def wait_submitted(self, seconds: float = 5.0) -> None:
        """Wait until every coroutine the plug-in handed to ``ctx.submit`` has finished
        (including ones those submitted in turn), so a test can check what they did, or
        that they did nothing, without sleeping. Their results and exceptions stay with the
        futures ``submit`` returned.

        :raises TimeoutError: when some are still running after ``seconds``.
        """
        async with asyncio.timeout(seconds):
            while pending := [f for f in self._submitted if not f.done()]:
                await asyncio.wait([asyncio.wrap_future(f) for f in pending])

    # ----------------------------------------------------------------- calling hooks

    async def _run(self, function: Any, *args: Any, **kwargs: Any) -> Any:
        # Same rule as the server: coroutine functions on the loop, plain ones in a thread.
        if inspect.iscoroutinefunction(function):
            result = function(*args, **kwargs)
        else:
            result = await asyncio.wait_for(
                asyncio.to_thread(function, *args, **kwargs), self._call_timeout
            )
        if inspect.isawaitable(result):
            result = await asyncio.wait_for(result, self._call_timeout)
        return result

    async def _call_all(self, hook_name: str, **kwargs: Any) -> list[Any]:
        results: list[Any] = []
        for impl in getattr(self._pm.hook, hook_name).get_hookimpls():
            args = {k: v for k, v in kwargs.items() if k in impl.argnames}
            result = await self._run(impl.function, **args)
            if result is not None:
                results.append(result)
        return results

    async def _call_first(self, hook_name: str) -> Any:
        results = await self._call_all(hook_name)
        return results[0] if results else None
