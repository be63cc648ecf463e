"""How soon recording resumes after a camera comes back, through each ingest.

A simulated camera on the project's RTSP server goes down for ``--outage`` seconds and comes
back, ``--rounds`` times; the recorder (``CameraRecorder``, as a recorder worker runs it)
records it through the native RTSP/TCP ingest and through FFmpeg's demuxer. Printed per
ingest: the delay from the camera's return to the start of the first new segment (median,
max). Goal: under 2 s (the backoff is capped at 0.5 s; then connect and the next keyframe,
1 s GOP here).

    .venv/bin/python bench/comeback.py --rounds 5
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.media.rtsp_camera import RtspCameras, small_loop
from vms_core.media.catalog import MemoryCatalog
from vms_core.media.ingest import IngestOptions, IngestState, IngestStatus
from vms_core.media.recorder import CameraRecorder
from vms_core.media.segment_writer import SegmentPolicy


class _Latest:
    def __init__(self) -> None:
        self.state: IngestState | None = None
        self.changed = threading.Condition()

    def __call__(self, camera_id: str, status: IngestStatus) -> None:
        with self.changed:
            self.state = status.state
            self.changed.notify_all()

    def wait(self, state: IngestState, timeout: float = 30) -> None:
        with self.changed:
            if not self.changed.wait_for(lambda: self.state == state, timeout):
                raise SystemExit(f"the camera never became {state}")


def measure(ingest: str, rounds: int, outage: float) -> list[float]:
    cameras = RtspCameras()
    url = cameras.add("door", small_loop("AAC"))
    catalog = MemoryCatalog()
    latest = _Latest()
    delays = []
    with tempfile.TemporaryDirectory() as folder:
        recorder = CameraRecorder(
            "door",
            url,
            Path(folder),
            catalog,
            policy=SegmentPolicy(segment_seconds=2.0, stagger_seconds=0.0),
            ingest_options=IngestOptions(io_timeout=2.0, native=ingest == "native"),
            on_state=latest,
        )
        recorder.start()
        try:
            latest.wait(IngestState.STREAMING)
            for _ in range(rounds):
                time.sleep(2.0)
                cameras.set_down("door", True)
                latest.wait(IngestState.LOST)
                time.sleep(outage)
                back = time.time()
                cameras.set_down("door", False)
                latest.wait(IngestState.STREAMING)
                while not any(s.start.timestamp() >= back for s in catalog.segments()):
                    time.sleep(0.05)
                first = min(
                    s.start.timestamp() for s in catalog.segments() if s.start.timestamp() >= back
                )
                delays.append(first - back)
        finally:
            recorder.stop()
            cameras.close()
    return delays


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--outage", type=float, default=3.0, help="seconds down each round")
    args = parser.parse_args()
    asyncio.set_event_loop(asyncio.new_event_loop())
    for ingest in ("native", "ffmpeg"):
        delays = measure(ingest, args.rounds, args.outage)
        print(
            f"{ingest:7s} resumed after {statistics.median(delays):.2f} s median, "
            f"{max(delays):.2f} s max over {len(delays)} comebacks (goal < 2 s)"
        )


if __name__ == "__main__":
    main()
