"""Recording: the server side of the recorder pool.

Cameras that are enabled and set to record are handed to ``RecorderPool`` (ingest and
segment writing in worker processes, sharded over the cores). This service keeps the pool in
step with the camera registry, writes what the workers report into the catalog (segments,
camera states), and on start reconciles the catalog with what is on disk.

Recordings live in ``<recordings>/<camera name>/...``: the folder is the camera's name.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote, urlsplit, urlunsplit

from sqlalchemy import delete, select, update
from vms_sdk import Event, SegmentInfo

from vms_core.cameras import CameraChange, CameraService
from vms_core.cameras.state_events import StateEvent, StateEventDebouncer
from vms_core.db.engine import Database
from vms_core.db.models import Segment, Stream
from vms_core.events import EventBus
from vms_core.media.catalog import MemoryCatalog
from vms_core.media.pool import (
    RecorderEvent,
    RecorderPool,
    SegmentClosed,
    SegmentOpened,
    SegmentProgress,
    StateChanged,
)
from vms_core.media.reconcile import ReconcileReport, reconcile
from vms_core.media.segment_writer import SegmentPolicy
from vms_core.media.stream_info import StreamInfo
from vms_core.timeutil import to_us

log = logging.getLogger(__name__)
T = TypeVar("T")


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
        # Open segments: path -> wall clock (us) of the last media known durable on disk.
        self.open_progress: dict[str, int] = {}
        # Called with (camera id, bytes) for every closed segment (retention listens).
        self.closed_listeners: list[Callable[[int, int], None]] = []
        # Told of each segment once it is closed and indexed (plug-ins' archivers).
        self.segment_listeners: list[Callable[[SegmentInfo], None]] = []
        cameras.subscribe(self._on_camera_change)

    async def start(self) -> None:
        """Reconcile the catalog with the disk, then record every camera that should be.
        The worker processes start with the first camera to record."""
        self.recordings.mkdir(parents=True, exist_ok=True)
        await self._refresh_ids()
        self.last_reconcile = await self.reconcile()
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

    async def stop(self) -> None:
        self._stopping = True
        if self._task is None:
            return
        # Let the pump finish its current poll (at most 0.5 s) rather than cancel it: a
        # cancelled poll would swallow the events it already took, WorkerStopped among them.
        task, self._task = self._task, None
        with contextlib.suppress(Exception):
            await task
        remaining = await self._blocking(self.pool.stop)
        for event in remaining:
            await self._apply(event)

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

    # -- cameras -----------------------------------------------------------------------------
    async def _refresh_ids(self) -> None:
        self._ids = {c.name: c.id for c in await self.cameras.visible()}

    async def _on_camera_change(self, change: CameraChange) -> None:
        await self._refresh_ids()
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
            if camera is not None:
                await self.cameras.set_state(camera_id, "idle", "not recording")
        if url is not None and camera is not None and not self._stopping:
            await self._ensure_pool()
            await self._blocking(self.pool.add_camera, camera.name, url)
            self._recording[camera_id] = url

    # -- worker events -----------------------------------------------------------------------
    async def _pump(self) -> None:
        while not self._stopping:
            events = await self._blocking(self.pool.poll_events, 0.5)
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

    async def _apply(self, event: RecorderEvent) -> None:
        if isinstance(event, StateChanged):
            await self._state(event)
            return
        if not isinstance(event, SegmentOpened | SegmentProgress | SegmentClosed):
            return
        camera_id = self._ids.get(event.camera_id)
        if camera_id is None:
            return
        path = str(event.path)
        async with self.db.session() as session:
            if isinstance(event, SegmentOpened):
                self.open_progress[path] = to_us(event.start)
                session.add(
                    Segment(
                        camera_id=camera_id,
                        path=path,
                        stream_role="main",
                        codec=event.codec,
                        start_us=to_us(event.start),
                        end_us=None,
                        bytes=0,
                    )
                )
            elif isinstance(event, SegmentProgress):
                self.open_progress[path] = to_us(event.end)
                await session.execute(
                    update(Segment).where(Segment.path == path).values(bytes=event.size)
                )
            else:
                row = await session.scalar(select(Segment).where(Segment.path == path))
                if row is None:
                    row = Segment(
                        camera_id=camera_id,
                        path=path,
                        stream_role="main",
                        codec="",
                        start_us=to_us(event.start),
                    )
                    session.add(row)
                row.start_us = to_us(event.start)
                row.end_us = to_us(event.end)
                row.bytes = event.size
                closed = SegmentInfo(
                    str(camera_id), event.start, event.end, path, event.size, row.codec
                )
                seconds = (event.end - event.start).total_seconds()
                if seconds >= 1.0:
                    await session.execute(
                        update(Stream)
                        .where(Stream.camera_id == camera_id, Stream.role == "main")
                        .values(bitrate=int(event.size * 8 / seconds))
                    )
        if isinstance(event, SegmentClosed):
            self.open_progress.pop(path, None)
            for listener in self.closed_listeners:
                listener(camera_id, event.size)
            for segment_listener in self.segment_listeners:
                try:
                    segment_listener(closed)
                except Exception:
                    log.exception("segment listener failed on %s", path)

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
            await self._stream_info(camera_id, event.info)
        # The catalog has the exact state; the events are debounced (state_events.py).
        await self.cameras.set_state(camera_id, state, reason)
        status = event.status
        for found in self.state_events.observe(
            event.camera_id, state, reason, status.since, status.attempts
        ):
            await self._publish_state(found)

    async def _publish_state(self, found: StateEvent) -> None:
        camera_id = self._ids.get(found.camera)
        if camera_id is None:
            return
        await self.events.publish(
            Event(
                type=found.type,
                time=datetime.fromtimestamp(found.at, UTC),
                camera_ids=(str(camera_id),),
                severity=found.severity,
                source="recording",
                data={"camera": found.camera, **found.data},
            )
        )
