"""``PluginManager``: load, check, configure, start, call and stop plug-ins.

One pluggy manager holds the plug-ins; the host never uses pluggy's fan-out. For each
hook it takes ``pm.hook.<hook>.get_hookimpls()`` and calls every implementation on its
own through that plug-in's :class:`~vms_core.plugins.isolation.PluginRunner`, so one
plug-in's exception, hang or slowness is contained.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar

import pluggy
from vms_sdk import (
    AudioChunk,
    AudioSubscription,
    ConfigError,
    DeliveryResult,
    Event,
    Frame,
    FrameSubscription,
    HttpError,
    HttpRequest,
    HttpResponse,
    IncompatiblePluginError,
    Notification,
    PluginContext,
    PluginInfo,
    Route,
    SegmentInfo,
    check_api_compatible,
    hookspecs,
)

from vms_core.plugins.context import HostPluginContext
from vms_core.plugins.discovery import (
    PluginCandidate,
    entry_point_candidates,
    folder_candidates,
)
from vms_core.plugins.isolation import PluginCallError, PluginHealth, PluginRunner
from vms_core.plugins.services import HostServices

log = logging.getLogger("vms.plugins")
T = TypeVar("T")


@dataclass(frozen=True)
class CallBudgets:
    """Seconds each kind of call may take before it is abandoned and counted."""

    load: float = 10.0
    info: float = 2.0
    configure: float = 5.0
    startup: float = 5.0
    shutdown: float = 5.0
    setup: float = 2.0  # vms_routes, vms_*_subscriptions
    event: float = 2.0
    frame: float = 5.0
    audio: float = 5.0
    segment: float = 10.0
    notify: float = 10.0
    http: float = 10.0


class PluginState(StrEnum):
    """Where a plug-in is in its life."""

    DISABLED = "disabled"  # turned off in the configuration; never imported
    REFUSED = "refused"  # failed to load, wrong API version or bad configuration
    LOADED = "loaded"  # configured, not started yet
    RUNNING = "running"
    STOPPING = "stopping"  # waiting for running calls, then vms_shutdown
    FAILED = "failed"  # vms_startup raised or overran
    STOPPED = "stopped"


@dataclass
class PluginRecord:
    """Everything the manager knows about one plug-in."""

    name: str
    source: str
    state: PluginState
    reason: str = ""
    plugin: object | None = None
    version: str = ""
    api_version: str = ""
    description: str = ""
    settings: dict[str, Any] = field(default_factory=dict)
    runner: PluginRunner | None = None
    context: HostPluginContext | None = None
    routes: list[Route] = field(default_factory=list)
    frame_subscriptions: list[FrameSubscription] = field(default_factory=list)
    audio_subscriptions: list[AudioSubscription] = field(default_factory=list)
    inbox: asyncio.Queue[tuple[str, dict[str, Any]]] | None = None
    inbox_worker: asyncio.Task[None] | None = None
    inbox_dropped: int = 0

    @property
    def callable(self) -> bool:
        """Running and healthy: the manager still calls it."""
        return (
            self.state is PluginState.RUNNING
            and self.runner is not None
            and self.runner.health.healthy
        )


@dataclass(frozen=True)
class PluginStatus:
    """One line of ``PluginManager.list()``."""

    name: str
    version: str
    description: str
    api_version: str
    source: str
    state: str
    reason: str
    health: PluginHealth
    dropped_messages: int

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form for the API and CLI."""
        return {
            "name": self.name,
            "version": self.version,
            "description": self.description,
            "api_version": self.api_version,
            "source": self.source,
            "state": self.state,
            "reason": self.reason,
            "health": self.health.as_dict(),
            "dropped_messages": self.dropped_messages,
        }


