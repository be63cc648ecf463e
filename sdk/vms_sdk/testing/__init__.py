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

The test host applies the server's own calling policy (:mod:`vms_sdk.policy`, the same
module the server's plug-in runner uses): each hook gets the server's budget for its
kind (2 s for an event, 5 s for start-up and frames, ...), plain hooks run in at most
two worker threads of the plug-in's own (a third call while both are busy is refused,
as on the server), ``async`` hooks on the event loop, and ``stop()`` lets running calls
finish (within the shutdown budget) before ``vms_shutdown``. Routes are matched by the
server's matcher (:mod:`vms_sdk.routing`) and called with a
:class:`~vms_sdk.types.Principal` (pass your own to :meth:`PluginTestHost.request`).
Context calls outside what the plug-in's manifest requests (``PluginInfo.requests``) are
refused with :class:`~vms_sdk.errors.NotGranted`, as a server would with that grant.

Unlike the server, an exception in a hook (other than an ``HttpError`` a route raises as
its answer) is raised into your test, a hook that overruns its budget fails the test with
``TimeoutError``, and a busy refusal with :class:`~vms_sdk.policy.CallFailed`. Events the
plug-in publishes are recorded in :attr:`PluginTestHost.events`; they are not fed back to
its own ``vms_on_event`` (the server does feed them back).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
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

