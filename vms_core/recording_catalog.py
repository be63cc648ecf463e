"""The recording side of the catalog: what the recorder workers report, written in batches.

Every camera reports progress about once a second and opens and closes a segment every
``segment_seconds``. Written one event per transaction through the ORM, that was the
server process's main cost (issue #16). Here the facts are kept in memory (``LiveSegment``)
and written for all cameras at once, every ``flush_seconds`` when segments opened or
closed (every ``progress_seconds`` when only sizes grew): one multi-row upsert of the
segments that changed and, when segments closed, one update of the streams' bitrates.

Crash safety does not depend on the interval: a segment's file is durable before the
worker reports it, and reconciliation reads the real end of an open segment from its file
(the README of ``vms_core.media``). What the API shows stays exact, because it reads the
live edge from here (``live``), not from the rows.

A flush that fails (disk full under an SQLite catalog, the database unreachable) loses
nothing: the facts stay in memory and the next flush writes them. One row that can never
be written (its camera was deleted meanwhile) is dropped with a warning, never the batch.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import case, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from vms_core.db.engine import Database
from vms_core.db.models import Segment, Stream

log = logging.getLogger(__name__)

# Rows per statement: far below SQLite's 32766 and PostgreSQL's 65535 bind parameters.
ROWS_PER_STATEMENT = 1000


@dataclass(slots=True)
class LiveSegment:
    """A segment as the recorder last reported it (the row may lag behind)."""

    camera_id: int
    path: str
    start_us: int
    codec: str
    end_us: int  # media durable on disk up to here; the final end once closed
    bytes: int
    closed: bool = False


@dataclass(frozen=True, slots=True)
class FlushResult:
    written: int  # segment rows written
    closed: list[LiveSegment]  # closed segments now in the catalog


class RecordingCatalog:
    """Not thread-safe: call from the event loop only."""

    def __init__(
        self, db: Database, flush_seconds: float = 2.0, progress_seconds: float = 10.0
    ) -> None:
        self.db = db
        self.flush_seconds = flush_seconds
        # Progress alone (an open segment's size) is written less often: only retention's
        # byte counts read it from the row, and they allow for the growing segment anyway.
        self.progress_seconds = progress_seconds
        self._opened_or_closed = False
        self._live: dict[str, LiveSegment] = {}  # open, or closed and not yet written
        self._dirty: set[str] = set()
        self._bitrates: dict[int, int] = {}  # camera id -> bit/s of its last closed segment
        self._last_flush = time.monotonic()
        self._failing_since: float | None = None

    # -- facts from the recorder ------------------------------------------------------------
    def opened(self, camera_id: int, path: str, start_us: int, codec: str) -> None:
        self._live[path] = LiveSegment(camera_id, path, start_us, codec, start_us, 0)
        self._dirty.add(path)
        self._opened_or_closed = True

    def progress(self, path: str, end_us: int, size: int) -> None:
        segment = self._live.get(path)
        if segment is None or segment.closed:
            return
        segment.end_us, segment.bytes = end_us, size
        self._dirty.add(path)

    def closed(self, camera_id: int, path: str, start_us: int, end_us: int, size: int) -> None:
        segment = self._live.get(path)
        if segment is None:  # opened before we listened (the catalog has its row or not)
            segment = LiveSegment(camera_id, path, start_us, "", end_us, size)
            self._live[path] = segment
        segment.start_us, segment.end_us, segment.bytes = start_us, end_us, size
        segment.closed = True
        self._dirty.add(path)
        self._opened_or_closed = True
        seconds = (end_us - start_us) / 1e6
        if seconds >= 1.0:
            self._bitrates[camera_id] = int(size * 8 / seconds)

    def forget_camera(self, camera_id: int) -> None:
        """The camera left the catalog (its rows went with it): write nothing more for it."""
        for path in [p for p, s in self._live.items() if s.camera_id == camera_id]:
            del self._live[path]
            self._dirty.discard(path)
        self._bitrates.pop(camera_id, None)

    # -- what the API reads -----------------------------------------------------------------
    def live(self, camera_id: int) -> list[LiveSegment]:
        """The camera's open segments and those closed but not yet written, oldest first."""
        found = [s for s in self._live.values() if s.camera_id == camera_id]
        return sorted(found, key=lambda s: s.start_us)

    @property
    def live_paths(self) -> set[str]:
        """Paths the recorder reported that the catalog may not show as they are yet."""
        return set(self._live)

    @property
    def failing_since(self) -> float | None:
        """time.monotonic() of the first failed flush of the current outage, or None."""
        return self._failing_since

    # -- writing ----------------------------------------------------------------------------
    def seconds_to_flush(self) -> float:
        interval = self.flush_seconds if self._opened_or_closed else self.progress_seconds
        return self._last_flush + interval - time.monotonic()

    def due(self) -> bool:
        return self.seconds_to_flush() <= 0

    def has_closed(self) -> bool:
        return any(self._live[p].closed for p in self._dirty)

    async def flush(self, cameras: Collection[int]) -> FlushResult | None:
        """Write everything that changed. ``cameras``: the ids in the catalog now (rows of
        any other camera are dropped). Returns None when the catalog could not be written;
        everything is kept for the next try."""
        self._last_flush = time.monotonic()
        self._opened_or_closed = False
        for path in [p for p in self._dirty if self._live[p].camera_id not in cameras]:
            self._dirty.discard(path)
            self._live.pop(path, None)
        batch = [self._live[p] for p in self._dirty]
        bitrates = {c: b for c, b in self._bitrates.items() if c in cameras}
        if not batch and not bitrates:
            return FlushResult(0, [])
        try:
            batch = await self._write(batch, bitrates)
        except DBAPIError as exc:
            self._failed(exc)
            self._opened_or_closed = True  # retry at the short interval
            return None
        if self._failing_since is not None:
            log.warning(
                "catalog writes resumed after %.0f s; recordings indexed again",
                time.monotonic() - self._failing_since,
            )
            self._failing_since = None
        self._bitrates.clear()
        closed: list[LiveSegment] = []
        for segment in batch:
            self._dirty.discard(segment.path)
            if segment.closed:
                self._live.pop(segment.path, None)
                closed.append(segment)
        return FlushResult(len(batch), closed)

    async def _write(self, batch: list[LiveSegment], bitrates: dict[int, int]) -> list[LiveSegment]:
        """Write the batch in one transaction; returns the segments written."""
        try:
            async with self.db.session() as session:
                for first in range(0, len(batch), ROWS_PER_STATEMENT):
                    await upsert_segments(session, batch[first : first + ROWS_PER_STATEMENT])
                if bitrates:
                    await update_bitrates(session, bitrates)
        except IntegrityError:
            # A row no insert can take (its camera went between our check and the write):
            # write them one by one, so only that one is lost.
            return await self._write_one_by_one(batch)
        return batch

    async def _write_one_by_one(self, batch: list[LiveSegment]) -> list[LiveSegment]:
        written: list[LiveSegment] = []
        for segment in batch:
            try:
                async with self.db.session() as session:
                    await upsert_segments(session, [segment])
            except IntegrityError as exc:
                log.warning("segment %s cannot be indexed, dropped: %s", segment.path, exc.orig)
                self._dirty.discard(segment.path)
                self._live.pop(segment.path, None)
                continue
            written.append(segment)
        return written

    def _failed(self, exc: DBAPIError) -> None:
        if self._failing_since is None:
            self._failing_since = time.monotonic()
            # Once per outage: the recorder goes on, the facts wait in memory.
            log.warning(
                "cannot write recordings to the catalog (%s); keeping %d segment updates "
                "in memory and retrying every %.0f s",
                exc.orig,
                len(self._dirty),
                self.flush_seconds,
            )


