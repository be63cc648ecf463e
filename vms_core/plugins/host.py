"""PluginHost: the plug-in side of a running server, in one object.

It builds the :class:`PluginManager` from ``[plugin_host]`` and ``[plugins.*]``, feeds it
events (EventBus), closed segments (recording), camera changes, notifications (rules)
and sampled frames and audio (FrameSampler over the live feeds), and gives the HTTP
layer the plug-ins' routes. It sees only the narrow server parts of
:class:`~vms_core.plugins.parts.PluginHostParts`, never the server object.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from aiohttp import web
from vms_sdk import Camera, Event, Notification, SegmentInfo
from vms_sdk.policy import CallBudgets

from vms_core.cameras import CameraChange
from vms_core.config import Settings
from vms_core.plugins.behind import BehindReporter
from vms_core.plugins.dispatch import AudioDispatcher, FrameDispatcher
from vms_core.plugins.frames import FrameSampler
from vms_core.plugins.host_services import ServerHostServices
from vms_core.plugins.http import PluginHttp
from vms_core.plugins.manager import AuditSink, PluginManager, PluginStatus
from vms_core.plugins.parts import AuditTrail, PluginHostParts
from vms_core.plugins.services import HostServices
from vms_core.plugins.supervision import RunnerLimits
from vms_core.recording_catalog import LiveSegment
from vms_core.tasks import cancel_and_wait
from vms_core.timeutil import from_us

log = logging.getLogger("vms.plugins")

# Comma-separated names: when set, only these installed or folder plug-ins are loaded
# ("" loads none). For tests and for bisecting a misbehaving plug-in.
ALLOW_ENV = "VMS_PLUGINS"
# The live state of the plug-ins, for `vms plugins list` while the server runs.
STATUS_FILE = "plugin-status.json"
STATUS_SECONDS = 5.0


def status_path(settings: Settings) -> Path:
    """Where a running server keeps its plug-ins' live state."""
    return settings.data_dir / STATUS_FILE


def read_live_status(settings: Settings) -> dict[str, Any] | None:
    """The plug-ins' state as the running server last wrote it, or ``None`` when no server
    of this configuration runs."""
    try:
        status: dict[str, Any] = json.loads(status_path(settings).read_text())
        os.kill(int(status["pid"]), 0)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return status


def allow_list() -> frozenset[str] | None:
    """The ``VMS_PLUGINS`` allow-list, or ``None`` when the variable is not set."""
    raw = os.environ.get(ALLOW_ENV)
    if raw is None:
        return None
    return frozenset(name.strip() for name in raw.split(",") if name.strip())


def call_budgets(settings: Settings) -> CallBudgets:
    """Per-call budgets: ``call_timeout_seconds`` is an event call's budget; every other
    kind keeps its default proportion to it (start-up and frames 2.5 times, ...)."""
    return CallBudgets().scaled(settings.plugin_host.call_timeout_seconds)


def runner_limits(settings: Settings) -> RunnerLimits:
    """Runner limits and restart rules from ``[plugin_host]``."""
    host = settings.plugin_host
    return RunnerLimits(
        memory_mb=host.memory_mb,
        max_tasks=host.max_threads,
        heartbeat_seconds=host.heartbeat_seconds,
        max_restarts=host.max_restarts,
        restart_backoff_seconds=host.restart_backoff_seconds,
        landlock=host.landlock,
        user=host.user,
        max_cpu_percent=host.max_cpu_percent,
        cpu_window_seconds=host.cpu_window_seconds,
    )


def audit_sink(audit: AuditTrail) -> AuditSink:
    async def write(action: str, plugin: str, detail: dict[str, Any]) -> None:
        await audit.record(
            action, username=f"plugin:{plugin}", target=plugin, success=False, detail=detail
        )

    return write


