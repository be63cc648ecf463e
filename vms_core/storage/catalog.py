"""Questions about a camera's recordings that the catalog answers in one query."""

from __future__ import annotations

from sqlalchemy import func, select

from vms_core.db.engine import Database
from vms_core.db.models import Segment


async def first_recording_us(db: Database, camera_id: int) -> int | None:
    """When the camera's oldest kept recording starts (µs), or None if it has none. Before
    it nothing was recorded (or retention has deleted it): not a gap in the recording."""
    async with db.session() as session:
        first = await session.scalar(
            select(func.min(Segment.start_us)).where(Segment.camera_id == camera_id)
        )
    return None if first is None else int(first)