def _insert_for(session: AsyncSession) -> Any:
    """The dialect's INSERT that knows ON CONFLICT (both catalogs support it)."""
    name = session.get_bind().dialect.name
    if name == "postgresql":
        return postgresql.insert
    if name == "sqlite":
        return sqlite.insert
    raise NotImplementedError(f"no upsert for the {name} catalog")


async def upsert_segments(session: AsyncSession, segments: Iterable[LiveSegment]) -> None:
    """One statement: insert new segment rows, update known ones (by path)."""
    rows = [
        {
            "camera_id": s.camera_id,
            "path": s.path,
            "stream_role": "main",
            "codec": s.codec,
            "start_us": s.start_us,
            # An open row has no end: readers take the live edge from memory or the file.
            "end_us": s.end_us if s.closed else None,
            "bytes": s.bytes,
        }
        for s in segments
    ]
    if not rows:
        return
    insert = _insert_for(session)(Segment).values(rows)
    excluded = insert.excluded
    await session.execute(
        insert.on_conflict_do_update(
            index_elements=[Segment.path],
            set_={
                "start_us": excluded.start_us,
                "end_us": excluded.end_us,
                "bytes": excluded.bytes,
            },
        )
    )


async def update_bitrates(session: AsyncSession, bitrates: dict[int, int]) -> None:
    """One statement: each camera's main stream bitrate, measured over its last segment."""
    await session.execute(
        update(Stream)
        .where(Stream.role == "main", Stream.camera_id.in_(list(bitrates)))
        .values(bitrate=case(bitrates, value=Stream.camera_id))
    )
