"""Ingest -> StreamHub -> SegmentWriter on a real clip, checked with Debian's ffprobe."""

from __future__ import annotations

import threading
from pathlib import Path

from tests.media.mediatools import decode_errors, probe
from vms_core.media.catalog import MemoryCatalog
from vms_core.media.ingest import IngestState, IngestStatus
from vms_core.media.reconcile import reconcile
from vms_core.media.recorder import CameraRecorder
from vms_core.media.segment_writer import SegmentPolicy, parse_segment_name

FRAME = 0.1  # the clip runs at 10 fps


def record_once(clip: Path, recordings: Path, segment_seconds: float) -> MemoryCatalog:
    """Record one pass of the clip (end of file counts as the camera going away)."""
    catalog = MemoryCatalog()
    lost = threading.Event()

    def on_state(camera_id: str, status: IngestStatus) -> None:
        if status.state == IngestState.LOST:
            lost.set()

    recorder = CameraRecorder(
        "cam-a",
        str(clip),
        recordings,
        catalog,
        policy=SegmentPolicy(segment_seconds=segment_seconds, stagger_seconds=0.0),
        on_state=on_state,
    )
    recorder.start()
    assert lost.wait(20)
    recorder.stop()
    return catalog


def test_segments_are_clean_contiguous_and_cut_at_keyframes(clip: Path, tmp_path: Path) -> None:
    catalog = record_once(clip, tmp_path, segment_seconds=2.0)
    segments = catalog.segments("cam-a")
    assert len(segments) >= 3
    total_frames = 0
    for index, segment in enumerate(segments):
        assert segment.closed and segment.end is not None
        assert segment.path.is_relative_to(tmp_path / "cam-a")
        assert (
            segment.start == parse_segment_name(segment.path.name)
            or abs(
                (segment.start - parse_segment_name(segment.path.name)).total_seconds()  # type: ignore[operator]
            )
            < 0.001
        )
        assert segment.size == segment.path.stat().st_size
        assert decode_errors(segment.path) == ""
        info = probe(segment.path)
        assert info.codecs == ["h264", "aac"]
        assert info.keyframe_times[0] == info.first_video_time  # starts on a keyframe
        total_frames += info.video_frames
        length = (segment.end - segment.start).total_seconds()
        # The catalog span matches the media in the file, to a frame.
        assert abs(length - info.video_frames * FRAME) < FRAME / 2
        if 0 < index < len(segments) - 1:
            # Cut at the first keyframe at or after the configured length (GOP = 1 s).
            assert 2.0 - 0.01 <= length < 2.0 + 1.0
        if index:
            gap = (segment.start - segments[index - 1].end).total_seconds()  # type: ignore[operator]
            assert abs(gap) <= 0.001  # no gap, no overlap
    assert total_frames == 80  # every frame of the 8 s clip recorded once


def test_first_segment_rolls_over_on_the_camera_grid(clip: Path, tmp_path: Path) -> None:
    catalog = MemoryCatalog()
    lost = threading.Event()
    recorder = CameraRecorder(
        "cam-b",
        str(clip),
        tmp_path,
        catalog,
        policy=SegmentPolicy(segment_seconds=4.0, stagger_seconds=1.0),
        on_state=lambda _c, s: lost.set() if s.state == IngestState.LOST else None,
    )
    recorder.start()
    assert lost.wait(20)
    recorder.stop()
    first, second = catalog.segments()[:2]
    # Second segment starts on the 4 s grid shifted by 1 s (to a keyframe, GOP 1 s).
    phase = (second.start.timestamp() - 1.0) % 4.0
    assert min(phase, 4.0 - phase) < 1.0 + 0.01
    assert 2.0 - 0.01 <= (first.end - first.start).total_seconds() <= 6.0 + 0.01  # type: ignore[operator]


def test_reconcile_indexes_unknown_files_and_closes_open_ones(clip: Path, tmp_path: Path) -> None:
    recorded = record_once(clip, tmp_path, segment_seconds=2.0).segments()
    rebuilt = MemoryCatalog()
    open_path = recorded[1].path
    report = reconcile(tmp_path, rebuilt, known_closed=[recorded[0].path], known_open=[open_path])
    assert [s.path for s in report.closed] == [open_path]
    assert [s.path for s in report.indexed] == [s.path for s in recorded[2:]]
    assert report.unreadable == [] and report.missing == []
    by_path = {s.path: s for s in rebuilt.segments()}
    for original in recorded[1:]:
        found = by_path[original.path]
        assert found.closed
        assert found.codec == ("" if original.path == open_path else "h264")
        assert abs((found.end - original.end).total_seconds()) < FRAME / 2  # type: ignore[operator]
