"""Ingest: one thread per camera stream that receives packets (never decodes) into a hub.

The loop here owns what every protocol shares: the thread, reconnecting with capped
exponential backoff, the states, and the stream sessions. A ``Source`` does the receiving:
``FFmpegSource`` (PyAV's demuxer: H.265, B-frames, UDP, RTSPS, HTTP, files) or
``NativeRtspSource`` (RTSP/TCP H.264, ``vms_core.media.native``); ``make_ingest``
(``vms_core.media.sources``) picks. Both date packets with ``wallclock.WallClock``.

End of stream counts as a disconnect: a camera that goes away can end the RTSP demuxer as
if the stream had finished.

States: ``connecting`` until the first stream, then ``streaming``; a failure is ``lost``
(it had streamed) or ``error``, and stays so through the reconnect attempts that fail
(their count is in the status; a new reason is reported, a new count at most every
``ATTEMPTS_REPORT_SECONDS``) until the camera streams again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Protocol

from vms_core.media.hub import StreamHub
from vms_core.media.packet import StreamKind
from vms_core.media.stream_info import StreamInfo, StreamSession

log = logging.getLogger(__name__)


# Date the stream from the first video packet anyway after holding this many.
MAX_HELD_PACKETS = 200
# A camera that stays down reports its growing attempt count at most this often.
ATTEMPTS_REPORT_SECONDS = 60.0


class IngestState(StrEnum):
    CONNECTING = "connecting"
    STREAMING = "streaming"
    LOST = "lost"
    ERROR = "error"
    STOPPED = "stopped"


@dataclass(frozen=True, slots=True)
class IngestStatus:
    state: IngestState
    since: float  # time.time() of the change
    reason: str | None = None
    # Failed connection attempts since the camera last streamed; on ``streaming``, those
    # it took to get there.
    attempts: int = 0


StateCallback = Callable[[str, IngestStatus], None]


@dataclass(frozen=True, slots=True)
class IngestOptions:
    transport: str = "tcp"  # "tcp" or "udp" (RTSP only)
    io_timeout: float = 5.0  # seconds without data before the connection counts as lost
    # Retry soon and keep retrying often: recording must resume within 2 s of the camera
    # coming back (worst case: backoff_max + connect + one GOP), and a failed RTSP connect
    # to a camera that is down costs next to nothing.
    backoff_min: float = 0.2
    backoff_max: float = 0.5
    # A camera that refuses the login is asked again only this often: cameras lock an
    # account after a few wrong passwords, and a corrected login (``vms cameras login``)
    # restarts the recording at once anyway.
    login_refused_backoff: float = 60.0
    # Small probing keeps memory flat when many cameras open at once.
    probesize: int = 1024 * 1024
    analyzeduration: float = 1.0
    extra: tuple[tuple[str, str], ...] = ()
    # RTSP over TCP with H.264 is received natively (NativeRtspSource); False: FFmpeg's
    # demuxer.
    native: bool = True
    # > 0: once streaming, read the socket every this many seconds, all that arrived at
    # once (native ingest). Recording does not mind the delay and saves CPU; live view
    # reads each packet as it arrives (0).
    read_interval: float = 0.0


class SourceError(Exception):
    """The source answered but is unusable (e.g. no video track): not a transient loss."""


class LoginRefused(SourceError):
    """The camera refused the username or password (RTSP/HTTP 401 or 403)."""


class StreamLost(Exception):
    """The connection failed or ended in a way the source words itself (its message is the
    reason shown); the loop reconnects."""


class Source(Protocol):
    """One protocol's way of receiving a camera's stream for ``Ingest``. Sources keep what
    they learn across connections (a camera found to need FFmpeg stays on it)."""

    def pump(self, ingest: Ingest) -> bool:
        """Connect and publish into ``ingest.hub`` until ``ingest.stopped`` or the connection
        ends; True once it streamed. Raises ``LoginRefused``, ``SourceError``,
        ``StreamLost`` or ``OSError`` to say why it ended."""

    def interrupt(self) -> None:
        """From another thread: make a blocked connect or read return now (stop)."""

    def close(self) -> None:
        """After every attempt, on the ingest's thread: release the connection."""


