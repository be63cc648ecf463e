"""SegmentWriter on packets from a real clip: timestamp jumps, paths, catalog order."""

from __future__ import annotations

import dataclasses
import threading
from datetime import UTC, datetime
from pathlib import Path

from tests.media.mediatools import decode_errors, probe
from vms_core.media.catalog import MemoryCatalog
from vms_core.media.hub import StreamHub
from vms_core.media.ingest import IngestState, IngestStatus
from vms_core.media.packet import MediaPacket
from vms_core.media.segment_writer import SegmentPolicy, SegmentWriter, segment_path
from vms_core.media.sources import make_ingest


def demux_once(clip: Path) -> list[MediaPacket]:
    hub = StreamHub("clip")
    subscription = hub.subscribe("test", maxsize=10_000)
    ended = threading.Event()

    def on_state(camera_id: str, status: IngestStatus) -> None:
        if status.state == IngestState.LOST:
            ended.set()

    ingest = make_ingest("clip", str(clip), hub, on_state=on_state)
    ingest.start()
    assert ended.wait(10)
    ingest.stop()
    packets = []
    while (packet := subscription.get(0)) is not None:
        if packet.session.number == 1:
            packets.append(packet)
    return packets


def test_backward_timestamp_jump_starts_a_new_segment(clip: Path, tmp_path: Path) -> None:
    packets = demux_once(clip)
    first_3s = [p for p in packets if p.pts * p.time_base < 3]
    # The camera's clock jumps back 3 s (e.g. an NTP step): same connection, old stamps.
    replay = [dataclasses.replace(p, wall=p.wall + 3.0) for p in first_3s]
    catalog = MemoryCatalog()
    writer = SegmentWriter("cam-j", tmp_path, catalog, SegmentPolicy(segment_seconds=60))
    for packet in first_3s + replay:
        writer.write(packet)
    writer.close()
    segments = catalog.segments()
    assert len(segments) == 2
    for segment in segments:
        assert segment.closed and decode_errors(segment.path) == ""
        assert probe(segment.path).video_frames == 30


def test_segment_path_is_utc_and_sortable() -> None:
    start = datetime(2026, 3, 1, 23, 59, 58, 123456, tzinfo=UTC)
    path = segment_path(Path("/rec"), "cam 1", start)
    assert path == Path("/rec/cam 1/2026-03-01/23/20260301T235958.123Z.mp4")
