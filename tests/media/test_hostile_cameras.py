"""Hostile and broken RTSP cameras against the native ingest: each fails alone, with a
state that says why, in bounded CPU, and stopping it ends its thread at once."""

from __future__ import annotations

import logging
import re
import socket
import time
from pathlib import Path

import pytest

from tests.eventually import eventually_sync
from tests.media.hostile_rtsp import MODES, HostileCamera
from tests.media.states import States
from vms_core.media.hub import StreamHub
from vms_core.media.ingest import Ingest, IngestOptions, IngestState, IngestStatus
from vms_core.media.native.source import NativeRtspSource
from vms_core.media.sources import make_ingest

IO_TIMEOUT = 1.0
# What the camera's state reason must say, per mode.
REASONS = {
    "negative-content-length": r"Content-Length '-\d+' is not a byte count",
    "huge-content-length": r"Content-Length \d+ is over the 65536-byte limit",
    "unicode-digits": r"Content-Length '²' is not a byte count",
    "endless-headers": r"head is over 16384 bytes",
    "no-blank-line": r"no answer to OPTIONS within \d+ s",
    "never-answers": r"no answer to OPTIONS within \d+ s",
    "stalls-mid-body": r"no answer to DESCRIBE within \d+ s",
    "garbage": r"not an RTSP response|head is over",
    "giant-frames": r"no answer to OPTIONS",
    "rtp-flood": r"no video for \d+ s",
    "endless-fragments": r"no video for \d+ s \(a picture over 16 MiB was dropped\)",
    "impossible-rtp": r"no video for \d+ s",
    "absurd-sdp": r"SDP: video H264 clock rate '0' is not",
    "unauthorized": r"401 Unauthorized \(check the camera's username and password\)",
    "redirect-loop": r"302 .*redirects are not followed",
}


def test_every_mode_has_an_expected_reason() -> None:
    assert set(REASONS) == set(MODES)


def _thread_cpu(ingest: Ingest) -> float:
    thread = ingest._thread
    assert thread is not None and thread.ident is not None
    return time.clock_gettime(time.pthread_getcpuclockid(thread.ident))


@pytest.mark.parametrize("mode", sorted(MODES))
def test_hostile_camera_fails_alone_with_a_reason_in_bounded_cpu(
    mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    camera = HostileCamera(mode)
    states = States()
    ingest = make_ingest(
        mode,
        camera.url.replace("rtsp://", "rtsp://admin:secret@"),
        StreamHub(mode),
        # A refused login is retried quickly here too (normally once a minute): the test
        # watches the work of a camera that keeps failing.
        options=IngestOptions(io_timeout=IO_TIMEOUT, login_refused_backoff=0.5),
        on_state=states,
    )
    assert isinstance(ingest.source, NativeRtspSource)
    try:
        with caplog.at_level(logging.WARNING):
            began, ingest_cpu = time.monotonic(), 0.0
            ingest.start()

            def failed() -> IngestStatus:
                with states.changed:
                    seen = list(states.seen)
                assert seen, "no state yet"
                found = [s for s in seen if s.state in (IngestState.ERROR, IngestState.LOST)]
                assert found, [(s.state, s.reason) for s in seen]
                return found[0]

            # Hang guard: every mode fails within about 2 x IO_TIMEOUT.
            status = eventually_sync(failed, 15, what=f"{mode}: a failure with a reason")
            assert status.reason and re.search(REASONS[mode], status.reason), status.reason
            # Keep it failing and retrying a little longer: its work stays bounded.
            eventually_sync(lambda: camera.connections >= 2, 15, what="a reconnect")
            ingest_cpu = _thread_cpu(ingest)
            elapsed = time.monotonic() - began
    finally:
        stopping = time.monotonic()
        ingest.stop(timeout=5)
        stopped_in = time.monotonic() - stopping
        alive = ingest.running
        camera.close()
    assert not alive, "the ingest thread outlived stop()"
    assert stopped_in < 2.5  # hang guard: typically milliseconds
    assert ingest_cpu < 0.5 * elapsed, f"{ingest_cpu:.2f} CPU-s in {elapsed:.2f} s"
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors


def _syn_sent_to(port: int) -> bool:
    """A connection attempt to ``port`` waits for the other side's answer (Linux)."""
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[2].endswith(f":{port:04X}") and fields[3] == "02":  # SYN_SENT
            return True
    return False


def test_stop_ends_a_connection_attempt_that_is_never_answered() -> None:
    # A listener whose accept queue is full: further SYNs are dropped, so a connect to
    # it waits the whole timeout, like one to a camera that is unplugged.
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = listener.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port)):
            states = States()
            url = f"rtsp://127.0.0.1:{port}/unplugged"
            options = IngestOptions(io_timeout=30.0)
            ingest = make_ingest("unplugged", url, StreamHub("unplugged"), options=options)
            ingest.start()
            try:
                eventually_sync(lambda: _syn_sent_to(port), 10, what="connecting")
            finally:
                stopping = time.monotonic()
                ingest.stop(timeout=5)
                stopped_in = time.monotonic() - stopping
            assert not ingest.running
            assert stopped_in < 2.0  # hang guard: typically a tenth of a second
            assert not states.seen
