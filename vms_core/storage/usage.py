"""The storage report: usage per camera and in total, locked bytes apart, the oldest
recording, free disk, the limits and retention's last pass. Read from the catalog only,
so ``vms storage`` can print it without a running server."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import Any

from sqlalchemy import and_, exists, func, select

from vms_core.config.settings import RetentionSettings
from vms_core.db.engine import Database
from vms_core.db.models import Bookmark, Camera, Segment
from vms_core.timeutil import iso, now_us


def _disk(path: Path) -> dict[str, int | None]:
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    try:
        usage = shutil.disk_usage(probe)
    except OSError:
        return {"total_bytes": None, "free_bytes": None}
    return {"total_bytes": usage.total, "free_bytes": usage.free}


async def storage_report(
    db: Database,
    retention: RetentionSettings,
    recordings: Path,
    last_run: dict[str, Any] | None,
    camera_ids: set[int] | None = None,
) -> dict[str, Any]:
    """``camera_ids`` None means every camera."""
    segment_end = func.coalesce(Segment.end_us, now_us())
    locked = exists().where(
        and_(
            Bookmark.camera_id == Segment.camera_id,
            Bookmark.locked.is_(True),
            Bookmark.start_us <= segment_end,
            Bookmark.end_us >= Segment.start_us,
        )
    )
    async with db.session() as session:
        cameras = list(await session.scalars(select(Camera).order_by(Camera.name)))
        totals = {
            int(c): (int(n), int(b or 0), s)
            for c, n, b, s in await session.execute(
                select(
                    Segment.camera_id,
                    func.count(),
                    func.sum(Segment.bytes),
                    func.min(Segment.start_us),
                ).group_by(Segment.camera_id)
            )
        }
        locked_bytes = {
            int(c): int(b or 0)
            for c, b in await session.execute(
                select(Segment.camera_id, func.sum(Segment.bytes))
                .where(locked)
                .group_by(Segment.camera_id)
            )
        }
    rows = []
    for camera in cameras:
        if camera_ids is not None and camera.id not in camera_ids:
            continue
        count, size, oldest = totals.get(camera.id, (0, 0, None))
        rows.append(
            {
                "id": camera.id,
                "name": camera.name,
                "segments": count,
                "bytes": size,
                "locked_bytes": locked_bytes.get(camera.id, 0),
                "oldest": iso(oldest),
                "max_days": camera.retention_max_days or retention.max_days,
                "max_bytes": camera.retention_max_bytes,
            }
        )
    disk = await asyncio.to_thread(_disk, recordings)
    # The floor retention works to: min_free_bytes plus the room it keeps for the open
    # segments still growing, as its last pass computed it (min_free_bytes before one).
    floor = (last_run or {}).get("floor_bytes")
    disk["floor_bytes"] = floor if isinstance(floor, int) else retention.min_free_bytes
    return {
        "cameras": rows,
        "total": {
            "segments": sum(r["segments"] for r in rows),
            "bytes": sum(r["bytes"] for r in rows),
            "locked_bytes": sum(r["locked_bytes"] for r in rows),
        },
        "disk": {"path": str(recordings), **disk},
        "limits": {
            "max_days": retention.max_days,
            "max_bytes": retention.max_bytes or None,
            "min_free_bytes": retention.min_free_bytes,
            "interval_seconds": retention.interval_seconds,
        },
        "last_run": last_run,
    }