class Ingest:
    """Receives ``url`` through ``source`` into ``hub`` on its own thread until ``stop()``."""

    def __init__(
        self,
        camera_id: str,
        url: str,
        hub: StreamHub,
        source: Source,
        *,
        options: IngestOptions | None = None,
        on_state: StateCallback | None = None,
    ) -> None:
        self.camera_id = camera_id
        self.url = url
        self.hub = hub
        self.source = source
        self.options = options or IngestOptions()
        self._on_state = on_state
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._status = IngestStatus(IngestState.CONNECTING, time.time())
        self._reported_at = 0.0  # time.monotonic() of the last on_state call
        self._attempts = 0  # failed since the camera last streamed
        self._session: StreamSession | None = None
        self._sessions = 0
        # Set by the source (every few seconds while streaming).
        self.bitrate_bps: float | None = None

    # -- public -------------------------------------------------------------------------

    @property
    def status(self) -> IngestStatus:
        return self._status

    @property
    def stream_info(self) -> StreamInfo | None:
        session = self._session
        return session.info if session else None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._run, name=f"ingest-{self.camera_id}", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self.source.interrupt()  # a blocked read returns now, not at the I/O timeout
        if self._thread is not None:
            self._thread.join(timeout)
        self._set_state(IngestState.STOPPED)

    # -- what sources use ---------------------------------------------------------------

    @property
    def stopped(self) -> threading.Event:
        """Set once ``stop()`` is called: the source returns."""
        return self._stop

    @property
    def last_session(self) -> StreamSession | None:
        """The latest stream session (of this connection or an earlier one)."""
        return self._session

    def new_session(
        self,
        info: StreamInfo,
        templates: dict[StreamKind, object],
        holder: object,
        audio_config: bytes | None,
    ) -> StreamSession:
        """A new stream session: packets published after it go to new files."""
        self._sessions += 1
        self._session = StreamSession(self._sessions, info, templates, holder, audio_config)
        return self._session

    def mark_streaming(self) -> None:
        """The first keyframe arrived: the camera streams (again)."""
        self._set_state(IngestState.STREAMING, None, self._attempts)

    # -- thread -------------------------------------------------------------------------

    def _set_state(self, state: IngestState, reason: str | None = None, attempts: int = 0) -> None:
        status = self._status
        now = time.monotonic()
        if state == status.state:
            if reason == status.reason and attempts == status.attempts:
                return
            # Same state, new details: ``since`` stays when the state began. A new count
            # alone is reported now and then, not on every attempt.
            self._status = replace(status, reason=reason, attempts=attempts)
            if reason == status.reason and now - self._reported_at < ATTEMPTS_REPORT_SECONDS:
                return
        else:
            self._status = IngestStatus(state, time.time(), reason, attempts)
        self._reported_at = now
        if self._on_state is not None:
            try:
                self._on_state(self.camera_id, self._status)
            except Exception:
                log.exception("state callback failed for %s", self.camera_id)

    def _run(self) -> None:
        backoff = self.options.backoff_min
        while not self._stop.is_set():
            if self._status.state not in (IngestState.LOST, IngestState.ERROR):
                self._set_state(IngestState.CONNECTING)
            streamed = False
            state, reason = IngestState.LOST, "end of stream"
            wait = backoff
            try:
                streamed = self.source.pump(self)
                if self._stop.is_set():
                    break
            except LoginRefused as exc:
                state, reason = IngestState.ERROR, str(exc)
                wait = self.options.login_refused_backoff
            except SourceError as exc:
                state, reason = IngestState.ERROR, str(exc)
            except StreamLost as exc:
                state = IngestState.LOST if self._session else IngestState.ERROR
                reason = str(exc)
            except OSError as exc:
                state = IngestState.LOST if self._session else IngestState.ERROR
                reason = f"{type(exc).__name__}: {exc}"
            except Exception as exc:  # keep the camera alive whatever happens
                log.exception("ingest %s failed", self.camera_id)
                state, reason = IngestState.ERROR, f"{type(exc).__name__}: {exc}"
            finally:
                self._close_source()
                self.hub.reset()
            self._attempts = 0 if streamed else self._attempts + 1
            self._set_state(state, reason, self._attempts)
            if streamed:
                backoff = wait = self.options.backoff_min
            if self._stop.wait(wait):
                break
            backoff = min(backoff * 2, self.options.backoff_max)

    def _close_source(self) -> None:
        try:
            self.source.close()
        except Exception:  # closing a broken connection may fail; nothing to save
            log.debug("close failed for %s", self.camera_id, exc_info=True)
