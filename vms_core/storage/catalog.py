"""Questions about a camera's recordings that the catalog answers, completed by what the
recorders reported and the catalog does not show yet (it is written in batches)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import func, select

from vms_core.db.engine import Database
from vms_core.db.models import Segment
from vms_core.timeutil import now_us


async def first_recording_us(db: Database, camera_id: int) -> int | None:
    """When the camera's oldest kept recording starts (µs), or None if it has none. Before
    it nothing was recorded (or retention has deleted it): not a gap in the recording."""
    async with db.session() as session:
        first = await session.scalar(
            select(func.min(Segment.start_us)).where(Segment.camera_id == camera_id)
        )
    return None if first is None else int(first)


@dataclass(frozen=True, slots=True)
class RecordedSegment:
    path: str
    start_us: int
    end_us: int | None  # None: open, no end reported yet
    bytes: int
    open: bool


class ReportedSegment(Protocol):
    """A segment as a recorder last reported it (``vms_core.recording_catalog``)."""

    @property
    def path(self) -> str: ...
    @property
    def start_us(self) -> int: ...
    @property
    def end_us(self) -> int: ...
    @property
    def bytes(self) -> int: ...
    @property
    def closed(self) -> bool: ...


class RecordingIndex:
    """``reported``: the camera's segments the recorders reported that the catalog may not
    show yet (none when this server does not record)."""

    def __init__(self, db: Database, reported: Callable[[int], Iterable[ReportedSegment]]) -> None:
        self.db = db
        self._reported = reported

    async def segments(self, camera_id: int, start_us: int, end_us: int) -> list[RecordedSegment]:
        """Segments overlapping [start_us, end_us), oldest first."""
        now = now_us()
        async with self.db.session() as session:
            rows = list(
                await session.execute(
                    select(Segment.start_us, Segment.end_us, Segment.bytes, Segment.path)
                    .where(
                        Segment.camera_id == camera_id,
                        Segment.start_us < end_us,
                        func.coalesce(Segment.end_us, now) > start_us,
                    )
                    .order_by(Segment.start_us)
                )
            )
        # The recorder's own account wins over the row: the catalog is written in batches,
        # so a row may lag (an open segment's live edge, a close not written yet).
        found = {
            path: RecordedSegment(path, seg_start, seg_end, size, seg_end is None)
            for seg_start, seg_end, size, path in rows
        }
        for seg in self._reported(camera_id):
            if seg.start_us < end_us and seg.end_us > start_us:
                found[seg.path] = RecordedSegment(
                    seg.path, seg.start_us, seg.end_us, seg.bytes, not seg.closed
                )
        return sorted(found.values(), key=lambda s: s.start_us)

    async def first_recording_us(self, camera_id: int) -> int | None:
        return await first_recording_us(self.db, camera_id)
