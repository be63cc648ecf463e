"""Start-up reconciliation: make the catalog agree with the segment files on disk.

Files the catalog lacks are indexed, segments a crash left open are closed with the real
end read from the file. Blocking (reads files): run it in a thread, not on the event loop.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import av

from vms_core.media.catalog import SegmentCatalog
from vms_core.media.segment_writer import parse_segment_name

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SegmentFile:
    camera_id: str
    path: Path
    start: datetime
    end: datetime
    size: int
    codec: str


@dataclass(slots=True)
class ReconcileReport:
    indexed: list[SegmentFile] = field(default_factory=list)  # on disk, unknown to catalog
    closed: list[SegmentFile] = field(default_factory=list)  # were open after a crash
    unreadable: list[Path] = field(default_factory=list)  # no playable media in them
    missing: list[Path] = field(default_factory=list)  # catalog says open, file is gone


def probe_segment(path: Path, camera_id: str, start: datetime) -> SegmentFile | None:
    """Real media span of one of our segment files (start from its name, which is the
    wall-clock of its first keyframe; length from its packets), None if unplayable."""
    try:
        with av.open(str(path), "r") as container:
            if not container.streams.video:
                return None
            video = container.streams.video[0]
            codec = video.codec_context.name if video.codec_context else "unknown"
            first: int | None = None
            last_end: int | None = None
            for packet in container.demux(video):
                if packet.pts is None:
                    continue
                if first is None or packet.pts < first:
                    first = packet.pts
                end = packet.pts + (packet.duration or 0)
                if last_end is None or end > last_end:
                    last_end = end
            if video.time_base is None:
                return None
            # No packet at all: a segment cut off (kill, full disk) before its first
            # fragment. It holds nothing, so it ends where it starts.
            seconds = 0.0
            if first is not None and last_end is not None:
                seconds = float((last_end - first) * video.time_base)
    except (av.FFmpegError, OSError) as exc:
        log.info("unreadable segment %s: %s", path, exc)
        return None
    size = path.stat().st_size
    return SegmentFile(camera_id, path, start, start + timedelta(seconds=seconds), size, codec)


def iter_segment_files(recordings: Path) -> list[tuple[str, Path, datetime]]:
    """(camera_id, path, start) of every segment under ``recordings``, oldest first."""
    found: list[tuple[str, Path, datetime]] = []
    if not recordings.is_dir():
        return found
    for camera_dir in sorted(p for p in recordings.iterdir() if p.is_dir()):
        for path in camera_dir.glob("*/*/*.mp4"):
            start = parse_segment_name(path.name)
            if start is not None:
                found.append((camera_dir.name, path, start))
    found.sort(key=lambda item: item[2])
    return found


def reconcile(
    recordings: Path,
    catalog: SegmentCatalog,
    known_closed: Collection[Path],
    known_open: Collection[Path],
) -> ReconcileReport:
    """Index what the catalog lacks and close what a crash left open.

    ``known_closed``/``known_open``: paths the catalog holds as closed / still open.
    Unreadable files are reported, never deleted: that is the operator's call.
    """
    report = ReconcileReport()
    closed = set(known_closed)
    still_open = set(known_open)
    for camera_id, path, start in iter_segment_files(recordings):
        if path in closed:
            continue
        segment = probe_segment(path, camera_id, start)
        if segment is None:
            report.unreadable.append(path)
            continue
        if path in still_open:
            still_open.discard(path)
            report.closed.append(segment)
        else:
            catalog.segment_opened(camera_id, path, segment.start, segment.codec)
            report.indexed.append(segment)
        catalog.segment_closed(camera_id, path, segment.start, segment.end, segment.size)
    report.missing.extend(sorted(p for p in still_open if not p.exists()))
    return report