class PluginManager:
    """Owns the plug-ins of one server.

    :param services: the server side of every plug-in's context.
    :param config: the ``[plugins]`` table: ``{"<name>": {"enabled": bool, ...settings}}``;
        plug-ins are enabled unless ``enabled = false``.
    :param folders: plug-in folders (each ``*.py`` file or package inside is a plug-in).
    :param use_entry_points: also load the ``vms.plugins`` entry-point group.
    :param extra: ``(source, plugin object)`` pairs registered as found plug-ins
        (built-ins, tests).
    :param budgets: time budgets per kind of call.
    :param failure_threshold: consecutive failures after which a plug-in is unhealthy.
    :param max_threads: sync calls in flight per plug-in.
    :param inbox_size: events/segments queued per plug-in before new ones are dropped.
    :param allow: when given, only entry-point and folder plug-ins with these names are
        considered at all (the ``VMS_PLUGINS`` environment allow-list); ``extra`` ones
        always are.
    """

    def __init__(
        self,
        services: HostServices,
        config: Mapping[str, Mapping[str, Any]] | None = None,
        folders: Sequence[Path] = (),
        *,
        use_entry_points: bool = True,
        extra: Sequence[tuple[str, object]] = (),
        budgets: CallBudgets | None = None,
        failure_threshold: int = 3,
        max_threads: int = 2,
        inbox_size: int = 1000,
        allow: frozenset[str] | None = None,
    ) -> None:
        self.services = services
        self.config: dict[str, Mapping[str, Any]] = dict(config or {})
        self.folders = list(folders)
        self.use_entry_points = use_entry_points
        self.extra = list(extra)
        self.budgets = budgets or CallBudgets()
        self.failure_threshold = failure_threshold
        self.max_threads = max_threads
        self.inbox_size = inbox_size
        self.allow = allow
        self._pm = self._new_pluggy()
        self._records: dict[str, PluginRecord] = {}

    @staticmethod
    def _new_pluggy() -> pluggy.PluginManager:
        pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
        pm.add_hookspecs(hookspecs)
        return pm

    # ----------------------------------------------------------------- loading

    def candidates(self) -> builtins.list[PluginCandidate]:
        """Every plug-in found, not yet imported: entry points, folders, extras."""
        found = list(entry_point_candidates()) if self.use_entry_points else []
        found += folder_candidates(self.folders)
        if self.allow is not None:
            found = [c for c in found if c.hint in self.allow]
        for source, obj in self.extra:
            found.append(PluginCandidate(_guess_name(obj), source, _constant(obj)))
        return found

    async def load(self) -> None:
        """Discover, import, check the API version of, and configure every plug-in."""
        for candidate in self.candidates():
            await self._load_one(candidate)

    def _enabled(self, name: str) -> bool:
        return bool(self.config.get(name, {}).get("enabled", True))

    def _refuse(self, record: PluginRecord, reason: str) -> None:
        record.state = PluginState.REFUSED
        record.reason = reason
        log.error("plug-in %s (%s) refused: %s", record.name, record.source, reason)
        if record.plugin is not None and self._pm.is_registered(record.plugin):
            self._pm.unregister(record.plugin)

    def _keep(self, record: PluginRecord) -> None:
        key = record.name
        n = 2
        while key in self._records:  # keep refused duplicates visible under a distinct key
            key = f"{record.name}#{n}"
            n += 1
        self._records[key] = record

    async def _load_one(self, candidate: PluginCandidate) -> None:
        record = PluginRecord(candidate.hint, candidate.source, PluginState.LOADED)
        if not self._enabled(candidate.hint):
            record.state = PluginState.DISABLED
            self._keep(record)
            return
        try:
            plugin = await asyncio.wait_for(
                asyncio.to_thread(_import_contained, candidate.load), self.budgets.load
            )
        except Exception as exc:
            self._keep(record)
            self._refuse(record, f"import failed: {type(exc).__name__}: {exc}")
            return
        record.plugin = plugin
        record.runner = PluginRunner(
            candidate.hint, max_threads=self.max_threads, failure_threshold=self.failure_threshold
        )
        try:
            self._pm.register(plugin, name=f"{candidate.hint}@{id(plugin)}")
        except Exception as exc:  # bad signature, or the same module twice
            record.plugin = None
            self._keep(record)
            self._refuse(record, f"cannot register: {exc}")
            return
        unknown = [hc.name for hc in self._pm.get_hookcallers(plugin) or [] if hc.spec is None]
        if unknown:
            self._keep(record)
            self._refuse(record, f"implements unknown hook(s) {', '.join(sorted(unknown))}")
            return
        info = await self._plugin_info(record)
        if info is None:
            self._keep(record)
            return  # refused inside
        record.name = info.name
        record.version = info.version
        record.api_version = info.api_version
        record.description = info.description
        record.runner.plugin = info.name
        if info.name in self._records:
            self._keep(record)
            self._refuse(record, f"another plug-in named {info.name!r} is already loaded")
            return
        self._keep(record)
        if not self._enabled(info.name):
            record.state = PluginState.DISABLED
            self._pm.unregister(plugin)
            return
        try:
            check_api_compatible(info.api_version)
        except IncompatiblePluginError as exc:
            self._refuse(record, str(exc))
            return
        await self._configure(record)

    async def _plugin_info(self, record: PluginRecord) -> PluginInfo | None:
        impls = self._impls_of(record, "vms_plugin_info")
        if not impls:
            self._refuse(record, "does not implement vms_plugin_info (required)")
            return None
        assert record.runner is not None
        try:
            info = await record.runner.call("vms_plugin_info", impls[0].function, self.budgets.info)
        except PluginCallError as exc:
            self._refuse(record, str(exc))
            return None
        if not isinstance(info, PluginInfo):
            self._refuse(record, f"vms_plugin_info returned {info!r}, not a PluginInfo")
            return None
        return info

    async def _configure(self, record: PluginRecord) -> None:
        assert record.runner is not None
        raw = self.config.get(record.name, {})
        record.settings = {k: v for k, v in raw.items() if k != "enabled"}
        for impl in self._impls_of(record, "vms_configure"):
            try:
                await record.runner.call(
                    "vms_configure",
                    impl.function,
                    self.budgets.configure,
                    **_args(impl, config=dict(record.settings)),
                )
            except PluginCallError as exc:
                cause = exc.__cause__
                if isinstance(cause, ConfigError):
                    reason = f"plugins.{record.name}.{cause.key}: {cause.message}"
                else:
                    reason = f"configuration failed: {exc}"
                record.runner.reset()  # a refusal is not a health failure
                self._refuse(record, reason)
                return
        record.state = PluginState.LOADED

    # ----------------------------------------------------------------- start / stop

    async def start(self) -> None:
        """Start every loaded plug-in (concurrently) and collect routes and subscriptions."""
        loaded = [r for r in self._records.values() if r.state is PluginState.LOADED]
        await asyncio.gather(*(self._start_one(r) for r in loaded))

    async def _start_one(self, record: PluginRecord) -> None:
        assert record.runner is not None
        try:
            record.context = await HostPluginContext.create(
                record.name, record.settings, self.services
            )
        except Exception as exc:
            record.state = PluginState.FAILED
            record.reason = f"cannot load its stored state: {exc}"
            log.exception("plug-in %s: loading stored state failed", record.name)
            return
        ctx: PluginContext = record.context
        for impl in self._impls_of(record, "vms_startup"):
            try:
                await record.runner.call(
                    "vms_startup", impl.function, self.budgets.startup, **_args(impl, ctx=ctx)
                )
            except PluginCallError as exc:
                record.state = PluginState.FAILED
                record.reason = str(exc)
                return
        record.state = PluginState.RUNNING
        record.routes = await self._collect(record, "vms_routes", Route)
        record.frame_subscriptions = await self._collect(
            record, "vms_frame_subscriptions", FrameSubscription
        )
        record.audio_subscriptions = await self._collect(
            record, "vms_audio_subscriptions", AudioSubscription
        )
        record.inbox = asyncio.Queue(self.inbox_size)
        record.inbox_worker = asyncio.create_task(
            self._inbox_worker(record), name=f"vms-plugin-inbox-{record.name}"
        )
        log.info("plug-in %s %s started (%s)", record.name, record.version, record.source)

    async def _collect(self, record: PluginRecord, hook: str, kind: type[T]) -> builtins.list[T]:
        assert record.runner is not None
        items: list[T] = []
        for impl in self._impls_of(record, hook):
            try:
                result = await record.runner.call(
                    hook, impl.function, self.budgets.setup, **_args(impl, ctx=record.context)
                )
            except PluginCallError:
                continue
            for item in result or ():
                if isinstance(item, kind):
                    items.append(item)
                else:
                    log.warning("plug-in %s: %s returned %r, ignored", record.name, hook, item)
        return items

    async def stop(self) -> None:
        """Shut every running plug-in down and unregister everything."""
        running = [r for r in self._records.values() if r.state is PluginState.RUNNING]
        await asyncio.gather(*(self._stop_one(r) for r in running))
        for record in self._records.values():
            if record.plugin is not None and self._pm.is_registered(record.plugin):
                self._pm.unregister(record.plugin)

    async def _stop_one(self, record: PluginRecord) -> None:
        record.state = PluginState.STOPPING  # no new calls from here on
        if record.inbox_worker is not None:
            record.inbox_worker.cancel()
        if record.runner is not None and record.context is not None:
            # vms_shutdown releases what running calls use (a plate database, a socket):
            # let calls already running finish first, within the same budget.
            still_running = await record.runner.wait_idle(self.budgets.shutdown)
            if still_running:
                log.warning(
                    "plug-in %s: shutting down while calls outlived the %g s shutdown budget: %s",
                    record.name,
                    self.budgets.shutdown,
                    ", ".join(still_running),
                )
            for impl in self._impls_of(record, "vms_shutdown"):
                with contextlib.suppress(PluginCallError):  # counted and logged by the runner
                    await record.runner.call(
                        "vms_shutdown",
                        impl.function,
                        self.budgets.shutdown,
                        **_args(impl, ctx=record.context),
                    )
            await record.context.kv.flush()
        record.state = PluginState.STOPPED

    async def reload(self) -> None:
        """Stop everything, forget health, and load and start again from scratch."""
        await self.stop()
        self._records.clear()
        self._pm = self._new_pluggy()
        await self.load()
        await self.start()

    # ----------------------------------------------------------------- calling

    def _impls_of(self, record: PluginRecord, hook: str) -> builtins.list[Any]:
        return [
            impl
            for impl in getattr(self._pm.hook, hook).get_hookimpls()
            if impl.plugin is record.plugin
        ]

    def _callable_impls(self, hook: str) -> builtins.list[tuple[PluginRecord, Any]]:
        by_plugin = {id(r.plugin): r for r in self._records.values() if r.callable}
        found = []
        for impl in getattr(self._pm.hook, hook).get_hookimpls():
            record = by_plugin.get(id(impl.plugin))
            if record is not None:
                found.append((record, impl))
        return found

    async def _call(
        self, record: PluginRecord, impl: Any, hook: str, budget: float, **kwargs: Any
    ) -> Any:
        assert record.runner is not None
        return await record.runner.call(
            hook, impl.function, budget, **_args(impl, ctx=record.context, **kwargs)
        )

    def get(self, name: str) -> PluginRecord | None:
        """The record of plug-in ``name``."""
        return self._records.get(name)

    def dispatch_event(self, event: Event) -> int:
        """Queue ``event`` for every healthy plug-in's ``vms_on_event``; never blocks.

        :return: how many plug-ins it was queued for. A plug-in whose queue is full
            (it is far behind) loses the event; the loss is counted.
        """
        return self._post("vms_on_event", {"event": event})

    def segment_closed(self, segment: SegmentInfo) -> int:
        """Queue ``segment`` for every healthy plug-in's ``vms_on_segment_closed``."""
        return self._post("vms_on_segment_closed", {"segment": segment})

    def _post(self, hook: str, kwargs: dict[str, Any]) -> int:
        queued = 0
        for record, _ in self._callable_impls(hook):
            assert record.inbox is not None
            try:
                record.inbox.put_nowait((hook, kwargs))
                queued += 1
            except asyncio.QueueFull:
                record.inbox_dropped += 1
        return queued

    async def _inbox_worker(self, record: PluginRecord) -> None:
        assert record.inbox is not None
        budgets = {
            "vms_on_event": self.budgets.event,
            "vms_on_segment_closed": self.budgets.segment,
        }
        while True:
            hook, kwargs = await record.inbox.get()
            try:
                if record.callable:
                    for impl in self._impls_of(record, hook):
                        await self._call(record, impl, hook, budgets[hook], **kwargs)
            except PluginCallError:
                pass  # counted and logged by the runner
            finally:
                record.inbox.task_done()

    async def wait_idle(self) -> None:
        """Wait until every queued event and segment has been handled (or dropped)."""
        for record in list(self._records.values()):
            if record.inbox is not None and record.state is PluginState.RUNNING:
                await record.inbox.join()

    async def deliver(self, notification: Notification) -> builtins.list[DeliveryResult]:
        """Offer ``notification`` to every channel plug-in, concurrently.

        :return: the results of the plug-ins that took it (empty: no channel did).
        """

        async def offer(record: PluginRecord, impl: Any) -> DeliveryResult | None:
            try:
                result = await self._call(
                    record, impl, "vms_notify", self.budgets.notify, notification=notification
                )
            except PluginCallError as exc:
                return DeliveryResult(notification.channel, False, str(exc))
            return result if isinstance(result, DeliveryResult) else None

        impls = self._callable_impls("vms_notify")
        results = await asyncio.gather(*(offer(r, i) for r, i in impls))
        return [r for r in results if r is not None]

    def is_callable(self, name: str) -> bool:
        """Whether plug-in ``name`` is running and healthy (still called)."""
        record = self._records.get(name)
        return record is not None and record.callable

    async def analyze_frame(self, name: str, frame: Frame) -> None:
        """Call plug-in ``name``'s ``vms_analyze_frame`` (used by the frame dispatcher)."""
        await self._call_named(name, "vms_analyze_frame", self.budgets.frame, frame=frame)

    async def analyze_audio(self, name: str, chunk: AudioChunk) -> None:
        """Call plug-in ``name``'s ``vms_analyze_audio`` (used by the audio dispatcher)."""
        await self._call_named(name, "vms_analyze_audio", self.budgets.audio, chunk=chunk)

    async def _call_named(self, name: str, hook: str, budget: float, **kwargs: Any) -> None:
        record = self._records.get(name)
        if record is None or not record.callable:
            return
        for impl in self._impls_of(record, hook):
            with contextlib.suppress(PluginCallError):  # counted and logged by the runner
                await self._call(record, impl, hook, budget, **kwargs)

    async def handle_request(self, name: str, route: Route, request: HttpRequest) -> HttpResponse:
        """Run a plug-in's route handler under the HTTP budget.

        :raises HttpError: the handler's answer to a request it refused (not a failure).
        :raises PluginCallError: when it raised anything else or overran.
        :raises TypeError: when it returned something other than an ``HttpResponse``.
        """
        record = self._records[name]
        assert record.runner is not None
        response = await record.runner.call(
            f"route {route.method} {route.path}",
            route.handler,
            self.budgets.http,
            request,
            answers=(HttpError,),
        )
        if not isinstance(response, HttpResponse):
            raise TypeError(f"route handler returned {type(response).__name__}, not HttpResponse")
        return response

    # ----------------------------------------------------------------- views

    def frame_subscriptions(self) -> dict[str, builtins.list[FrameSubscription]]:
        """Frame subscriptions of running plug-ins, by plug-in name."""
        return {n: r.frame_subscriptions for n, r in self._records.items() if r.callable}

    def audio_subscriptions(self) -> dict[str, builtins.list[AudioSubscription]]:
        """Audio subscriptions of running plug-ins, by plug-in name."""
        return {n: r.audio_subscriptions for n, r in self._records.items() if r.callable}

    def list(self) -> builtins.list[PluginStatus]:
        """Every plug-in found, whatever its state, sorted by name."""
        out = []
        for record in sorted(self._records.values(), key=lambda r: r.name):
            health = record.runner.health if record.runner else PluginHealth()
            state = record.state.value
            if record.state is PluginState.RUNNING and not health.healthy:
                state = "unhealthy"
            out.append(
                PluginStatus(
                    record.name,
                    record.version,
                    record.description,
                    record.api_version,
                    record.source,
                    state,
                    record.reason,
                    health,
                    record.inbox_dropped,
                )
            )
        return out


def _args(impl: Any, **available: Any) -> dict[str, Any]:
    """The arguments an implementation asked for (pluggy passes by name)."""
    return {k: v for k, v in available.items() if k in impl.argnames}


def _import_contained(load: Callable[[], object]) -> object:
    try:
        return load()
    except Exception:
        raise
    except BaseException as exc:  # SystemExit in a plug-in's import must not stop the server
        raise ImportError(f"{type(exc).__name__}: {exc}") from None


def _constant(obj: object) -> Callable[[], object]:
    def load() -> object:
        return obj

    return load


def _guess_name(obj: object) -> str:
    name = getattr(obj, "__name__", None) or type(obj).__name__
    return str(name).rsplit(".", 1)[-1].lower()


__all__ = [
    "CallBudgets",
    "PluginManager",
    "PluginRecord",
    "PluginState",
    "PluginStatus",
]
