"""Recording: the server side of the recorder pool.

Cameras that are enabled and set to record are handed to ``RecorderPool`` (ingest and
segment writing in worker processes, sharded over the cores). This service keeps the pool in
step with the camera registry, writes what the workers report into the catalog (segments,
camera states), and on start reconciles the catalog with what is on disk.

Recordings live in ``<recordings>/<camera name>/...``: the folder is the camera's name.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote, urlsplit, urlunsplit

from sqlalchemy import delete, select, update
from sqlalchemy.exc import DBAPIError
from vms_sdk import Event, Severity

from vms_core.cameras import CameraChange, CameraService
from vms_core.cameras.state_events import StateEvent, StateEventDebouncer
from vms_core.db.engine import Database
from vms_core.db.models import Segment, Stream
from vms_core.events import EventBus
from vms_core.media.catalog import MemoryCatalog
from vms_core.media.pool import (
    RecorderEvent,
    RecorderPool,
    RecordingHealth,
    SegmentClosed,
    SegmentOpened,
    SegmentProgress,
    StateChanged,
)
from vms_core.media.reconcile import ReconcileReport, SegmentFile, probe_segment, reconcile
from vms_core.media.segment_writer import SegmentPolicy
from vms_core.media.stream_info import StreamInfo
from vms_core.recording_catalog import LiveSegment, RecordingCatalog
from vms_core.signals import Signal
from vms_core.timeutil import from_us, to_us

log = logging.getLogger(__name__)
T = TypeVar("T")

# A camera whose stream arrives but cannot be written (the disk): the reason says why.
NOT_RECORDING = "not_recording"
# The longest the pump waits for worker events before checking whether a flush is due.
POLL_SECONDS = 0.5
# The pump takes worker events at most this often (a batch each time).
DRAIN_SECONDS = 0.25


def _probe_stale(rows: list[tuple[Path, int]]) -> list[tuple[Path, SegmentFile | None]]:
    """Blocking: the real span of each (path, start_us); None where unreadable or gone."""
    found: list[tuple[Path, SegmentFile | None]] = []
    for path, start_us in rows:
        camera = path.parts[-4] if len(path.parts) >= 4 else ""
        found.append(
            (path, probe_segment(path, camera, from_us(start_us)) if path.exists() else None)
        )
    return found


def url_with_credentials(url: str, username: str, password: str) -> str:
    """Put the camera's login into its RTSP URL (FFmpeg reads it from there) unless the URL
    carries one already."""
    parts = urlsplit(url)
    if not username or parts.username:
        return url
    netloc = f"{quote(username, safe='')}:{quote(password, safe='')}@{parts.netloc}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


class RecordingService:
    def __init__(
        self,
        db: Database,
        cameras: CameraService,
        events: EventBus,
        recordings: Path,
        segment_seconds: float,
        workers: int | None = None,
        flush_seconds: float = 2.0,
    ) -> None:
        self.db = db
        self.cameras = cameras
        self.events = events
        self.recordings = recordings
        self.workers = workers or max(1, min(os.cpu_count() or 1, 4))
        self.pool = RecorderPool(
            recordings,
            workers=self.workers,
            policy=SegmentPolicy(segment_seconds=segment_seconds),
        )
        self._ids: dict[str, int] = {}  # camera name -> catalog id
        self._recording: dict[int, str] = {}  # catalog id -> URL handed to the pool
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self.state_events = StateEventDebouncer()
        # Our own thread for the blocking pool calls: the loop's default executor is shared
        # with long-running work elsewhere, and recording must not queue behind it.
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="recording-events")
        self.last_reconcile: ReconcileReport | None = None
        # What the workers reported, written to the catalog in batches (issue #16).
        self.catalog = RecordingCatalog(db, flush_seconds)
        # Open rows may exist that no recorder writes (cut off while the catalog could not
        # be written, or a start-up reconciliation that failed): close them from their files.
        self._stale_check = False
        # Cameras whose writer cannot write now, and why (from the workers).
        self._write_failures: dict[int, str] = {}
        # States the catalog could not take yet: camera id -> (name, state, reason, publish
        # its event once stored), and events it could not store (oldest dropped first).
        self._pending_states: dict[int, tuple[str, str, str, bool]] = {}
        self._pending_events: deque[Event] = deque(maxlen=1000)
        # Says, after a write failure, what retention can or cannot do about it.
        self.write_failure_hint: Callable[[], str] | None = None
        self._reasons_stale = False
        # A recorder began a segment (as it reported it; its row is written in a batch).
        self.segment_opened: Signal[LiveSegment] = Signal("segment opened")
        # A segment is closed and indexed in the catalog (retention, plug-ins' archivers).
        self.segment_closed: Signal[LiveSegment] = Signal("segment closed")
        # A camera's writer cannot write (its id): retention runs a pass early.
        self.write_failed: Signal[int] = Signal("write failed")
        cameras.changed.connect(self._on_camera_change, "recording")

    async def start(self) -> None:
        """Reconcile the catalog with the disk, then record every camera that should be.
        The worker processes start with the first camera to record."""
        self.recordings.mkdir(parents=True, exist_ok=True)
        await self._refresh_ids()
        try:
            self.last_reconcile = await self.reconcile()
        except DBAPIError as exc:
            # The catalog cannot be written (a full disk under SQLite): record anyway, and
            # close what a crash left open once writes succeed again.
            log.warning(
                "start-up reconciliation postponed: cannot write the catalog (%s)", exc.orig
            )
            self._stale_check = True
        await self.sync_all()

    async def sync_all(self) -> None:
        await self._refresh_ids()
        for camera in await self.cameras.visible():
            await self._sync_camera(camera.id)

    async def _ensure_pool(self) -> None:
        if self._task is None:
            # On the loop's thread, not a pool thread: Linux ties a worker's parent-death
            # signal to the thread that started it, and this one lives as long as the server.
            self.pool.start()
            self._task = asyncio.create_task(self._pump(), name="recording-events")
            self._task.add_done_callback(self._pump_ended)

    async def stop(self) -> None:
        self._stopping = True
        if self._task is None:
            return
        # Let the pump finish its current poll (at most 0.5 s) rather than cancel it: a
        # cancelled poll would swallow the events it already took, WorkerStopped among them.
        # A pump that failed was reported when it did (_pump_ended); the pool stops anyway.
        task, self._task = self._task, None
        await asyncio.wait([task])
        remaining = await self._blocking(self.pool.stop)
        for event in remaining:
            await self._apply(event)
        await self.flush()

    async def _blocking(self, function: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._thread, function, *args)

    # -- catalog reconciliation --------------------------------------------------------------
    async def reconcile(self) -> ReconcileReport:
        """Index files the catalog lacks, close segments a crash left open (real end read
        from the file), drop rows whose files are gone. Reports what it did."""
        async with self.db.session() as session:
            rows = list(await session.execute(select(Segment.path, Segment.end_us)))
        known_closed = {Path(p) for p, end in rows if end is not None}
        known_open = {Path(p) for p, end in rows if end is None}
        found = MemoryCatalog()
        report = await self._blocking(reconcile, self.recordings, found, known_closed, known_open)
        async with self.db.session() as session:
            for record in found.segments():
                camera_id = self._ids.get(record.camera_id)
                if camera_id is None or record.end is None:
                    continue
                existing = await session.scalar(
                    select(Segment).where(Segment.path == str(record.path))
                )
                if existing is None:
                    existing = Segment(
                        camera_id=camera_id,
                        path=str(record.path),
                        stream_role="main",
                        codec=record.codec,
                        start_us=to_us(record.start),
                    )
                    session.add(existing)
                existing.end_us = to_us(record.end)
                existing.bytes = record.size
            gone = [str(p) for p in known_open | known_closed if not p.exists()]
            if gone:
                await session.execute(delete(Segment).where(Segment.path.in_(gone)))
        if report.indexed or report.closed or gone or report.unreadable:
            log.warning(
                "reconciled recordings: %d indexed, %d closed after a crash, %d rows without "
                "files dropped, %d unreadable files left in place",
                len(report.indexed),
                len(report.closed),
                len(gone),
                len(report.unreadable),
            )
        return report

    async def close_stale_segments(self) -> None:
        """Close the open rows no recorder is writing, with the real end read from each
        file (a row whose file is gone is dropped): segments cut off while the catalog
        could not be written would otherwise stay open, and retention never frees them."""
        try:
            async with self.db.session() as session:
                rows = list(
                    await session.execute(
                        select(Segment.path, Segment.start_us).where(Segment.end_us.is_(None))
                    )
                )
            live = self.catalog.live_paths
            stale = [(Path(p), int(start)) for p, start in rows if p not in live]
            probed = await self._blocking(_probe_stale, stale) if stale else []
            async with self.db.session() as session:
                for path, found in probed:
                    if found is None:
                        if not path.exists():
                            await session.execute(delete(Segment).where(Segment.path == str(path)))
                        continue  # unreadable: left for the operator, as at start-up
                    await session.execute(
                        update(Segment)
                        .where(Segment.path == str(path), Segment.end_us.is_(None))
                        .values(end_us=to_us(found.end), bytes=found.size)
                    )
        except DBAPIError as exc:
            log.warning("closing stale segments postponed: %s", exc.orig)
            self._stale_check = True
            return
        self._stale_check = False
        closed = [(p, f) for p, f in probed if f is not None]
        if closed:
            log.warning(
                "closed %d segments left open while the catalog could not be written", len(closed)
            )
        for path, found in closed:
            camera_id = self._ids.get(found.camera_id)
            if camera_id is not None:
                self._segment_indexed(
                    LiveSegment(
                        camera_id,
                        str(path),
                        to_us(found.start),
                        found.codec,
                        to_us(found.end),
                        found.size,
                        closed=True,
                    )
                )

    # -- cameras -----------------------------------------------------------------------------
    async def _refresh_ids(self) -> None:
        self._ids = {c.name: c.id for c in await self.cameras.visible()}

    async def _on_camera_change(self, change: CameraChange) -> None:
        # The change names the camera: no reload of every camera per change (64 cameras
        # added at start made that 64 full reads).
        for name in [n for n, i in self._ids.items() if i == change.camera_id]:
            del self._ids[name]
        if change.kind != "removed":
            self._ids[change.name] = change.camera_id
        if change.kind == "removed":
            self.catalog.forget_camera(change.camera_id)
            self._write_failures.pop(change.camera_id, None)
            self._pending_states.pop(change.camera_id, None)
        if change.kind == "changed" and change.camera_id in self._recording:
            # Settings changed: restart its recording with the new ones.
            await self._blocking(self.pool.remove_camera, change.name)
            self._recording.pop(change.camera_id, None)
        # A removed camera is gone from the catalog: its name comes with the change.
        await self._sync_camera(change.camera_id, known_name=change.name)

    async def _sync_camera(self, camera_id: int, known_name: str | None = None) -> None:
        camera = await self.cameras.get(camera_id)
        url = None
        if camera is not None and camera.enabled and camera.record:
            main = next((s for s in camera.streams if s.role == "main"), None)
            if main is not None:
                password = await self.cameras.password(camera.id)
                url = url_with_credentials(main.url, camera.username, password)
        current = self._recording.get(camera_id)
        if current == url:
            return
        name = (
            camera.name
            if camera is not None
            else known_name or next((n for n, i in self._ids.items() if i == camera_id), None)
        )
        if current is not None and name is not None:
            await self._blocking(self.pool.remove_camera, name)
            self._recording.pop(camera_id, None)
            self.state_events.forget(name)
            self._write_failures.pop(camera_id, None)
            if camera is not None:
                await self.cameras.set_state(camera_id, "idle", "not recording")
        if url is not None and camera is not None and not self._stopping:
            await self._ensure_pool()
            await self._blocking(self.pool.add_camera, camera.name, url)
            self._recording[camera_id] = url

    # -- worker events -----------------------------------------------------------------------
    async def _pump(self) -> None:
        loop = asyncio.get_running_loop()
        while not self._stopping:
            drained = loop.time()
            wait = max(0.05, min(POLL_SECONDS, self.catalog.seconds_to_flush()))
            events = await self._blocking(self.pool.poll_events, wait)
            for event in events:
                try:
                    await self._apply(event)
                except Exception:
                    log.exception("could not record recorder event %r", event)
            for found in self.state_events.due(time.time()):
                try:
                    await self._publish_state(found)
                except Exception:
                    log.exception("could not publish %s of %s", found.type, found.camera)
            if self.catalog.due():
                try:
                    await self.flush()
                except Exception:  # the pump must go on: the workers' queue would fill
                    log.exception("recording catalog flush failed")
            # Many cameras report all the time: take their events in batches, not one
            # thread hop per event (profile of issue #16); at most DRAIN_SECONDS late.
            pause = drained + DRAIN_SECONDS - loop.time()
            if events and pause > 0 and not self._stopping:
                await asyncio.sleep(pause)

    def _pump_ended(self, task: asyncio.Task[None]) -> None:
        """The pump ends only at stop; one that failed leaves every camera's segments and
        states unwritten, so it is an error to see at once, not at the next stop."""
        if not task.cancelled() and task.exception() is not None:
            log.error(
                "recording events are no longer written: the pump failed",
                exc_info=task.exception(),
            )

    async def flush(self) -> None:
        """Write what the recorders reported since the last flush; then tell retention and
        the segment listeners of each segment now closed in the catalog."""
        was_failing = self.catalog.failing_since is not None
        result = await self.catalog.flush(set(self._ids.values()))
        if result is None:
            return
        for segment in result.closed:
            self._segment_indexed(segment)
        if was_failing or self._stale_check:
            await self.close_stale_segments()
        if self._pending_states or self._pending_events:
            await self._retry_states()
        if self._reasons_stale:
            await self._refresh_reasons()

    def _segment_indexed(self, segment: LiveSegment) -> None:
        self.segment_closed.emit(segment)

    async def _apply(self, event: RecorderEvent) -> None:
        if isinstance(event, StateChanged):
            await self._state(event)
            return
        if isinstance(event, RecordingHealth):
            await self._write_health(event)
            return
        if not isinstance(event, SegmentOpened | SegmentProgress | SegmentClosed):
            return
        camera_id = self._ids.get(event.camera_id)
        if camera_id is None:
            return
        path = str(event.path)
        if isinstance(event, SegmentOpened):
            start_us = to_us(event.start)
            self.catalog.opened(camera_id, path, start_us, event.codec)
            self.segment_opened.emit(
                LiveSegment(camera_id, path, start_us, event.codec, start_us, 0)
            )
        elif isinstance(event, SegmentProgress):
            self.catalog.progress(path, to_us(event.end), event.size)
        else:
            self.catalog.closed(camera_id, path, to_us(event.start), to_us(event.end), event.size)

    def live_segments(self, camera_id: int) -> list[LiveSegment]:
        """The camera's segments as the recorder last reported them and the catalog may
        not show yet: the open one (its live edge) and any closed but not yet written."""
        return self.catalog.live(camera_id)

    async def _stream_info(self, camera_id: int, info: StreamInfo) -> None:
        """What the main stream carries, for the camera API."""
        async with self.db.session() as session:
            await session.execute(
                update(Stream)
                .where(Stream.camera_id == camera_id, Stream.role == "main")
                .values(
                    codec=info.video_codec,
                    width=info.width,
                    height=info.height,
                    fps=None if info.fps is None else round(info.fps, 3),
                    audio_codec=info.audio_codec or "",
                )
            )

    async def _state(self, event: StateChanged) -> None:
        camera_id = self._ids.get(event.camera_id)
        if camera_id is None:
            return
        state = str(event.status.state)
        reason = event.status.reason or ""
        if state == "stopped" or self._stopping:
            return
        if event.info is not None:
            try:
                await self._stream_info(camera_id, event.info)
            except DBAPIError as exc:  # shown again at its next connection
                log.warning(
                    "camera %s: stream parameters not stored: %s", event.camera_id, exc.orig
                )
        shown, shown_reason = state, reason
        if state == "streaming" and camera_id in self._write_failures:
            # Streaming, but its writer still cannot write: say that, not "streaming".
            shown, shown_reason = NOT_RECORDING, self._not_recording_reason(camera_id)
        # The catalog has the exact state; the events are debounced (state_events.py).
        await self._store_state(camera_id, event.camera_id, shown, shown_reason)
        status = event.status
        for found in self.state_events.observe(
            event.camera_id, state, reason, status.since, status.attempts
        ):
            await self._publish_state(found)

    async def _publish_state(self, found: StateEvent) -> None:
        camera_id = self._ids.get(found.camera)
        if camera_id is None:
            return
        await self._publish(
            Event(
                type=found.type,
                time=datetime.fromtimestamp(found.at, UTC),
                camera_ids=(str(camera_id),),
                severity=found.severity,
                source="recording",
                data={"camera": found.camera, **found.data},
            )
        )

    async def _write_health(self, event: RecordingHealth) -> None:
        camera_id = self._ids.get(event.camera_id)
        if camera_id is None or self._stopping:
            return
        if event.reason is None:
            if self._write_failures.pop(camera_id, None) is not None:
                await self._show_state(camera_id, event.camera_id, "streaming", "")
            return
        self._write_failures[camera_id] = event.reason
        reason = self._not_recording_reason(camera_id)
        await self._show_state(camera_id, event.camera_id, NOT_RECORDING, reason)
        self.write_failed.emit(camera_id)

    @property
    def not_recording(self) -> dict[int, str]:
        """Cameras whose stream arrives but cannot be written, and why (the writer's words)."""
        return dict(self._write_failures)

    def retention_ran(self, _run: object) -> None:
        """Retention finished a pass: what it could free may change a camera's reason."""
        if self._write_failures:
            self._reasons_stale = True

    async def _refresh_reasons(self) -> None:
        self._reasons_stale = False
        names = {i: n for n, i in self._ids.items()}
        for camera_id in list(self._write_failures):
            name = names.get(camera_id)
            if name is not None:
                reason = self._not_recording_reason(camera_id)
                await self._show_state(camera_id, name, NOT_RECORDING, reason)

    def _not_recording_reason(self, camera_id: int) -> str:
        reason = self._write_failures.get(camera_id, "")
        hint = self.write_failure_hint() if self.write_failure_hint is not None else ""
        return f"{reason}; {hint}" if hint else reason

    async def _show_state(self, camera_id: int, name: str, state: str, reason: str) -> None:
        """A state of the writer (``not_recording``, or ``streaming`` again) in the catalog
        and as an event, at once: it changes once per disk outage, not per reconnect."""
        if await self._store_state(camera_id, name, state, reason, publish=True):
            await self._publish_writer_state(camera_id, name, state, reason)

    async def _publish_writer_state(
        self, camera_id: int, name: str, state: str, reason: str
    ) -> None:
        severity = Severity.HIGH if state == NOT_RECORDING else Severity.INFO
        await self._publish(
            Event(
                type=f"camera.{state}",
                camera_ids=(str(camera_id),),
                severity=severity,
                source="recording",
                data={"camera": name, "reason": reason},
            )
        )

    async def _store_state(
        self, camera_id: int, name: str, state: str, reason: str, publish: bool = False
    ) -> bool:
        """The camera's exact state in the catalog; True when it changed. A catalog that
        cannot be written (full disk) keeps the latest state for the next flush to retry
        (``publish``: with its event once stored)."""
        self._pending_states.pop(camera_id, None)
        try:
            return await self.cameras.set_state(camera_id, state, reason)
        except DBAPIError as exc:
            log.warning("camera %s: state %s not stored yet: %s", name, state, exc.orig)
            self._pending_states[camera_id] = (name, state, reason, publish)
            return False

    async def _publish(self, event: Event) -> None:
        """Publish an event; one the catalog cannot store yet is kept for the next flush
        (publishing is idempotent by event id)."""
        try:
            await self.events.publish(event)
        except DBAPIError as exc:
            log.warning("event %s not stored yet: %s", event.type, exc.orig)
            self._pending_events.append(event)

    async def _retry_states(self) -> None:
        for camera_id, (name, state, reason, publish) in list(self._pending_states.items()):
            if await self._store_state(camera_id, name, state, reason, publish) and publish:
                await self._publish_writer_state(camera_id, name, state, reason)
        while self._pending_events and not self._pending_states:
            event = self._pending_events.popleft()
            try:
                await self.events.publish(event)
            except DBAPIError:
                self._pending_events.appendleft(event)
                return
