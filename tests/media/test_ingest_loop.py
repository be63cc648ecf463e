"""The ingest loop alone, with a source that plays a script: states, reasons, attempts,
closing after every attempt, and a stop that interrupts a blocked source."""

from __future__ import annotations

import threading

from tests.eventually import eventually_sync
from tests.media.states import States
from vms_core.media.hub import StreamHub
from vms_core.media.ingest import (
    Ingest,
    IngestOptions,
    IngestState,
    LoginRefused,
    StreamLost,
)
from vms_core.media.stream_info import StreamInfo

FAST = IngestOptions(backoff_min=0.01, backoff_max=0.02, login_refused_backoff=0.01)


class ScriptedSource:
    """Each connection attempt takes the next step: an error to raise, "stream" (a session,
    then the stream ends), or, once the script is done, a read that blocks until stop."""

    def __init__(self, *steps: BaseException | str) -> None:
        self.steps = list(steps)
        self.closed = 0
        self.interrupted = threading.Event()
        self.blocked = threading.Event()

    def pump(self, ingest: Ingest) -> bool:
        if not self.steps:
            self.blocked.set()
            self.interrupted.wait()  # a blocked read, until stop() interrupts it
            return False
        step = self.steps.pop(0)
        if isinstance(step, BaseException):
            raise step
        ingest.new_session(StreamInfo("h264", 320, 180, 25.0), {}, None, None)
        ingest.mark_streaming()
        return True

    def interrupt(self) -> None:
        self.interrupted.set()

    def close(self) -> None:
        self.closed += 1


def test_the_loop_reports_why_each_attempt_ended_and_stop_interrupts_the_source() -> None:
    source = ScriptedSource(
        LoginRefused("DESCRIBE refused: 401 Unauthorized"),
        "stream",
        StreamLost("no video for 5 s"),
        ConnectionRefusedError(111, "Connection refused"),
    )
    states = States()
    ingest = Ingest(
        "cam", "rtsp://127.0.0.1:9/cam", StreamHub("cam"), source, options=FAST, on_state=states
    )
    ingest.start()
    try:
        # Hang guard: five attempts 10-20 ms apart.
        eventually_sync(source.blocked.is_set, 30, 0.01, what="the script played")
    finally:
        ingest.stop()
    assert not ingest.running and source.interrupted.is_set()
    seen = [(s.state, s.reason, s.attempts) for s in states.seen]
    assert seen == [  # "connecting" is where an ingest begins: not a change to report
        (IngestState.ERROR, "DESCRIBE refused: 401 Unauthorized", 1),
        (IngestState.STREAMING, None, 1),  # the attempts it took to get there
        (IngestState.LOST, "end of stream", 0),
        (IngestState.LOST, "no video for 5 s", 1),
        (IngestState.LOST, "ConnectionRefusedError: [Errno 111] Connection refused", 2),
        (IngestState.STOPPED, None, 0),
    ]
    assert source.closed == 5  # after every attempt, the interrupted one too
    assert ingest.stream_info == StreamInfo("h264", 320, 180, 25.0)
