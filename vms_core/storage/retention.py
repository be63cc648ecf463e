"""RetentionService: keeps recordings within ``[retention]`` and the cameras' overrides.

It always runs: every ``interval_seconds`` a cheap check (sums and the oldest segment per
camera) and a full pass when it finds work, and an early pass when a segment closes while
usage is over a limit or free disk is under the floor (the disk filling faster than
expected).

Deleting order: the catalog row first, then the file. The catalog then never points at a
file that is gone (playback and export trust it, and a file a reader already has open
stays readable after unlink). A crash between the two leaves a file without a row, which
start-up reconciliation indexes again and the next pass deletes: nothing is lost that was
meant to be kept, and nothing dangles. The row is deleted only if it is still closed and
no locked bookmark overlaps it *at that moment*, so a lock taken during a pass wins.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import shutil
import time
from collections import deque
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import and_, delete, exists, func, select
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from vms_core.config.settings import RetentionSettings
from vms_core.db.engine import Database
from vms_core.db.models import Bookmark, Camera, Segment
from vms_core.signals import Signal
from vms_core.storage.plan import CameraLimits, Limits, Plan, SegmentRow, plan_deletions
from vms_core.storage.usage import storage_report
from vms_core.tasks import cancel_and_wait
from vms_core.timeutil import iso, now_us

log = logging.getLogger(__name__)
T = TypeVar("T")

DAY_US = 86_400 * 1_000_000
LAST_RUN_FILE = "retention-last-run.json"
# Expected size of a camera's next segment: this much over the largest of its last few.
HEADROOM_FACTOR = 1.25
HEADROOM_SAMPLES = 3
# And what a camera writes before a pass can see it: the catalog is written in batches
# (every 2 s while segments open and close) and a pass takes its time on a busy machine.
UNSEEN_SECONDS = 3.0
RECENTLY_RECORDING_US = 60_000_000
# Empty folders changed more recently than this are left for the next pass.
DIR_QUIET_SECONDS = 60.0
# A catalog on a disk too full to take a DELETE: free this much by files first (below).
RESCUE_BYTES = 16 * 1024 * 1024


@dataclass(slots=True)
class RetentionRun:
    """What one pass did."""

    started: str | None
    seconds: float
    segments_deleted: int
    bytes_freed: int
    reason: str  # "interval" | "segment closed" | "manual"
    errors: list[str] = field(default_factory=list)
    unmet: list[str] = field(default_factory=list)
    # The free space the pass worked to keep: min_free_bytes plus the room reserved for
    # the open segments still growing (None when not known).
    floor_bytes: int | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def read_last_run(data_dir: Path) -> dict[str, Any] | None:
    """The last pass as recorded in the data directory (for ``vms storage``)."""
    try:
        found = json.loads((data_dir / LAST_RUN_FILE).read_text())
    except (OSError, ValueError):
        return None
    return found if isinstance(found, dict) else None


def free_disk_bytes(path: Path) -> int | None:
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    try:
        return shutil.disk_usage(probe).free
    except OSError:
        return None


def limits_from(settings: RetentionSettings, cameras: list[Camera]) -> Limits:
    return Limits(
        cameras={
            c.id: CameraLimits(
                int(c.retention_max_days * DAY_US) if c.retention_max_days else None,
                c.retention_max_bytes,
            )
            for c in cameras
        },
        default_max_age_us=int(settings.max_days * DAY_US),
        total_max_bytes=settings.max_bytes or None,
        min_free_bytes=settings.min_free_bytes,
    )


class RetentionService:
    def __init__(
        self,
        db: Database,
        settings: Callable[[], RetentionSettings],
        recordings: Path,
        data_dir: Path,
        before_pass: Callable[[], Awaitable[object]] | None = None,
    ) -> None:
        """``before_pass``: run at the start of every pass (the server ends expired
        automatic locks there, so what they held can go in the same pass)."""
        self.db = db
        self.before_pass = before_pass
        self.settings = settings  # read on every pass: [retention] applies on reload
        self.recordings = recordings
        self.data_dir = data_dir
        self.last_run: RetentionRun | None = None
        # After every pass (recording explains a camera it cannot write with it).
        self.pass_finished: Signal[RetentionRun] = Signal("retention pass finished")
        self._recent: dict[int, deque[int]] = {}
        self._rates: dict[int, deque[float]] = {}  # bytes per second of its last segments
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        # Its own thread: retention must not wait behind long jobs on the default executor.
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="retention")

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="retention")

    async def stop(self) -> None:
        task, self._task = self._task, None
        await cancel_and_wait(task)

    async def _blocking(self, function: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._thread, function, *args)

    def wake(self) -> None:
        """Run a pass soon (a recorder could not write: the disk may be full)."""
        self._wake.set()

    def segment_closed(self, camera_id: int, size: int, seconds: float | None = None) -> None:
        """Called by recording for every closed segment: learn its size (and rate, given
        its length in seconds), check early."""
        self._recent.setdefault(camera_id, deque(maxlen=HEADROOM_SAMPLES)).append(size)
        if seconds is not None and seconds > 0:
            rates = self._rates.setdefault(camera_id, deque(maxlen=HEADROOM_SAMPLES))
            rates.append(size / seconds)
        self._wake.set()

    async def report(self) -> dict[str, Any]:
        """The storage report (``vms_core.storage.usage``) with this service's last pass,
        or the one a previous run left on disk."""
        last = self.last_run
        return await storage_report(
            self.db,
            self.settings(),
            self.recordings,
            last.to_json() if last is not None else read_last_run(self.data_dir),
        )

    def headroom(self) -> dict[int, int]:
        """Bytes to keep free per recording camera: its next segment, and what it writes
        before the catalog shows it (the segment after, begun before a pass sees the close)."""
        return {
            c: int(max(sizes) * HEADROOM_FACTOR + max(self._rates.get(c) or [0]) * UNSEEN_SECONDS)
            for c, sizes in self._recent.items()
            if sizes
        }

    async def _loop(self) -> None:
        reason = "start"
        while True:
            try:
                # A segment closing can only push usage over a byte limit or the floor;
                # ages matter at the interval.
                if (
                    reason == "start"
                    or await self.over_limit()
                    or (reason == "interval" and await self.past_age())
                ):
                    await self.run_once(reason)
            except DBAPIError as exc:
                # The catalog is unreachable or cannot be written: try again next time.
                log.warning("retention pass postponed: %s", exc.orig)
                failed = [f"catalog unavailable: {exc.orig}"]
                self.last_run = RetentionRun(iso(now_us()), 0.0, 0, 0, reason, failed)
            except Exception as exc:
                log.exception("retention pass failed")
                failed = [f"pass failed: {type(exc).__name__}: {exc}"]
                self.last_run = RetentionRun(iso(now_us()), 0.0, 0, 0, reason, failed)
            reason = "interval"
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.settings().interval_seconds)
                reason = "segment closed"
            self._wake.clear()

    # -- checks and passes -------------------------------------------------------------------
    async def over_limit(self) -> bool:
        """Cheap check (sums, no rows): is any byte limit or the free floor crossed?"""
        settings = self.settings()
        headroom = self.headroom()
        async with self.db.session() as session:
            sums = dict(
                (int(c), int(b or 0))
                for c, b in await session.execute(
                    select(Segment.camera_id, func.sum(Segment.bytes)).group_by(Segment.camera_id)
                )
            )
            caps = dict(
                (int(c), int(b or 0))
                for c, b in await session.execute(
                    select(Camera.id, Camera.retention_max_bytes).where(
                        Camera.retention_max_bytes.is_not(None)
                    )
                )
            )
        usage = {c: sums.get(c, 0) + headroom.get(c, 0) for c in set(sums) | set(headroom)}
        if any(usage.get(c, 0) > cap for c, cap in caps.items()):
            return True
        if settings.max_bytes and sum(usage.values()) > settings.max_bytes:
            return True
        free = await self._blocking(free_disk_bytes, self.recordings)
        return free is not None and free - sum(headroom.values()) < settings.min_free_bytes

    async def past_age(self) -> bool:
        """Cheap check (the camera/start index, no rows): may a camera's oldest segment
        be past its age limit? A full pass reads every segment row, so the interval runs
        one only when this or ``over_limit`` says there is work."""
        settings = self.settings()
        async with self.db.session() as session:
            oldest = {
                int(c): int(s)
                for c, s in await session.execute(
                    select(Segment.camera_id, func.min(Segment.start_us)).group_by(
                        Segment.camera_id
                    )
                )
            }
            days = {
                int(c): d
                for c, d in await session.execute(select(Camera.id, Camera.retention_max_days))
            }
        now = now_us()
        return any(
            start < now - int((days.get(camera) or settings.max_days) * DAY_US)
            for camera, start in oldest.items()
        )

    async def plan(self) -> Plan:
        settings = self.settings()
        async with self.db.session() as session:
            cameras = list(await session.scalars(select(Camera)))
            rows = [
                SegmentRow(int(i), int(c), int(s), None if e is None else int(e), int(b), p)
                for i, c, s, e, b, p in await session.execute(
                    select(
                        Segment.id,
                        Segment.camera_id,
                        Segment.start_us,
                        Segment.end_us,
                        Segment.bytes,
                        Segment.path,
                    )
                )
            ]
            locks: dict[int, list[tuple[int, int]]] = {}
            for camera_id, start, end in await session.execute(
                select(Bookmark.camera_id, Bookmark.start_us, Bookmark.end_us).where(
                    Bookmark.locked.is_(True)
                )
            ):
                locks.setdefault(int(camera_id), []).append((int(start), int(end)))
        # Room for the segment being written. A camera that has just rolled over has no
        # open row yet (it appears after the new file's first fsync), so "recording" also
        # means a segment that ended within the last minute.
        recent = now_us() - RECENTLY_RECORDING_US
        recording = {r.camera_id for r in rows if r.end_us is None or r.end_us >= recent}
        headroom = {c: h for c, h in self.headroom().items() if c in recording}
        free = await self._blocking(free_disk_bytes, self.recordings)
        return plan_deletions(rows, locks, limits_from(settings, cameras), now_us(), free, headroom)

    async def run_once(self, reason: str = "manual") -> RetentionRun:
        async with self._lock:
            started_us = now_us()
            clock = time.monotonic()
            if self.before_pass is not None:
                try:
                    await self.before_pass()
                except SQLAlchemyError as exc:
                    # A full disk may refuse the catalog write; the pass must still run.
                    log.warning("retention: the step before the pass failed: %s", exc)
            plan = await self.plan()
            deleted: list[SegmentRow] = []
            errors: list[str] = []
            if plan.delete:
                try:
                    deleted = await self._delete_rows(plan.delete)
                except DBAPIError:
                    if not await self._rescue_full_disk(plan.delete):
                        raise
                    deleted = await self._delete_rows(plan.delete)
                errors = await self._blocking(self._delete_files, deleted)
            run = RetentionRun(
                started=iso(started_us),
                seconds=round(time.monotonic() - clock, 3),
                segments_deleted=len(deleted),
                bytes_freed=sum(r.bytes for r in deleted),
                reason=reason,
                errors=errors[:20],
                unmet=plan.unmet,
                floor_bytes=self.settings().min_free_bytes + plan.reserved_bytes,
            )
            self.last_run = run
            if deleted or errors:
                log.info(
                    "retention (%s): %d segments, %d bytes freed, %d errors",
                    reason,
                    run.segments_deleted,
                    run.bytes_freed,
                    len(errors),
                )
            await self._blocking(self._save, run)
            self.pass_finished.emit(run)
            return run

    async def _rescue_full_disk(self, planned: list[SegmentRow]) -> bool:
        """The catalog could not take the DELETE. If that is because its disk is full (an
        SQLite catalog beside the recordings), free RESCUE_BYTES by deleting the oldest
        planned files *before* their rows, so that the catalog can be written again: the
        one exception to rows-first, and the only way out of a disk the catalog shares.
        Rows left without files by a crash meanwhile are dropped by reconciliation."""
        free = await self._blocking(free_disk_bytes, self.recordings)
        if free is None or free >= RESCUE_BYTES:
            return False  # not a full disk: nothing to rescue
        rescue: list[SegmentRow] = []
        for row in planned:
            rescue.append(row)
            if sum(r.bytes for r in rescue) >= RESCUE_BYTES:
                break
        errors = await self._blocking(self._delete_files, rescue)
        log.warning(
            "disk full under the catalog: deleted %d files (%d bytes) before their rows%s",
            len(rescue),
            sum(r.bytes for r in rescue),
            f"; errors: {errors[:3]}" if errors else "",
        )
        return True

    async def _delete_rows(self, rows: list[SegmentRow]) -> list[SegmentRow]:
        """Delete the rows still closed and unlocked now; returns those deleted."""
        by_id = {r.id: r for r in rows}
        locked = exists().where(
            and_(
                Bookmark.camera_id == Segment.camera_id,
                Bookmark.locked.is_(True),
                Bookmark.start_us <= Segment.end_us,
                Bookmark.end_us >= Segment.start_us,
            )
        )
        gone: list[int] = []
        ids = list(by_id)
        async with self.db.session() as session:
            for first in range(0, len(ids), 500):
                result = await session.execute(
                    delete(Segment)
                    .where(
                        Segment.id.in_(ids[first : first + 500]),
                        Segment.end_us.is_not(None),
                        ~locked,
                    )
                    .returning(Segment.id)
                )
                gone.extend(int(i) for i in result.scalars())
        return [by_id[i] for i in gone]

    def _delete_files(self, rows: list[SegmentRow]) -> list[str]:
        errors: list[str] = []
        for row in rows:
            path = Path(row.path)
            try:
                path.unlink(missing_ok=True)
            except OSError as exc:
                errors.append(f"{path}: {exc.strerror or exc}")
                continue
            self._prune_dirs(path.parent)
        return errors

    def _prune_dirs(self, directory: Path) -> None:
        """Remove the hour and day folders a deletion emptied (never the camera folder)."""
        for _ in range(2):
            if not directory.is_relative_to(self.recordings) or directory == self.recordings:
                return
            try:
                if time.time() - directory.stat().st_mtime < DIR_QUIET_SECONDS:
                    return  # the recorder may be about to create a segment in it
                directory.rmdir()
            except OSError:
                return  # not empty (or already gone): leave it
            directory = directory.parent

    def _save(self, run: RetentionRun) -> None:
        target = self.data_dir / LAST_RUN_FILE
        temporary = target.with_suffix(".tmp")
        try:
            temporary.write_text(json.dumps(run.to_json()))
            os.replace(temporary, target)
        except OSError:
            log.warning("could not save the retention report to %s", target)
