"""``PluginManager``: load, check, configure, start, call, supervise and stop plug-ins.

Each plug-in runs in a runner process of its own (:mod:`vms_core.plugins.process`); the
manager talks to it over the SDK's RPC (:mod:`vms_sdk.runtime.protocol`), with a
deadline per call. A runner whose calls fail ``failure_threshold`` times in a row, that
misses its heartbeat, exceeds its memory or thread limit, or exits, is ended with
everything it started and restarted with backoff; after ``max_restarts`` restarts in a
row it is quarantined (no longer started until an operator reloads). Everything is
reported with its reason.

What a runner asks of the server (publish an event, bookmark, ...) is checked against
the plug-in's grant (:mod:`vms_sdk.permissions`): a call outside it is refused with
:class:`~vms_sdk.errors.NotGranted` and written to the audit log.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import logging
import os
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar

from vms_sdk import (
    AudioChunk,
    AudioSubscription,
    Camera,
    DeliveryResult,
    Event,
    Frame,
    FrameSubscription,
    HttpError,
    HttpRequest,
    HttpResponse,
    IncompatiblePluginError,
    Notification,
    Route,
    SegmentInfo,
    check_api_compatible,
    utc_now,
)
from vms_sdk.permissions import Grant
from vms_sdk.policy import FAILURE_THRESHOLD, CallBudgets, budget_for
from vms_sdk.runtime.channel import ChannelClosed, RemoteError
from vms_sdk.runtime.protocol import (
    AudioRef,
    Call,
    CamerasUpdate,
    Collect,
    Collected,
    Configure,
    ErrorBody,
    Fatal,
    HttpCall,
    KvDelete,
    KvSet,
    Load,
    Loaded,
    LogLine,
    MakeBookmark,
    PtzGoto,
    PublishEvent,
    Refused,
    SendNotification,
    Shutdown,
    Start,
    TakeSnapshot,
)
from vms_sdk.runtime.sandbox import SandboxSpec

from vms_core.plugins.discovery import PluginCandidate, entry_point_candidates, folder_candidates
from vms_core.plugins.framering import FrameRing
from vms_core.plugins.identity import RunnerIdentity, runner_identity
from vms_core.plugins.kv_store import HostKeyValueStore
from vms_core.plugins.process import RunnerLaunch, RunnerProcess
from vms_core.plugins.services import HostServices
from vms_core.plugins.supervision import PluginHealth, RunnerLimits

log = logging.getLogger("vms.plugins")
T = TypeVar("T")

# Keys of a [plugins.<name>] table that are the host's, not the plug-in's settings.
HOST_KEYS = ("enabled", "grant", "memory_mb", "read")
# Where runners' working folders are made instead of <data_dir>/plugins (tests: a folder
# the plug-in user can reach, where pytest's private temporary folders are not).
WORK_DIR_ENV = "VMS_PLUGIN_WORK_DIR"
GRACE_SECONDS = 1.0  # on top of a call's budget, for the trip to the runner and back

# (action, plug-in, detail): told of every refused call, for the audit log.
AuditSink = Callable[[str, str, dict[str, Any]], Coroutine[Any, Any, None]]


class PluginState(StrEnum):
    """Where a plug-in is in its life."""

    DISABLED = "disabled"  # turned off in the configuration; never imported
    REFUSED = "refused"  # failed to load, wrong API version or bad configuration
    LOADED = "loaded"  # configured, not started yet
    RUNNING = "running"
    RESTARTING = "restarting"  # its runner was ended; a new one starts after a backoff
    QUARANTINED = "quarantined"  # restarted too often; not started until a reload
    STOPPING = "stopping"
    FAILED = "failed"  # vms_startup raised or overran
    STOPPED = "stopped"


class PluginNotRestartable(Exception):
    """A restart was asked of a plug-in that cannot run now (disabled, or the server
    stops)."""


class PluginCallError(Exception):
    """A plug-in call failed: it raised, overran its budget, the plug-in was busy, or its
    runner is gone."""

    def __init__(
        self, plugin: str, hook: str, message: str, *, timed_out: bool, kind: str = "error"
    ) -> None:
        super().__init__(f"plug-in {plugin!r} {hook}: {message}")
        self.plugin = plugin
        self.hook = hook
        self.message = message
        self.timed_out = timed_out
        self.kind = kind


@dataclass
class PluginRecord:
    """Everything the manager knows about one plug-in."""

    name: str
    source: str
    state: PluginState
    candidate: PluginCandidate | None = None
    reason: str = ""
    version: str = ""
    api_version: str = ""
    description: str = ""
    requested: Grant = field(default_factory=Grant)
    granted: Grant = field(default_factory=Grant)
    warnings: list[str] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)
    memory_mb: int = 0
    read_paths: list[str] = field(default_factory=list)  # files it may read (hotlists)
    sandboxed_with: tuple[bool, bool] = (False, False)  # network, segments
    runner: RunnerProcess | None = None
    frames: FrameRing | None = None
    kv: HostKeyValueStore | None = None
    hooks: list[str] = field(default_factory=list)
    routes: list[Route] = field(default_factory=list)
    route_indexes: list[int] = field(default_factory=list)  # in what the runner collected
    frame_subscriptions: list[FrameSubscription] = field(default_factory=list)
    audio_subscriptions: list[AudioSubscription] = field(default_factory=list)
    inbox: asyncio.Queue[tuple[str, dict[str, Any]]] | None = None
    inbox_worker: asyncio.Task[None] | None = None
    inbox_dropped: int = 0
    health: PluginHealth = field(default_factory=PluginHealth)
    restart_task: asyncio.Task[None] | None = None
    running_since: float = 0.0

    @property
    def callable(self) -> bool:
        """Running with a live runner: the manager still calls it."""
        return self.state is PluginState.RUNNING and self.runner is not None and self.runner.alive


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
    requested: builtins.list[str] = field(default_factory=list)
    granted: builtins.list[str] = field(default_factory=list)
    warnings: builtins.list[str] = field(default_factory=list)

    @property
    def missing(self) -> builtins.list[str]:
        """Requested capabilities the operator has not granted."""
        return Grant.of(self.granted).missing(Grant.of(self.requested))

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
            "permissions": {
                "requested": self.requested,
                "granted": self.granted,
                "missing": self.missing,
            },
            "warnings": self.warnings,
        }


class PluginManager:
    """Owns the plug-ins of one server.

    :param services: the server side of every plug-in's context.
    :param config: the ``[plugins]`` table: ``{"<name>": {"enabled": bool, "grant": [...],
        ...settings}}``; plug-ins are enabled unless ``enabled = false``.
    :param folders: plug-in folders (each ``*.py`` file or package inside is a plug-in).
    :param use_entry_points: also load the ``vms.plugins`` entry-point group.
    :param budgets: time budgets per kind of call.
    :param failure_threshold: consecutive failed calls after which a runner is restarted.
    :param max_threads: sync calls in flight per plug-in.
    :param inbox_size: events/segments queued per plug-in before new ones are dropped.
    :param allow: when given, only plug-ins with these names are considered at all (the
        ``VMS_PLUGINS`` environment allow-list).
    :param limits: runner limits and restart rules.
    :param audit: where refused calls are reported.
    :param forbidden: paths no runner may read (data folder, catalog, recordings).
    :param recordings_dir: what a plug-in granted ``segments`` may read.
    """

    def __init__(
        self,
        services: HostServices,
        config: Mapping[str, Mapping[str, Any]] | None = None,
        folders: Sequence[Path] = (),
        *,
        use_entry_points: bool = True,
        budgets: CallBudgets | None = None,
        failure_threshold: int = FAILURE_THRESHOLD,
        max_threads: int = 2,
        inbox_size: int = 1000,
        allow: frozenset[str] | None = None,
        limits: RunnerLimits | None = None,
        audit: AuditSink | None = None,
        forbidden: Sequence[Path] = (),
        recordings_dir: Path | None = None,
    ) -> None:
        self.services = services
        self.config: dict[str, Mapping[str, Any]] = dict(config or {})
        self.folders = list(folders)
        self.use_entry_points = use_entry_points
        self.budgets = budgets or CallBudgets()
        self.failure_threshold = failure_threshold
        self.max_threads = max_threads
        self.inbox_size = inbox_size
        self.allow = allow
        self.limits = limits or RunnerLimits()
        self.audit = audit
        self.forbidden = list(forbidden)
        self.recordings_dir = recordings_dir
        self.on_change: Callable[[], Awaitable[None]] | None = None
        self._records: dict[str, PluginRecord] = {}
        self._cameras: list[Camera] = []
        self._identity: RunnerIdentity | None = None
        self._opened_path = False
        self._stopping = False
        self._restarting = asyncio.Lock()  # one operator restart at a time

    # ----------------------------------------------------------------- loading

    def candidates(self) -> builtins.list[PluginCandidate]:
        """Every plug-in found, not yet imported: entry points and folders."""
        found = list(entry_point_candidates()) if self.use_entry_points else []
        found += folder_candidates(self.folders)
        if self.allow is not None:
            found = [c for c in found if c.hint in self.allow]
        return found

    async def load(self) -> None:
        """Discover, load (each in its runner), check and configure every plug-in."""
        self._stopping = False
        await asyncio.gather(*(self._load_one(c) for c in self.candidates()))

    def _table(self, name: str) -> Mapping[str, Any]:
        return self.config.get(name, {})

    def _enabled(self, name: str) -> bool:
        return bool(self._table(name).get("enabled", True))

    def _refuse(self, record: PluginRecord, reason: str) -> None:
        record.state = PluginState.REFUSED
        record.reason = reason
        log.error("plug-in %s (%s) refused: %s", record.name, record.source, reason)

    def _keep(self, record: PluginRecord) -> None:
        key = record.name
        n = 2
        while key in self._records:  # keep refused duplicates visible under a distinct key
            key = f"{record.name}#{n}"
            n += 1
        self._records[key] = record

    def identity(self) -> RunnerIdentity:
        if self._identity is None:
            self._identity = runner_identity(self.limits.user)
        return self._identity

    def _work_dir(self, name: str) -> Path:
        shared = os.environ.get(WORK_DIR_ENV)
        root = self.services.data_dir / "plugins"
        if shared:  # one folder per manager inside, so servers never share a plug-in's files
            root = Path(shared) / f"{os.getpid()}-{id(self):x}"
            root.mkdir(mode=0o711, exist_ok=True)
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        os.chmod(folder, 0o700)
        identity = self.identity()
        identity.chown(str(folder))
        if identity.separate and not self._opened_path:
            self._opened_path = True
            if root.is_relative_to(self.services.data_dir):
                open_path_to(root, self.services.data_dir)
        return folder

    async def _spawn(self, record: PluginRecord) -> RunnerProcess:
        candidate = record.candidate
        assert candidate is not None
        granted = record.granted
        record.sandboxed_with = _sandbox_grants(granted)
        memory_mb = record.memory_mb or self.limits.memory_mb
        read_paths = list(record.read_paths)
        if granted.allows("segments") and self.recordings_dir is not None:
            read_paths.append(str(self.recordings_dir))
        sandbox = SandboxSpec(
            memory_bytes=memory_mb * 2**20,
            user_tasks=self.limits.max_tasks * max(1, len(self._records)),
            nice=self.limits.nice,
            landlock=self.limits.landlock,
            network=granted.allows("network"),
            read_paths=read_paths,
            forbidden=[str(p) for p in self.forbidden],
        )
        launch = RunnerLaunch(
            plugin=record.name,
            work_dir=self._work_dir(record.name),
            folder=candidate.folder,
            identity=self.identity(),
            sandbox=sandbox,
            budgets={k: float(v) for k, v in vars(self.budgets).items()},
            max_threads=self.max_threads,
            max_tasks=self.limits.max_tasks,
            heartbeat_timeout=self.limits.heartbeat_seconds,
            max_cpu_percent=self.limits.max_cpu_percent,
            cpu_window=self.limits.cpu_window_seconds,
        )
        runner = RunnerProcess(
            launch,
            lambda body: self._on_runner_request(record, body),
            lambda body: self._on_runner_note(record, body),
            lambda reason: self._runner_failed(record, runner, reason),
            answer_of,
        )
        hello = await runner.start(self.budgets.load)
        record.health.pid = hello.pid
        record.health.sandbox = list(hello.sandbox)
        return runner

    async def _load_one(self, candidate: PluginCandidate) -> None:
        record = PluginRecord(candidate.hint, candidate.source, PluginState.LOADED, candidate)
        self._apply_table(record, candidate.hint)
        if not self._enabled(candidate.hint):
            record.state = PluginState.DISABLED
            self._keep(record)
            return
        loaded = await self._load_runner(record)
        if loaded is None:
            self._keep(record)
            return
        info = loaded.info
        record.name = info.name
        record.version = info.version
        record.api_version = info.api_version
        record.description = info.description
        record.requested = Grant.of(info.requests)
        if candidate.builtin and "grant" not in self._table(info.name):
            record.granted = record.requested  # the server's own plug-ins: what they declare
        record.warnings = list(loaded.warnings)
        record.hooks = list(loaded.hooks)
        for warning in record.warnings:
            log.warning("plug-in %s: %s", info.name, warning)
        if info.name in self._records:
            self._keep(record)
            await self._end_runner(record)
            self._refuse(record, f"another plug-in named {info.name!r} is already loaded")
            return
        self._keep(record)
        if not self._enabled(info.name):
            record.state = PluginState.DISABLED
            await self._end_runner(record)
            return
        try:
            check_api_compatible(info.api_version)
        except IncompatiblePluginError as exc:
            await self._end_runner(record)
            self._refuse(record, str(exc))
            return
        if info.name != candidate.hint:
            self._apply_table(record, info.name)
            if candidate.builtin and "grant" not in self._table(info.name):
                record.granted = record.requested
        if _sandbox_grants(record.granted) != record.sandboxed_with:
            # Network and file access are the runner's sandbox, fixed when it starts: a
            # grant known only now (a built-in's manifest) needs a new runner.
            await self._end_runner(record)
            if await self._load_runner(record) is None:
                return
        missing = record.granted.missing(record.requested)
        if missing:
            log.warning(
                "plug-in %s requests capabilities it was not granted: %s "
                "(grant them in [plugins.%s] grant)",
                info.name,
                ", ".join(missing),
                info.name,
            )
        if not await self._configure(record):
            await self._end_runner(record)

    def _apply_table(self, record: PluginRecord, name: str) -> None:
        table = self._table(name)
        record.settings = {k: v for k, v in table.items() if k not in HOST_KEYS}
        try:
            record.granted = Grant.of(table.get("grant", []) or [])
        except (ValueError, TypeError) as exc:
            record.granted = Grant()
            record.warnings.append(f"plugins.{name}.grant: {exc}")
        memory = table.get("memory_mb", 0)
        record.memory_mb = int(memory) if isinstance(memory, int) and memory > 0 else 0
        read = table.get("read", [])
        record.read_paths = [str(p) for p in read] if isinstance(read, list) else []

    async def _load_runner(self, record: PluginRecord) -> Loaded | None:
        assert record.candidate is not None
        try:
            record.runner = await self._spawn(record)
        except (OSError, RuntimeError) as exc:
            self._refuse(record, f"its runner did not start: {exc}")
            return None
        candidate = record.candidate
        try:
            loaded: Loaded = await record.runner.request(
                Load(candidate.kind, candidate.target, candidate.hint),
                Loaded,
                self.budgets.load + GRACE_SECONDS,
            )
        except RemoteError as exc:
            await self._end_runner(record)
            body = exc.body
            prefix = "" if body.kind == "refused" else "import failed: "
            self._refuse(record, prefix + body.message)
            return None
        except (TimeoutError, ChannelClosed) as exc:
            await self._end_runner(record)
            self._refuse(record, f"import failed: {_describe(exc)}")
            return None
        return loaded

    async def _configure(self, record: PluginRecord) -> bool:
        if "vms_configure" not in record.hooks:
            record.state = PluginState.LOADED
            return True
        try:
            await self._request(record, "vms_configure", Configure(dict(record.settings)), None)
        except PluginCallError as exc:
            cause = exc.__cause__
            if isinstance(cause, RemoteError) and cause.body.kind == "config":
                reason = f"plugins.{record.name}.{cause.body.key}: {cause.body.message}"
            else:
                reason = f"configuration failed: {exc.message}"
            record.health = PluginHealth()  # a refusal is not a health failure
            self._refuse(record, reason)
            return False
        record.state = PluginState.LOADED
        return True

    # ----------------------------------------------------------------- start / stop

    async def start(self) -> None:
        """Start every loaded plug-in (concurrently)."""
        loaded = [r for r in self._records.values() if r.state is PluginState.LOADED]
        await asyncio.gather(*(self._start_one(r) for r in loaded))

    async def _start_one(self, record: PluginRecord) -> bool:
        assert record.runner is not None
        try:
            initial = await self.services.kv_load(record.name)
        except Exception as exc:
            record.state = PluginState.FAILED
            record.reason = f"cannot load its stored state: {exc}"
            log.exception("plug-in %s: loading stored state failed", record.name)
            return False
        if record.kv is None:
            record.kv = HostKeyValueStore(
                record.name, self.services, asyncio.get_running_loop(), initial
            )
        public = f"{self.services.public_base_url.rstrip('/')}/api/plugins/{record.name}/"
        start = Start(
            record.name,
            dict(record.settings),
            dict(record.kv.items()),
            public,
            list(self._cameras or self.services.list_cameras()),
        )
        try:
            await self._request(record, "vms_startup", start, None)
            collected: Collected = await self._request(record, "vms_routes", Collect(), Collected)
        except PluginCallError as exc:
            record.state = PluginState.FAILED
            record.reason = str(exc)
            await self._end_runner(record)
            return False
        record.routes = self._routes(record, collected)
        record.frame_subscriptions = self._granted_frames(record, collected.frames, "frames")
        record.audio_subscriptions = self._granted_frames(record, collected.audio, "audio")
        record.frames = FrameRing(record.runner)
        record.state = PluginState.RUNNING
        record.running_since = time.monotonic()
        record.inbox = asyncio.Queue(self.inbox_size)
        record.inbox_worker = asyncio.create_task(
            self._inbox_worker(record), name=f"vms-plugin-inbox-{record.name}"
        )
        log.info(
            "plug-in %s %s started (%s; pid %d, %s)",
            record.name,
            record.version,
            record.source,
            record.health.pid,
            ", ".join(record.health.sandbox),
        )
        return True

    def _routes(self, record: PluginRecord, collected: Collected) -> builtins.list[Route]:
        routes = []
        record.route_indexes = []
        for index, spec in enumerate(collected.routes):
            if spec.public and not record.granted.allows("public_routes"):
                self._refused(record, "public_routes", f"serve {spec.method} {spec.path} publicly")
                continue
            role: Any = spec.role
            routes.append(Route(spec.method, spec.path, _remote_handler, spec.public, role))
            record.route_indexes.append(index)
        return routes

    def _granted_frames(self, record: PluginRecord, subscriptions: Sequence[T], cap: str) -> Any:
        allowed = record.granted.cameras(cap)
        if allowed is None:
            return list(subscriptions)
        by_name = {c.name: c.id for c in self._cameras}
        ids = frozenset(by_name.get(c, c) for c in allowed)
        out = []
        for sub in subscriptions:
            wanted = getattr(sub, "camera_ids", None)
            keep = sorted(ids) if wanted is None else [c for c in wanted if c in ids]
            if (wanted is not None and len(keep) < len(wanted)) or (wanted is None and not ids):
                self._refused(record, cap, f"receive {cap} of cameras it was not granted")
            if keep:
                out.append(replace(sub, camera_ids=tuple(keep)))  # type: ignore[type-var]
        return out

    async def stop(self) -> None:
        """Shut every plug-in down (concurrently, each within its shutdown budget)."""
        self._stopping = True
        await asyncio.gather(*(self._stop_one(r) for r in list(self._records.values())))

    async def _stop_one(self, record: PluginRecord) -> None:
        if record.restart_task is not None:
            record.restart_task.cancel()
            record.restart_task = None
        was_running = record.state is PluginState.RUNNING
        if was_running:
            record.state = PluginState.STOPPING  # no new calls from here on
        if record.inbox_worker is not None:
            _cancel(record.inbox_worker)
            record.inbox_worker = None
        if was_running and record.runner is not None and record.runner.alive:
            budget = self.budgets.shutdown
            with contextlib.suppress(PluginCallError):
                still: builtins.list[str] = await self._request(
                    record,
                    "vms_shutdown",
                    Shutdown(budget),
                    builtins.list[str],
                    within=2 * budget + GRACE_SECONDS,
                )
                if still:
                    log.warning(
                        "plug-in %s: shutting down while calls outlived the %g s shutdown "
                        "budget: %s",
                        record.name,
                        budget,
                        ", ".join(still),
                    )
        await self._end_runner(record)
        if record.kv is not None:
            await record.kv.flush()
        if was_running or record.state is PluginState.RESTARTING:
            record.state = PluginState.STOPPED

    async def _end_runner(self, record: PluginRecord) -> None:
        runner, record.runner = record.runner, None
        if record.frames is not None:
            record.frames.close()
            record.frames = None
        if runner is not None:
            await runner.stop()

    async def reload(self) -> None:
        """Stop everything, forget health, and load and start again from scratch."""
        await self.stop()
        self._records.clear()
        await self.load()
        await self.start()

    async def restart(self, name: str) -> PluginRecord:
        """Restart one plug-in on an operator's word: its runner shuts down (within its
        budget, if it runs), its health and restart counters are forgotten, and it loads and
        starts again with the configuration the manager holds. A quarantined or failed
        plug-in gets another chance this way without touching the others.

        Raises ``KeyError`` for a plug-in not found and ``PluginNotRestartable`` for one
        turned off in the configuration or while the server stops."""
        async with self._restarting:
            record = self._records.get(name)
            if record is None:
                raise KeyError(name)
            if self._stopping:
                raise PluginNotRestartable(f"plug-in {name!r}: the server is stopping")
            if record.state is PluginState.DISABLED or record.candidate is None:
                raise PluginNotRestartable(
                    f"plug-in {name!r} is disabled in the configuration ([plugins.{name}])"
                )
            log.info("plug-in %s: restarting on request (was %s)", name, record.state.value)
            await self._stop_one(record)  # also flushes its stored state
            del self._records[name]
            candidate = record.candidate
            await self._load_one(candidate)
            fresh = self._records.get(name) or self._records.get(candidate.hint)
            if fresh is None:  # loaded under another name: keep it visible under this one
                fresh = record
                self._records[name] = record
            if fresh.state is PluginState.LOADED:
                await self._start_one(fresh)
            if self.on_change is not None:
                await self.on_change()
            return fresh

    # ----------------------------------------------------------------- supervision

    def _runner_failed(self, record: PluginRecord, runner: RunnerProcess, reason: str) -> None:
        """The runner is broken (heartbeat, limits, exit): end it, restart later."""
        if record.runner is not runner or self._stopping:
            return
        if record.state is not PluginState.RUNNING:
            return
        self._restart_later(record, reason)

    def _restart_later(self, record: PluginRecord, reason: str) -> None:
        health = record.health
        if time.monotonic() - record.running_since > self.limits.stable_seconds:
            health.restarts_in_a_row = 0
        health.restarts_in_a_row += 1
        health.restarts += 1
        health.last_restart_reason = reason
        record.reason = reason
        if record.inbox_worker is not None:
            # Also when it is the caller (its call just failed): it ends at its next wait.
            _cancel(record.inbox_worker)
        record.inbox_worker = None
        if health.restarts_in_a_row > self.limits.max_restarts:
            record.state = PluginState.QUARANTINED
            record.reason = (
                f"quarantined after {health.restarts_in_a_row - 1} restarts; last: {reason}"
            )
            health.healthy = False
            log.error("plug-in %s %s", record.name, record.reason)
            record.restart_task = asyncio.create_task(self._end_runner(record))
            return
        record.state = PluginState.RESTARTING
        delay = self.limits.restart_backoff_seconds * 2 ** (health.restarts_in_a_row - 1)
        log.warning("plug-in %s: %s; restarting it in %g s", record.name, reason, delay)
        record.restart_task = asyncio.create_task(
            self._restart(record, delay), name=f"vms-plugin-restart-{record.name}"
        )

    async def _restart(self, record: PluginRecord, delay: float) -> None:
        await self._end_runner(record)
        await asyncio.sleep(delay)
        if self._stopping:
            return
        record.health.consecutive_failures = 0
        loaded = await self._load_runner(record)
        if loaded is None or not await self._configure(record):
            record.state = PluginState.RUNNING  # so that the failure counts as a restart
            record.running_since = time.monotonic()
            self._restart_later(record, record.reason or "did not load again")
            return
        record.hooks = list(loaded.hooks)
        if await self._start_one(record):
            record.reason = f"restarted: {record.health.last_restart_reason}"
            if self.on_change is not None:
                await self.on_change()
        else:
            record.state = PluginState.RUNNING
            self._restart_later(record, record.reason)

    def _failed_call(self, record: PluginRecord, hook: str, kind: str, message: str) -> None:
        health = record.health
        if kind == "timeout":
            health.timeouts += 1
        elif kind == "busy":
            health.busy += 1
        else:
            health.errors += 1
        health.consecutive_failures += 1
        health.last_error = f"{hook}: {message}"
        health.last_error_at = utc_now()
        log.warning("plug-in %s: %s failed: %s", record.name, hook, message)
        if (
            record.state is PluginState.RUNNING
            and health.consecutive_failures >= self.failure_threshold
        ):
            failed = health.consecutive_failures
            calls = "call" if failed == 1 else "calls"
            self._restart_later(
                record, f"{failed} {calls} failed in a row (last: {hook}: {message})"
            )

    async def _request(
        self,
        record: PluginRecord,
        hook: str,
        body: Any,
        result: Any,
        *,
        within: float | None = None,
        answers: bool = False,
    ) -> Any:
        """Send ``body`` to the plug-in's runner and count the outcome."""
        runner = record.runner
        if runner is None or not runner.alive:
            raise PluginCallError(record.name, hook, "its runner is not running", timed_out=False)
        budget = budget_for(self.budgets, hook)
        record.health.calls += 1
        try:
            value = await runner.request(body, result, within or budget + GRACE_SECONDS)
        except RemoteError as exc:
            error = exc.body
            if answers and error.kind == "http":
                record.health.consecutive_failures = 0
                raise HttpError(error.message, status=error.status, code=error.code) from None
            if error.kind == "config":
                raise PluginCallError(
                    record.name, hook, error.message, timed_out=False, kind="config"
                ) from exc
            self._failed_call(record, hook, error.kind, error.message)
            raise PluginCallError(
                record.name, hook, error.message, timed_out=error.kind == "timeout", kind=error.kind
            ) from exc
        except TimeoutError:
            message = f"no answer within {budget:g} s (+{GRACE_SECONDS:g} s)"
            self._failed_call(record, hook, "timeout", message)
            raise PluginCallError(record.name, hook, message, timed_out=True) from None
        except ChannelClosed as exc:
            raise PluginCallError(
                record.name, hook, f"its runner went away ({exc})", timed_out=False
            ) from None
        except ValueError as exc:  # what the server would send cannot be encoded
            raise PluginCallError(record.name, hook, str(exc), timed_out=False) from None
        record.health.consecutive_failures = 0
        return value

    # ----------------------------------------------------------------- the runner asks

    async def _on_runner_request(self, record: PluginRecord, body: Any) -> Any:
        name = record.name
        if self._stopping:
            raise _Answer(ErrorBody("unavailable", "the server is stopping"))
        if isinstance(body, PublishEvent):
            self._need(record, "events", "publish events")
            return await self.services.publish_event(replace(body.event, source=name))
        if isinstance(body, MakeBookmark):
            self._need(record, "bookmarks", "bookmark recordings")
            if body.lock:
                self._need(record, "evidence_locks", "lock recordings as evidence")
            try:
                return await self.services.create_bookmark(
                    body.camera_ids,
                    body.start,
                    body.end,
                    body.reason,
                    body.lock,
                    f"plugin:{name}",
                    body.event_id,
                )
            except ValueError as exc:
                raise _Answer(ErrorBody("value", str(exc))) from None
        if isinstance(body, TakeSnapshot):
            self._need(record, "snapshots", "fetch camera pictures")
            return await self.services.snapshot(body.camera_id)
        if isinstance(body, SendNotification):
            self._need(record, "notify", "send notifications")
            await self.services.send_notification(body.notification, f"plugin:{name}")
            return None
        if isinstance(body, PtzGoto):
            self._need(record, "ptz", "move PTZ cameras")
            try:
                await self.services.ptz_goto_preset(body.camera_id, body.preset)
            except ValueError as exc:
                raise _Answer(ErrorBody("value", str(exc))) from None
            return None
        raise _Answer(ErrorBody("error", f"unexpected request {type(body).__name__}"))

    def _need(self, record: PluginRecord, capability: str, what: str) -> None:
        if record.granted.allows(capability):
            return
        self._refused(record, capability, what)
        raise _Answer(
            ErrorBody(
                "denied",
                f"plug-in {record.name!r} may not {what}: capability {capability!r} is not "
                f"granted (add it to [plugins.{record.name}] grant)",
                key=capability,
            )
        )

    def _refused(self, record: PluginRecord, capability: str, what: str) -> None:
        log.warning("plug-in %s may not %s: %r is not granted", record.name, what, capability)
        if self.audit is not None:
            detail = {"capability": capability, "what": what}
            task = asyncio.get_running_loop().create_task(
                self.audit("plugin.call_refused", record.name, detail)
            )
            _background.add(task)
            task.add_done_callback(_background.discard)

    def _on_runner_note(self, record: PluginRecord, body: Any) -> None:
        if isinstance(body, LogLine):
            logging.getLogger(
                body.logger
                if body.logger.startswith("vms.plugins")
                else (f"vms.plugins.{record.name}")
            ).log(body.level, "%s", body.message)
        elif isinstance(body, KvSet) and record.kv is not None:
            record.kv.set(body.key, body.value)
        elif isinstance(body, KvDelete) and record.kv is not None:
            record.kv.delete(body.key)
        elif isinstance(body, Refused):
            self._refused(record, body.capability, body.what)
        elif isinstance(body, Fatal):
            limit = record.memory_mb or self.limits.memory_mb
            reason = (
                f"it exceeded its memory limit of {limit} MB ({body.message})"
                if body.kind == "memory"
                else body.message
            )
            runner = record.runner
            if runner is not None:
                self._runner_failed(record, runner, reason)

    # ----------------------------------------------------------------- calling

    def get(self, name: str) -> PluginRecord | None:
        """The record of plug-in ``name``."""
        return self._records.get(name)

    def dispatch_event(self, event: Event) -> int:
        """Queue ``event`` for every running plug-in's ``vms_on_event``; never blocks.

        :return: how many plug-ins it was queued for. A plug-in whose queue is full
            (it is far behind) loses the event; the loss is counted.
        """
        return self._post("vms_on_event", {"event": event})

    def segment_closed(self, segment: SegmentInfo) -> int:
        """Queue ``segment`` for every plug-in granted ``segments``."""
        return self._post("vms_on_segment_closed", {"segment": segment}, "segments")

    def cameras_changed(self, cameras: Sequence[Camera]) -> int:
        """Tell every runner the new camera list, and queue ``vms_cameras_changed``."""
        self._cameras = list(cameras)
        for record in self._records.values():
            if record.callable and record.runner is not None:
                record.runner.note(CamerasUpdate(list(cameras)))
        return self._post("vms_cameras_changed", {"cameras": list(cameras)})

    def _post(self, hook: str, kwargs: dict[str, Any], capability: str | None = None) -> int:
        queued = 0
        for record in self._records.values():
            if not record.callable or hook not in record.hooks:
                continue
            if capability is not None and not record.granted.allows(capability):
                continue
            assert record.inbox is not None
            try:
                record.inbox.put_nowait((hook, kwargs))
                queued += 1
            except asyncio.QueueFull:
                record.inbox_dropped += 1
        return queued

    async def _inbox_worker(self, record: PluginRecord) -> None:
        assert record.inbox is not None
        while True:
            hook, kwargs = await record.inbox.get()
            try:
                if record.callable:
                    await self._request(record, hook, Call(hook, **kwargs), None)
            except PluginCallError:
                pass  # counted and logged
            finally:
                record.inbox.task_done()

    async def wait_idle(self) -> None:
        """Wait until every queued event and segment has been handled (or dropped)."""
        for record in list(self._records.values()):
            if record.inbox is not None and record.state is PluginState.RUNNING:
                await record.inbox.join()

    async def deliver(self, notification: Notification) -> builtins.list[DeliveryResult]:
        """Offer ``notification`` to every channel plug-in (granted ``channel``).

        :return: the results of the plug-ins that took it (empty: no channel did).
        """

        async def offer(record: PluginRecord) -> DeliveryResult | None:
            try:
                result: DeliveryResult | None = await self._request(
                    record,
                    "vms_notify",
                    Call("vms_notify", notification=notification),
                    DeliveryResult | None,
                )
            except PluginCallError as exc:
                return DeliveryResult(notification.channel, False, str(exc))
            return result

        channels = [
            r
            for r in self._records.values()
            if r.callable and "vms_notify" in r.hooks and r.granted.allows("channel")
        ]
        results = await asyncio.gather(*(offer(r) for r in channels))
        return [r for r in results if r is not None]

    def is_callable(self, name: str) -> bool:
        """Whether plug-in ``name`` is running (still called)."""
        record = self._records.get(name)
        return record is not None and record.callable

    def camera_warning(self, name: str, camera_id: str, message: str | None) -> None:
        """Set (``message``) or clear (``None``) the health warning about camera
        ``camera_id`` of plug-in ``name`` (its frames are skipped)."""
        record = self._records.get(name)
        if record is None:
            return
        prefix = f"camera {camera_id}:"
        kept = [w for w in record.health.warnings if not w.startswith(prefix)]
        record.health.warnings = kept if message is None else [*kept, message]

    async def analyze_frame(self, name: str, frame: Frame) -> bool:
        """Call plug-in ``name``'s ``vms_analyze_frame`` with ``frame`` through its
        shared memory (used by the frame dispatcher).

        :return: whether the plug-in was called (``False``: it is not running, or every
            memory region is still read by calls that overran, so the frame is skipped).
        """
        record = self._records.get(name)
        if record is None or not record.callable or record.frames is None:
            return False
        ref = record.frames.put(frame)
        if ref is None:
            return False
        overran = False
        try:
            await self._request(
                record, "vms_analyze_frame", Call("vms_analyze_frame", frame=ref), None
            )
        except PluginCallError as exc:
            overran = exc.timed_out
        finally:
            if record.frames is not None:
                record.frames.done(ref, overran=overran)
        return True

    async def analyze_audio(self, name: str, chunk: AudioChunk) -> bool:
        """Call plug-in ``name``'s ``vms_analyze_audio`` (used by the audio dispatcher);
        whether it was called."""
        record = self._records.get(name)
        if record is None or not record.callable:
            return False
        ref = AudioRef(
            chunk.camera_id, chunk.time, chunk.sample_rate, chunk.samples.astype("<f4").tobytes()
        )
        with contextlib.suppress(PluginCallError):
            await self._request(
                record, "vms_analyze_audio", Call("vms_analyze_audio", audio=ref), None
            )
        return True

    async def handle_request(self, name: str, route: Route, request: HttpRequest) -> HttpResponse:
        """Run a plug-in's route handler in its runner, under the HTTP budget.

        :raises HttpError: the handler's answer to a request it refused (not a failure).
        :raises PluginCallError: when it raised anything else, overran or is not running.
        """
        record = self._records[name]
        index = next(i for i, r in enumerate(record.routes) if r is route)
        hook = f"route {route.method} {route.path}"
        response: HttpResponse = await self._request(
            record,
            hook,
            HttpCall(record.route_indexes[index], request),
            HttpResponse,
            within=self.budgets.http + GRACE_SECONDS,
            answers=True,
        )
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
            if record.runner is not None:
                stats = record.runner.stats
                record.health.cpu_seconds = stats.cpu_seconds
                record.health.rss_bytes = stats.rss_bytes
                record.health.threads = stats.threads
            record.health.healthy = record.state not in (
                PluginState.RESTARTING,
                PluginState.QUARANTINED,
                PluginState.FAILED,
            )
            out.append(
                PluginStatus(
                    record.name,
                    record.version,
                    record.description,
                    record.api_version,
                    record.source,
                    record.state.value,
                    record.reason,
                    record.health,
                    record.inbox_dropped,
                    record.requested.as_list(),
                    record.granted.as_list(),
                    list(record.warnings),
                )
            )
        return out