def manager_for(
    settings: Settings, services: HostServices, audit: AuditSink | None = None
) -> PluginManager:
    """A manager configured from ``settings`` (not loaded yet)."""
    return PluginManager(
        services,
        config=settings.plugins,
        folders=settings.plugin_dirs,
        budgets=call_budgets(settings),
        failure_threshold=settings.plugin_host.max_consecutive_failures,
        allow=allow_list(),
        limits=runner_limits(settings),
        audit=audit,
        forbidden=[settings.data_dir, settings.recordings_dir],
        recordings_dir=settings.recordings_dir,
    )


class PluginHost:
    """Owns the plug-in manager, its dispatchers and the frame sampler of one server."""

    def __init__(self, parts: PluginHostParts) -> None:
        self._parts = parts
        settings = parts.settings()
        self.services = ServerHostServices(parts)
        self.manager = manager_for(settings, self.services, audit_sink(parts.audit))
        self.manager.on_change = self._subscriptions_changed
        self.services.manager = self.manager
        self.services.cameras_changed.connect(self._cameras_changed, "plug-in manager")
        self.http = PluginHttp(
            self.manager,
            self._audit_refusal,
            principal_of=parts.caller_of,
            max_body_bytes=settings.plugin_host.max_body_bytes,
        )
        self.behind = BehindReporter(self.manager, parts.events.publish)
        self.frames = FrameDispatcher(self.manager, on_behind=self.behind)
        self.audio = AudioDispatcher(self.manager)
        self.sampler = FrameSampler(parts.live, self.frames, self.audio, self.services.list_cameras)
        self._started = False
        self._status_task: asyncio.Task[None] | None = None
        parts.events.subscribe("plugins", self._on_event)
        parts.cameras.changed.connect(self._on_camera_change, "plug-in frame taps")
        if parts.segments_closed is not None:
            parts.segments_closed.connect(self._segment_closed, "plug-ins")

    # -- what the HTTP API shows and serves --------------------------------------------------
    def describe(self) -> list[dict[str, Any]]:
        """Every plug-in found: its state and why, health, runner figures, frame lanes."""
        return [self._describe(status) for status in self.manager.list()]

    def describe_one(self, name: str) -> dict[str, Any] | None:
        """One plug-in as ``describe`` shows it, or None when there is none of that name."""
        return next((self._describe(s) for s in self.manager.list() if s.name == name), None)

    async def restart(self, name: str) -> dict[str, Any]:
        """Restart one plug-in on an operator's word (see ``PluginManager.restart``); its
        frame lanes follow its new subscriptions."""
        record = await self.manager.restart(name)
        found = self.describe_one(record.name)
        if found is None:  # loaded again under another name
            raise KeyError(name)
        return found

    def _describe(self, status: PluginStatus) -> dict[str, Any]:
        """Its status, lane counters and, per camera, the frames it analysed and skipped."""
        item = status.as_dict()
        lanes = {
            "video": self.frames.stats().get(status.name),
            "audio": self.audio.stats().get(status.name),
        }
        item["frames"] = {
            kind: vars(stats).copy() for kind, stats in lanes.items() if stats is not None
        }
        item["frames"]["cameras"] = self.frames.cameras(status.name)
        return item

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """A request under /api/plugins/<name>/, for the plug-in's own routes."""
        return await self.http.handle(request)

    def is_public(self, method: str, path: str) -> bool:
        """The plug-in declared this route public (it checks its own signature)."""
        return self.http.is_public(method, path)

    async def _audit_refusal(
        self, plugin: str, request: web.Request, status: int, reason: str
    ) -> None:
        await self._parts.audit.record(
            "plugin.request_refused",
            target=f"{plugin} {request.method} {request.path}",
            success=False,
            remote=request.remote or "",
            detail={"plugin": plugin, "status": status, "reason": reason},
        )

    async def start(self) -> None:
        """Load, configure and start every plug-in, then start feeding them."""
        await self.services.refresh_cameras()
        self.manager.cameras_changed(self.services.list_cameras())
        await self.manager.load()
        await self.manager.start()
        await self._start_feeds()
        self._started = True
        self._status_task = asyncio.create_task(self._write_status(), name="vms-plugin-status")
        for status in self.manager.list():
            if status.state not in ("running", "disabled"):
                log.warning("plug-in %s is %s: %s", status.name, status.state, status.reason)

    async def _write_status(self) -> None:
        """Keep the live state file current (every few seconds: CPU and memory move)."""
        path = status_path(self._parts.settings())
        failing = False
        while True:
            rows = [s.as_dict() for s in self.manager.list()]
            data = json.dumps({"pid": os.getpid(), "plugins": rows}, default=str)
            try:
                await asyncio.to_thread(_write_private, path, data)
            except OSError as exc:
                # A full or failing disk: `vms plugins list` shows older figures meanwhile,
                # nothing else depends on the file. Said once, tried again.
                if not failing:
                    log.warning("plug-in status file %s cannot be written: %s", path, exc)
                failing = True
            else:
                failing = False
            await asyncio.sleep(STATUS_SECONDS)

    async def _start_feeds(self) -> None:
        self.frames.start()
        self.audio.start()
        await self.sampler.refresh()

    async def _stop_feeds(self) -> None:
        await self.sampler.stop()
        await self.frames.stop()
        await self.audio.stop()
        await self.behind.drain()

    async def _subscriptions_changed(self) -> None:
        """A plug-in was restarted: its lanes and taps follow its new subscriptions."""
        if not self._started:
            return
        await self.frames.restart()
        await self.audio.restart()
        await self.sampler.refresh()

    async def stop(self) -> None:
        """Stop feeding plug-ins, then shut them down (each within its budget)."""
        self._started = False
        status_task, self._status_task = self._status_task, None
        await cancel_and_wait(status_task)
        with contextlib.suppress(FileNotFoundError):
            status_path(self._parts.settings()).unlink()
        await self._stop_feeds()
        await self.manager.stop()

    async def reload(self, settings: Settings) -> None:
        """Apply new ``[plugins]`` / ``[plugin_host]`` settings: a fresh start of every
        plug-in (health and restart counters reset, so a quarantined plug-in gets another
        chance)."""
        await self._stop_feeds()
        self.http.max_body_bytes = settings.plugin_host.max_body_bytes
        self.manager.config = dict(settings.plugins)
        self.manager.folders = list(settings.plugin_dirs)
        self.manager.budgets = call_budgets(settings)
        self.manager.failure_threshold = settings.plugin_host.max_consecutive_failures
        self.manager.limits = runner_limits(settings)
        self.manager.allow = allow_list()
        await self.manager.reload()
        await self._start_feeds()
        self._started = True

    # -- feeds from the server ---------------------------------------------------------------
    async def _on_event(self, event: Event) -> None:
        self.manager.dispatch_event(event)

    def _cameras_changed(self, cameras: Sequence[Camera]) -> None:
        self.manager.cameras_changed(cameras)

    async def _on_camera_change(self, change: CameraChange) -> None:
        if self._started:  # a subscription to "every camera" covers a new one at once
            await self.sampler.refresh()

    def _segment_closed(self, segment: LiveSegment) -> None:
        """A segment is written and indexed: the plug-ins hear of it as the SDK says it."""
        self.manager.segment_closed(
            SegmentInfo(
                str(segment.camera_id),
                from_us(segment.start_us),
                from_us(segment.end_us),
                segment.path,
                segment.bytes,
                segment.codec,
            )
        )

    async def notify(self, notification: Notification) -> None:
        """The rules' ``notify`` action: hand it to the channel plug-ins."""
        results = await self.manager.deliver(notification)
        if not results:
            log.warning("no plug-in delivers channel %r", notification.channel)
        for result in results:
            if not result.delivered:
                log.warning(
                    "channel %s did not deliver %r: %s",
                    result.channel,
                    notification.title,
                    result.detail,
                )


def _write_private(path: Path, data: str) -> None:
    """Write ``data`` to ``path`` readable by the server's user only, atomically."""
    temporary = path.with_suffix(".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w") as out:
            out.write(data)
    except OSError:
        temporary.unlink(missing_ok=True)
        raise
    os.replace(temporary, path)
