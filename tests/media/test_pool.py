"""RecorderPool: cameras recorded in spawned worker processes, events back to the parent."""

from __future__ import annotations

from pathlib import Path

from tests.eventually import eventually_sync
from tests.media.mediatools import decode_errors
from tests.media.rtsp_camera import RtspCameras, small_loop
from vms_core.media.catalog import MemoryCatalog
from vms_core.media.ingest import IngestState
from vms_core.media.pool import RecorderPool, SegmentClosed, StateChanged, apply_to_catalog
from vms_core.media.segment_writer import SegmentPolicy


def test_pool_records_cameras_across_workers(rtsp_cameras: RtspCameras, tmp_path: Path) -> None:
    encoded = small_loop("AAC")
    urls = {f"cam{n}": rtsp_cameras.add(f"cam{n}", encoded) for n in range(3)}
    pool = RecorderPool(tmp_path, workers=2, policy=SegmentPolicy(segment_seconds=2.0))
    catalog = MemoryCatalog()
    streaming: set[str] = set()
    pool.start()
    try:
        workers = {pool.add_camera(camera, url) for camera, url in urls.items()}
        assert workers == {0, 1}

        def take_events() -> None:
            for event in pool.poll_events(0.2):
                apply_to_catalog(event, catalog)
                if isinstance(event, StateChanged) and event.status.state == IngestState.STREAMING:
                    streaming.add(event.camera_id)

        def all_streaming() -> bool:
            take_events()
            return streaming == set(urls)

        def all_writing() -> bool:  # a segment opened: its first fragment is durable
            take_events()
            return all(catalog.segments(c) for c in urls)

        eventually_sync(all_streaming, 20, 0, what="every camera streaming")
        eventually_sync(all_writing, 20, 0, what="a segment per camera")
        pool.remove_camera("cam2")
    finally:
        remaining = pool.stop()
    for event in remaining:
        apply_to_catalog(event, catalog)
    assert any(isinstance(e, SegmentClosed) for e in remaining)
    for camera in urls:
        segments = catalog.segments(camera)
        assert segments, camera
        for segment in segments:
            assert segment.closed
            assert decode_errors(segment.path) == ""
