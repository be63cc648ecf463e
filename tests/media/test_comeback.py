"""A camera that comes back: with its video recording resumes within 2 s; audio-only it is
an error with a reason, not a recording."""

from __future__ import annotations

import dataclasses
import time

from tests.media.rtsp_camera import RtspCameras, small_loop
from tests.media.states import States
from vms_core.media.catalog import MemoryCatalog
from vms_core.media.ingest import IngestState
from vms_core.media.recorder import CameraRecorder
from vms_core.media.segment_writer import SegmentPolicy
from vms_core.rtsp.media import AccessUnit
from vms_core.simulator.media.player import LoopPlayer
from vms_core.simulator.media.tracks import audio_track_info


def test_resumes_within_2_s_and_refuses_an_audio_only_comeback(
    rtsp_cameras: RtspCameras, tmp_path: object
) -> None:
    encoded = small_loop()
    url = rtsp_cameras.add("door", encoded)
    catalog = MemoryCatalog()
    states = States()
    recorder = CameraRecorder(
        "door",
        url,
        tmp_path,  # type: ignore[arg-type]
        catalog,
        policy=SegmentPolicy(segment_seconds=2, stagger_seconds=0.0),
        on_state=states,
    )
    recorder.start()
    try:
        states.wait(IngestState.STREAMING, 15)
        time.sleep(2)
        rtsp_cameras.set_down("door", True)
        states.wait(IngestState.LOST, 10)
        time.sleep(4)  # long enough for the backoff to grow, were it not capped
        back = time.time()
        rtsp_cameras.set_down("door", False)
        states.wait(IngestState.STREAMING, 5)
        time.sleep(3)
        resumed = min(r.start.timestamp() for r in catalog.segments() if r.start.timestamp() > back)
        print(f"recording resumed {resumed - back:.2f} s after the camera came back")
        assert resumed - back <= 2.0

        # Now the camera answers with its audio track only.
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
        closed = len(catalog.segments())
        time.sleep(2)
        assert len(catalog.segments()) == closed  # nothing recorded meanwhile
    finally:
        recorder.stop()