from vms_sdk.errors import HttpError, NotGranted
from vms_sdk.geo import NearbyCamera, cameras_near
from vms_sdk.jsonbody import parse_json
from vms_sdk.permissions import Grant
from vms_sdk.policy import CallBudgets, CallFailed, HookCaller, budget_for
from vms_sdk.routing import find_route, not_routed, refusal
from vms_sdk.runtime import loading
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

    :param plugin: the plug-in: a plug-in class (instantiated here, as the server does
        for an entry point naming a class), an object, or a module with ``@hookimpl``
        functions.
    :param config: the plug-in's settings, as its ``[plugins.<name>]`` table would be.
    :param cameras: the cameras the plug-in sees.
    :param public_url: the server's base URL.
    :param call_timeout: when given, every hook's budget in seconds instead of the
        server's budgets (kept for tests written for SDK 1.1).
    :param data_dir: folder returned by ``ctx.data_dir`` (default: a new temporary one).
    :param grants: capabilities granted (default: what the plug-in's manifest requests;
        everything for a plug-in without a manifest).
    :param budgets: the budgets per kind of call (default: the server's defaults).

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
        call_timeout: float | None = None,
        data_dir: str | os.PathLike[str] | None = None,
        grants: Iterable[str] | None = None,
        budgets: CallBudgets | None = None,
    ) -> None:
        self._pm = loading.new_pluggy()
        self.plugin = loading.plugin_object(plugin)
        self.warnings = loading.register(self._pm, self.plugin, "plugin-under-test")
        self._config: dict[str, Any] = dict(config or {})
        self._cameras: list[Camera] = list(cameras)
        self._base_url = public_url.rstrip("/") + "/"
        if call_timeout is not None:
            every = {f: call_timeout for f in vars(CallBudgets())}
            budgets = CallBudgets(**every)
        self.budgets = budgets or CallBudgets()
        self._caller = HookCaller("plugin-under-test")
        self._data_dir = Path(data_dir) if data_dir is not None else None
        self._grants = None if grants is None else Grant.of(grants)
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

    @property
    def max_threads(self) -> int:
        """Sync calls in flight at once (the server's :data:`~vms_sdk.policy.MAX_THREADS`)."""
        return self._caller.max_threads

    # ----------------------------------------------------------------- lifecycle

    async def start(self) -> PluginTestHost:
        """Check the API version, configure, start, and collect routes/subscriptions."""
        self._loop = asyncio.get_running_loop()
        infos = await self._call_all("vms_plugin_info")
        info = infos[0] if infos else None
        if not isinstance(info, PluginInfo):
            raise TypeError(f"vms_plugin_info must return PluginInfo, got {info!r}")
        check_api_compatible(info.api_version)
        self.info = info
        self._caller.plugin = info.name
        if self._grants is None and info.requests:
            self._grants = Grant.of(info.requests)
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

    async def stop(self) -> list[str]:
        """Let calls still running finish (within the shutdown budget), then run
        ``vms_shutdown``, as the server does.

        :return: the hooks still running when ``vms_shutdown`` was called.
        """
        still = await self._caller.wait_idle(self.budgets.shutdown)
        await self._call_all("vms_shutdown", ctx=self)
        return still

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

    async def set_cameras(self, cameras: Iterable[Camera]) -> None:
        """Change the cameras and tell the plug-in (``vms_cameras_changed``)."""
        self._cameras = list(cameras)
        await self._call_all("vms_cameras_changed", ctx=self, cameras=list(self._cameras))

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
        match = find_route(self.routes, method, path)
        route = match.route
        if route is None:
            return not_routed(match, method, path)
        caller = None if route.public else (principal or TEST_ADMIN)
        refused = refusal(route, caller)
        if refused is not None:
            return refused
        req = HttpRequest(
            method, path, dict(query or {}), dict(headers or {}), body, match.params, caller
        )
        try:
            if _is_json(req.header("content-type")):
                parse_json(body)
            response = await self._run(
                f"route {route.method} {route.path}",
                route.handler,
                self.budgets.http,
                req,
                answers=(HttpError,),
            )
        except HttpError as exc:
            return HttpResponse.for_error(exc)
        if not isinstance(response, HttpResponse):
            raise TypeError(f"route handler must return HttpResponse, got {response!r}")
        return response

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
        """The cameras given to the constructor (or :meth:`set_cameras`)."""
        return list(self._cameras)

    def get_camera(self, camera_id: str) -> Camera | None:
        """The camera with ``camera_id`` or ``None``."""
        return next((c for c in self._cameras if c.id == str(camera_id)), None)

    def find_camera(self, name: str) -> Camera | None:
        """The camera named ``name`` or ``None``."""
        return next((c for c in self._cameras if c.name == name), None)

    def cameras_near(self, lat: float, lon: float, radius_m: float) -> list[NearbyCamera]:
        """See :func:`vms_sdk.geo.cameras_near`."""
        return cameras_near(self._cameras, lat, lon, radius_m)

    def _need(self, capability: str, what: str) -> None:
        if self._grants is not None and not self._grants.allows(capability):
            raise NotGranted(self.name, capability, what)

    async def publish_event(self, event: Event) -> Event:
        """Record the event in :attr:`events` (``source`` set to the plug-in's name);
        the same id again returns the first, as on the server."""
        self._need("events", "publish events")
        known = next((e for e in self.events if e.id == event.id), None)
        if known is not None:
            return known
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
        event: Event | None = None,
    ) -> Bookmark:
        """Record a bookmark in :attr:`bookmarks`."""
        self._need("bookmarks", "bookmark recordings")
        if lock:
            self._need("evidence_locks", "lock recordings as evidence")
        mark = Bookmark(
            uuid.uuid4().hex,
            tuple(camera_ids),
            start,
            end,
            reason,
            lock,
            event.id if event is not None else None,
        )
        self.bookmarks.append(mark)
        return mark

    async def snapshot(self, camera_id: str) -> bytes | None:
        """The bytes in :attr:`snapshots` for ``camera_id``, or ``None``."""
        self._need("snapshots", "fetch camera pictures")
        return self.snapshots.get(camera_id)

    async def notify(self, notification: Notification) -> None:
        """Record the notification in :attr:`notifications`."""
        self._need("notify", "send notifications")
        self.notifications.append(notification)

    async def ptz_goto_preset(self, camera_id: str, preset: str) -> None:
        """Record ``(camera_id, preset)`` in :attr:`ptz_moves`."""
        self._need("ptz", "move PTZ cameras")
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

    async def _run(
        self,
        hook: str,
        function: Any,
        budget: float,
        *args: Any,
        answers: tuple[type[BaseException], ...] = (),
        **kwargs: Any,
    ) -> Any:
        # The server's policy; what it would count as a failure is raised into the test.
        try:
            return await self._caller.call(hook, function, budget, *args, answers=answers, **kwargs)
        except CallFailed as failed:
            if failed.kind == "timeout":
                raise TimeoutError(str(failed)) from None
            if failed.kind == "error" and failed.__cause__ is not None:
                raise failed.__cause__ from None
            raise

    async def _call_all(self, hook_name: str, **kwargs: Any) -> list[Any]:
        results: list[Any] = []
        budget = budget_for(self.budgets, hook_name)
        for impl in getattr(self._pm.hook, hook_name).get_hookimpls():
            args = {k: v for k, v in kwargs.items() if k in impl.argnames}
            result = await self._run(hook_name, impl.function, budget, **args)
            if result is not None:
                results.append(result)
        return results