class _Answer(Exception):
    """An error answer to a runner's request (raised inside the request handler)."""

    def __init__(self, body: ErrorBody) -> None:
        super().__init__(body.message)
        self.body = body


_background: set[asyncio.Task[None]] = set()


def _cancel(task: asyncio.Task[None]) -> None:
    """Cancel ``task`` and hold it until it is done (a pending task nobody holds is
    destroyed with a complaint)."""
    task.cancel()
    _background.add(task)
    task.add_done_callback(_background.discard)


def _remote_handler(request: HttpRequest) -> HttpResponse:  # pragma: no cover - never called
    raise RuntimeError("plug-in routes run in the plug-in's runner")


def answer_of(exc: BaseException) -> ErrorBody:
    """How an exception of the server's request handler travels back to the runner."""
    if isinstance(exc, _Answer):
        return exc.body
    log.error("answering a plug-in's request failed", exc_info=exc)
    return ErrorBody("error", f"the server failed: {type(exc).__name__}")


def _sandbox_grants(grant: Grant) -> tuple[bool, bool]:
    return grant.allows("network"), grant.allows("segments")


def open_path_to(folder: Path, data_dir: Path) -> None:
    """Let the plug-in user reach its working folder by path (some libraries, SQLite among
    them, resolve the folder to its real path): each folder on the way may be traversed,
    never listed. Everything else in the data folder is made the server's alone."""
    for part in [folder, *folder.parents]:
        mode = part.stat().st_mode & 0o7777
        if part == data_dir:
            for entry in part.iterdir():
                if entry.name != folder.name and not entry.is_symlink():
                    entry.chmod(entry.stat().st_mode & 0o7700)
            wanted = 0o711
        else:
            wanted = mode | 0o001
        if mode != wanted:
            part.chmod(wanted)
            log.info("plug-in runners may now pass through %s (mode %o)", part, wanted)
        if part == Path(part.anchor):
            break


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "no answer in time"
    return str(exc) or type(exc).__name__


__all__ = [
    "PluginCallError",
    "PluginHealth",
    "PluginManager",
    "PluginRecord",
    "PluginState",
    "PluginStatus",
    "answer_of",
]
