"""Child process for the kill -9 test: records a URL and prints catalog calls."""

from __future__ import annotations

import sys
import time
from datetime import datetime
from pathlib import Path

from vms_core.media.recorder import CameraRecorder
from vms_core.media.segment_writer import SegmentPolicy


class PrintingCatalog:
    def segment_opened(self, camera_id: str, path: Path, start: datetime, codec: str) -> None:
        print("opened", path, start.timestamp(), flush=True)

    def segment_progress(self, camera_id: str, path: Path, end: datetime, size: int) -> None:
        print("progress", path, end.timestamp(), size, flush=True)

    def segment_closed(
        self, camera_id: str, path: Path, start: datetime, end: datetime, size: int
    ) -> None:
        print("closed", path, end.timestamp(), flush=True)


if __name__ == "__main__":
    url, recordings = sys.argv[1], Path(sys.argv[2])
    recorder = CameraRecorder(
        "cam-k", url, recordings, PrintingCatalog(), policy=SegmentPolicy(segment_seconds=60)
    )
    recorder.start()
    time.sleep(120)
