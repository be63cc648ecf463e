"""How many events a camera had per time bucket: the density strip under a timeline.

Counted in SQL (one grouped query over the events of one camera in a range), so a week
of a busy camera costs the catalog one index walk and the client a few hundred numbers,
not the events themselves. Motion (``motion.*``) is counted apart from everything else,
since it is most of the events and the least telling; ``*.end`` events are not counted
(each closes one already counted).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import case, func, select

from vms_core.db.engine import Database
from vms_core.db.models import Event, EventCamera


@dataclass(frozen=True, slots=True)
class DensityBucket:
    index: int  # bucket number from the range's start
    motion: int
    events: int


class EventDensity:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def per_bucket(
        self, camera_id: int, start_us: int, end_us: int, bucket_us: int
    ) -> list[DensityBucket]:
        """Counts per bucket of ``bucket_us`` from ``start_us``, for buckets that have any."""
        bucket = ((Event.time_us - start_us) // bucket_us).label("bucket")
        is_motion = case((Event.type.startswith("motion."), 1), else_=0).label("is_motion")
        query = (
            select(bucket, is_motion, func.count())
            .join(EventCamera, EventCamera.event_id == Event.id)
            .where(
                EventCamera.camera_id == camera_id,
                Event.time_us >= start_us,
                Event.time_us < end_us,
                ~Event.type.endswith(".end"),
            )
            .group_by(bucket, is_motion)
        )
        async with self.db.session() as session:
            rows = list(await session.execute(query))
        counts: dict[int, list[int]] = {}
        for index, motion, count in rows:
            counts.setdefault(int(index), [0, 0])[0 if motion else 1] += int(count)
        return [DensityBucket(i, c[0], c[1]) for i, c in sorted(counts.items())]
