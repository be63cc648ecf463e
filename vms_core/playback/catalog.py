"""The recorded segments of a camera that cover a time range, from the catalog."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import or_, select

from vms_core.db.engine import Database
from vms_core.db.models import Segment
from vms_core.playback.remux import SourceSegment


async def segments_in_range(
    db: Database, recordings: Path, camera_id: int, start_us: int, end_us: int
) -> list[SourceSegment]:
    """Main-stream segments that overlap [start_us, end_us), oldest first. An open segment
    (``end_us`` NULL) overlaps anything after its start."""
    query = (
        select(Segment.path, Segment.start_us, Segment.end_us)
        .where(
            Segment.camera_id == camera_id,
            Segment.stream_role == "main",
            Segment.start_us < end_us,
            or_(Segment.end_us.is_(None), Segment.end_us > start_us),
        )
        .order_by(Segment.start_us)
    )
    async with db.session() as session:
        rows = list(await session.execute(query))
    found = []
    for path, seg_start, seg_end in rows:
        file = Path(path)
        found.append(
            SourceSegment(file if file.is_absolute() else recordings / file, seg_start, seg_end)
        )
    return found


class PlaybackCatalog:
    """The segments playback reads, under ``recordings`` (paths in the catalog may be
    relative to it)."""

    def __init__(self, db: Database, recordings: Path) -> None:
        self.db = db
        self.recordings = recordings

    async def segments(self, camera_id: int, start_us: int, end_us: int) -> list[SourceSegment]:
        """Main-stream segments that overlap [start_us, end_us), oldest first."""
        return await segments_in_range(self.db, self.recordings, camera_id, start_us, end_us)
