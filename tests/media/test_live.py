"""Recording a live MPEG-TS source through FFmpeg's demuxer: kill -9 safety, and a source
with no video. (Reconnection through both ingests: test_comeback.py.)"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.media.livesource import LiveTsSource
from tests.media.mediatools import decode_errors, make_clip, probe
from vms_core.media.catalog import MemoryCatalog
from vms_core.media.ingest import IngestState, IngestStatus
from vms_core.media.recorder import CameraRecorder

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def source(live_ts: Path) -> Iterator[LiveTsSource]:
    live = LiveTsSource(live_ts, 30)
    live.start()
    yield live
    live.stop()


def test_kill_9_mid_segment_leaves_a_playable_file(source: LiveTsSource, tmp_path: Path) -> None:
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.media.record_child", source.url, str(tmp_path)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        line = child.stdout.readline()  # "opened <path> <start>": first fragment durable
        assert line.startswith("opened"), line
        _, path_text, start_text = line.split()
        time.sleep(2.7)
    finally:
        killed_at = time.time()
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    path = Path(path_text)
    recorded = killed_at - float(start_text)
    assert decode_errors(path) == ""
    info = probe(path)
    assert info.codecs == ["h264", "aac"]
    # Lost at most the fragment being written (1 s) plus source pacing slack.
    assert info.duration >= recorded - 1.3, (info.duration, recorded)


def test_audio_only_comeback_is_an_error_not_a_recording(tmp_path: Path) -> None:
    audio_only = make_clip(tmp_path / "audio.ts", 5, video=False, fmt="mpegts")
    live = LiveTsSource(audio_only, 5)
    live.start()
    errors = threading.Event()
    reasons: list[str | None] = []

    def on_state(camera_id: str, status: IngestStatus) -> None:
        if status.state == IngestState.ERROR:
            reasons.append(status.reason)
            errors.set()

    catalog = MemoryCatalog()
    recorder = CameraRecorder("cam-x", live.url, tmp_path / "rec", catalog, on_state=on_state)
    recorder.start()
    try:
        assert errors.wait(10)
    finally:
        recorder.stop()
        live.stop()
    assert reasons[0] == "stream has no video track"
    assert catalog.segments() == []
