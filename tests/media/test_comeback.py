"""A camera that goes away and comes back, recorded through each ingest (the native RTSP/TCP
client and FFmpeg's demuxer): recording is clean and contiguous on both sides of the outage
and resumes soon after the camera returns; a camera that returns with audio only is an
error with a reason, not a recording. Real time, real RTSP, real ffprobe.

How soon recording resumes is a figure, measured by ``bench/comeback.py``; here it is only
bounded as a hang guard."""

from __future__ import annotations

import dataclasses
import itertools
import time
from pathlib import Path

import pytest

from tests.eventually import eventually_sync
from tests.media.mediatools import decode_errors, probe
from tests.media.rtsp_camera import RtspCameras, small_loop
from tests.media.states import States
from vms_core.media.catalog import MemoryCatalog, SegmentRecord
from vms_core.media.ingest import IngestOptions, IngestState
from vms_core.media.recorder import CameraRecorder
from vms_core.media.segment_writer import SegmentPolicy
from vms_core.rtsp.media import AccessUnit
from vms_core.simulator.media.player import LoopPlayer
from vms_core.simulator.media.tracks import audio_track_info

OUTAGE_S = 3.0  # the scenario: longer than the reconnect backoff's cap (0.5 s) many times
# Typically 0.5-1.5 s (backoff cap + connect + the next keyframe, 1 s GOP); 5x that guards
# against a hang, and against an uncapped backoff, which would wait ~3 s after this outage.
RESUME_GUARD_S = 5.0


def closed(catalog: MemoryCatalog) -> list[SegmentRecord]:
    return [s for s in catalog.segments() if s.closed]


@pytest.mark.parametrize("ingest", ["native", "ffmpeg"])
def test_recording_is_contiguous_and_resumes_after_the_camera_comes_back(
    rtsp_cameras: RtspCameras, tmp_path: Path, ingest: str
) -> None:
    url = rtsp_cameras.add("door", small_loop("AAC"))
    catalog = MemoryCatalog()
    states = States()
    recorder = CameraRecorder(
        "door",
        url,
        tmp_path,
        catalog,
        policy=SegmentPolicy(segment_seconds=2.0, stagger_seconds=0.0),
        ingest_options=IngestOptions(io_timeout=2.0, native=ingest == "native"),
        on_state=states,
    )
    recorder.start()
    try:
        states.wait(IngestState.STREAMING, 15)
        info = recorder.ingest.stream_info
        assert info is not None
        assert (info.video_codec, info.width, info.height, info.audio_codec) == (
            "h264", 320, 180, "aac",
        )  # fmt: skip
        eventually_sync(lambda: len(closed(catalog)) >= 2, 20, what="two closed segments")
        rtsp_cameras.set_down("door", True)
        states.wait(IngestState.LOST, 10)
        time.sleep(OUTAGE_S)
        back_at = time.time()
        rtsp_cameras.set_down("door", False)
        states.wait(IngestState.STREAMING, 10)
        eventually_sync(
            lambda: any(s.start.timestamp() >= back_at for s in catalog.segments()),
            15,
            what="a segment after the comeback",
        )
    finally:
        recorder.stop()
    segments = catalog.segments()
    before = [s for s in segments if s.start.timestamp() < back_at]
    after = [s for s in segments if s.start.timestamp() >= back_at]
    resumed_s = after[0].start.timestamp() - back_at
    print(f"{ingest}: recording resumed {resumed_s:.2f} s after the camera came back")
    assert resumed_s < RESUME_GUARD_S
    assert before[-1].end is not None and before[-1].end.timestamp() < back_at - OUTAGE_S + 0.5
    for run in (before, after):
        for earlier, later in itertools.pairwise(run):
            assert earlier.end == later.start  # no gap, no overlap within a run
    for segment in segments:
        assert segment.closed and segment.end is not None
        assert decode_errors(segment.path) == ""
        media = probe(segment.path)
        assert media.codecs == ["h264", "aac"]
        # The file holds the span the catalog claims, to a frame (0.1 s).
        span = (segment.end - segment.start).total_seconds()
        assert abs(media.video_frames * 0.1 - span) <= 0.1 + 0.002


def test_a_camera_back_with_audio_only_is_an_error_not_a_recording(
    rtsp_cameras: RtspCameras, tmp_path: Path
) -> None:
    encoded = small_loop()
    url = rtsp_cameras.add("door", encoded)
    catalog = MemoryCatalog()
    states = States()
    recorder = CameraRecorder(
        "door",
        url,
        tmp_path,
        catalog,
        policy=SegmentPolicy(segment_seconds=2, stagger_seconds=0.0),
        on_state=states,
    )
    recorder.start()
    try:
        states.wait(IngestState.STREAMING, 15)
        eventually_sync(catalog.segments, 10, what="a first segment")

        async def audio_only() -> None:
            rtsp_cameras.server.remove_stream("door")
            stream = rtsp_cameras.server.add_stream("door", [audio_track_info(encoded)])  # type: ignore[list-item]

            def publish(unit: AccessUnit) -> None:
                if unit.track == 1:
                    stream.publish(dataclasses.replace(unit, track=0))

            player = LoopPlayer(encoded, publish)
            player.start()
            rtsp_cameras.players.append(player)

        rtsp_cameras.run(audio_only())
        status = states.wait(IngestState.ERROR, 15)
        assert status.reason == "camera came back without its h264 video track"
        recorded = len(catalog.segments())
        time.sleep(1.0)  # an observation window: nothing may be recorded in it
        assert len(catalog.segments()) == recorded
    finally:
        recorder.stop()
