"""The recorder's view of the segment catalog.

The server implements ``SegmentCatalog`` on its database; ``MemoryCatalog`` serves tests.
Calls arrive only after the bytes they describe are on disk (written and fsynced), so the
catalog never points at data a crash could take back.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Protocol


class SegmentCatalog(Protocol):
    def segment_opened(self, camera_id: str, path: Path, start: datetime, codec: str) -> None:
        """A new segment exists on disk with at least its first fragment."""

    def segment_progress(self, camera_id: str, path: Path, end: datetime, size: int) -> None:
        """The open segment now holds media up to ``end`` (durable), ``size`` bytes."""

    def segment_closed(
        self, camera_id: str, path: Path, start: datetime, end: datetime, size: int
    ) -> None:
        """The segment is complete: media covers [start, end)."""


@dataclass(frozen=True, slots=True)
class SegmentRecord:
    camera_id: str
    path: Path
    start: datetime
    codec: str
    end: datetime | None = None
    size: int = 0
    closed: bool = False


class MemoryCatalog:
    """In-memory ``SegmentCatalog``: one record per path, in opening order."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.records: dict[Path, SegmentRecord] = {}

    def segment_opened(self, camera_id: str, path: Path, start: datetime, codec: str) -> None:
        with self._lock:
            self.records[path] = SegmentRecord(camera_id, path, start, codec)

    def segment_progress(self, camera_id: str, path: Path, end: datetime, size: int) -> None:
        with self._lock:
            record = self.records.get(path)
            if record is not None and not record.closed:
                self.records[path] = replace(record, end=end, size=size)

    def segment_closed(
        self, camera_id: str, path: Path, start: datetime, end: datetime, size: int
    ) -> None:
        with self._lock:
            record = self.records.get(path) or SegmentRecord(camera_id, path, start, "")
            self.records[path] = replace(record, start=start, end=end, size=size, closed=True)

    def segments(self, camera_id: str | None = None) -> list[SegmentRecord]:
        with self._lock:
            found = [r for r in self.records.values() if camera_id in (None, r.camera_id)]
        return sorted(found, key=lambda r: r.start)
