"""Recording real RTSP from the project's server and simulator loops. (A clean, contiguous
recording across an outage, through both ingests: test_comeback.py.)"""

from __future__ import annotations

from pathlib import Path

from tests.eventually import eventually_sync
from tests.media.mediatools import decode_errors, probe
from tests.media.rtsp_camera import RtspCameras, small_loop
from tests.media.states import States
from vms_core.media.catalog import MemoryCatalog
from vms_core.media.ingest import IngestState
from vms_core.media.recorder import CameraRecorder


def test_rtsp_g711_camera_records_video(rtsp_cameras: RtspCameras, tmp_path: Path) -> None:
    url = rtsp_cameras.add("cam-g711", small_loop("PCMU"))
    catalog = MemoryCatalog()
    log = States()
    recorder = CameraRecorder("cam-g711", url, tmp_path, catalog, on_state=log)
    recorder.start()
    try:
        log.wait(IngestState.STREAMING, 10)
        assert recorder.ingest.stream_info is not None
        assert recorder.ingest.stream_info.audio_codec == "pcm_mulaw"
        eventually_sync(
            lambda: any(
                r.end and (r.end - r.start).total_seconds() > 1.5 for r in catalog.segments()
            ),
            15,
            what="1.5 s recorded",
        )
    finally:
        recorder.stop()
    (segment,) = catalog.segments()
    assert decode_errors(segment.path) == ""
    assert probe(segment.path).duration > 1.5
