"""RecorderPool: cameras recorded in threads (one per camera) inside 1..N worker processes.

Per-packet Python work holds the GIL, so one process saturates about one core; cameras are
sharded over worker processes (spawned, never forked from the server). Each worker takes
commands on its control queue and reports state changes and catalog facts on the shared
event queue; the parent applies catalog writes from those events (``apply_to_catalog``).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import logging
import multiprocessing as mp
import os
import queue
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

from vms_core.media.catalog import SegmentCatalog
from vms_core.media.ingest import IngestOptions, IngestState, IngestStatus
from vms_core.media.recorder import CameraRecorder
from vms_core.media.segment_writer import SegmentPolicy
from vms_core.media.stream_info import StreamInfo

log = logging.getLogger(__name__)

M_ARENA_MAX = -8  # glibc mallopt parameter
# Recording reads each camera's socket this often (native ingest), everything that arrived
# at once: a tenth of the wake-ups and reads of reading every packet as it comes, for
# about half the CPU (vms_core/media/README.md); the writer dates by stream time, so the
# delay does not show in the recording.
RECORDING_READ_INTERVAL = 0.2
# How often an idle worker hands freed memory back to the system (_malloc_trimmer).
TRIM_SECONDS = 1.0
PR_SET_PDEATHSIG = 1  # Linux prctl option


# -- events (worker -> parent) -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StateChanged:
    camera_id: str
    status: IngestStatus
    # What the camera sends, once streaming (the API shows it per camera stream).
    info: StreamInfo | None = None


@dataclass(frozen=True, slots=True)
class SegmentOpened:
    camera_id: str
    path: Path
    start: datetime
    codec: str


@dataclass(frozen=True, slots=True)
class SegmentProgress:
    camera_id: str
    path: Path
    end: datetime
    size: int


@dataclass(frozen=True, slots=True)
class SegmentClosed:
    camera_id: str
    path: Path
    start: datetime
    end: datetime
    size: int


@dataclass(frozen=True, slots=True)
class RecordingHealth:
    """The camera's stream arrives but cannot be written (``reason``, e.g. the disk is
    full), or is written again (``reason`` None)."""

    camera_id: str
    reason: str | None


@dataclass(frozen=True, slots=True)
class WorkerStopped:
    worker: int


RecorderEvent = (
    StateChanged | SegmentOpened | SegmentProgress | SegmentClosed | RecordingHealth | WorkerStopped
)


def apply_to_catalog(event: RecorderEvent, catalog: SegmentCatalog) -> None:
    """Replay a segment event on a catalog (state and worker events are ignored)."""
    if isinstance(event, SegmentOpened):
        catalog.segment_opened(event.camera_id, event.path, event.start, event.codec)
    elif isinstance(event, SegmentProgress):
        catalog.segment_progress(event.camera_id, event.path, event.end, event.size)
    elif isinstance(event, SegmentClosed):
        catalog.segment_closed(event.camera_id, event.path, event.start, event.end, event.size)


# -- commands (parent -> worker) -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AddCamera:
    camera_id: str
    url: str


@dataclass(frozen=True, slots=True)
class RemoveCamera:
    camera_id: str


@dataclass(frozen=True, slots=True)
class Stop:
    pass


Command = AddCamera | RemoveCamera | Stop


@dataclass(frozen=True, slots=True)
class WorkerConfig:
    recordings: Path
    policy: SegmentPolicy
    ingest_options: IngestOptions
    # Pause between camera opens: opening many streams at once spikes memory.
    open_interval: float = 0.05
    malloc_arenas: int = 2


class _EventCatalog:
    """Worker-side SegmentCatalog that forwards every call to the parent."""

    def __init__(self, events: Any) -> None:
        self.events = events

    def segment_opened(self, camera_id: str, path: Path, start: datetime, codec: str) -> None:
        self.events.put(SegmentOpened(camera_id, path, start, codec))

    def segment_progress(self, camera_id: str, path: Path, end: datetime, size: int) -> None:
        self.events.put(SegmentProgress(camera_id, path, end, size))

    def segment_closed(
        self, camera_id: str, path: Path, start: datetime, end: datetime, size: int
    ) -> None:
        self.events.put(SegmentClosed(camera_id, path, start, end, size))


def _libc() -> ctypes.CDLL:
    """The C library (OSError where there is none to load)."""
    return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")


def _limit_malloc_arenas(count: int) -> None:
    """glibc gives each thread its own malloc arena; with a thread per camera that is
    mostly half-empty memory. Must run before the camera threads start."""
    try:
        _libc().mallopt(M_ARENA_MAX, count)
    except (OSError, AttributeError):
        log.debug("mallopt unavailable; keeping the default arenas")


def _malloc_trimmer() -> Callable[[], None]:
    """glibc keeps freed memory; a recorder frees a lot of it (a fragment buffer per
    camera per second, every picture's bytes) in sizes that leave holes it never gives
    back. malloc_trim(0) returns those pages: measured 3.3 MB per camera of resident
    memory, 2.8 ms for 16 cameras."""
    try:
        malloc_trim = _libc().malloc_trim
    except (OSError, AttributeError):
        return lambda: None

    def trim() -> None:
        malloc_trim(0)

    return trim


def _die_with_parent(parent: int) -> None:
    """A worker must not outlive a server killed with -9: a restarted server would then
    find a second writer on its files. Linux kills us with the parent (PDEATHSIG)."""
    try:
        _libc().prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        log.debug("prctl unavailable; a worker may outlive a killed server")
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


def worker_main(
    number: int, config: WorkerConfig, control: Any, events: Any, parent: int | None = None
) -> None:
    """Entry point of one worker process."""
    if parent is not None:
        _die_with_parent(parent)
    _limit_malloc_arenas(config.malloc_arenas)
    trim = _malloc_trimmer()
    catalog = _EventCatalog(events)
    recorders: dict[str, CameraRecorder] = {}

    def report_health(camera_id: str, reason: str | None) -> None:
        events.put(RecordingHealth(camera_id, reason))

    def on_state(camera_id: str, status: IngestStatus) -> None:
        info = None
        if status.state == IngestState.STREAMING:
            recorder = recorders.get(camera_id)
            info = recorder.ingest.stream_info if recorder is not None else None
        events.put(StateChanged(camera_id, status, info))

    try:
        while True:
            try:
                command: Command = control.get(timeout=TRIM_SECONDS)
            except queue.Empty:
                trim()
                continue
            if isinstance(command, AddCamera):
                if command.camera_id in recorders:
                    continue
                name = command.camera_id
                recorder = CameraRecorder(
                    name,
                    command.url,
                    config.recordings,
                    catalog,
                    policy=config.policy,
                    ingest_options=config.ingest_options,
                    on_state=on_state,
                    on_write_health=functools.partial(report_health, name),
                )
                recorders[command.camera_id] = recorder
                recorder.start()
                time.sleep(config.open_interval)
            elif isinstance(command, RemoveCamera):
                found = recorders.pop(command.camera_id, None)
                if found is not None:
                    found.stop()
            else:
                break
    finally:
        for recorder in recorders.values():
            recorder.stop()
        events.put(WorkerStopped(number))


class RecorderPool:
    """Parent side. Not thread-safe: call from one thread (or the event loop via a thread).

    >>> pool = RecorderPool(Path("recordings"), workers=2)
    >>> pool.start(); pool.add_camera("cam1", "rtsp://...")
    >>> for event in pool.poll_events(1.0): apply_to_catalog(event, catalog)
    """

    def __init__(
        self,
        recordings: Path,
        *,
        workers: int = 1,
        policy: SegmentPolicy | None = None,
        ingest_options: IngestOptions | None = None,
        open_interval: float = 0.05,
    ) -> None:
        if workers < 1:
            raise ValueError("workers must be at least 1")
        self.config = WorkerConfig(
            recordings,
            policy or SegmentPolicy(),
            ingest_options or IngestOptions(read_interval=RECORDING_READ_INTERVAL),
            open_interval,
        )
        self._context = mp.get_context("spawn")
        self._events: Any = self._context.Queue()
        self._controls: list[Any] = []
        self._processes: list[BaseProcess] = []
        self._workers = workers
        self._placement: dict[str, int] = {}

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self._processes if p.pid is not None]

    def start(self) -> None:
        for number in range(self._workers):
            control = self._context.Queue()
            process = self._context.Process(
                target=worker_main,
                args=(number, self.config, control, self._events, os.getpid()),
                name=f"vms-recorder-{number}",
                daemon=True,
            )
            process.start()
            self._controls.append(control)
            self._processes.append(process)

    def add_camera(self, camera_id: str, url: str) -> int:
        """Record ``url`` as ``camera_id`` on the least loaded worker; returns the worker."""
        if camera_id in self._placement:
            return self._placement[camera_id]
        loads = [0] * len(self._controls)
        for worker in self._placement.values():
            loads[worker] += 1
        worker = loads.index(min(loads))
        self._placement[camera_id] = worker
        self._controls[worker].put(AddCamera(camera_id, url))
        return worker

    def remove_camera(self, camera_id: str) -> None:
        worker = self._placement.pop(camera_id, None)
        if worker is not None:
            self._controls[worker].put(RemoveCamera(camera_id))

    def poll_events(self, timeout: float = 0.0) -> list[RecorderEvent]:
        """Every event available now, waiting up to ``timeout`` for the first one."""
        found: list[RecorderEvent] = []
        try:
            found.append(
                self._events.get(timeout=timeout) if timeout else self._events.get_nowait()
            )
            while True:
                found.append(self._events.get_nowait())
        except queue.Empty:
            pass
        return found

    def stop(self, timeout: float = 15.0) -> list[RecorderEvent]:
        """Stop every worker (segments are closed cleanly); returns the remaining events."""
        for control in self._controls:
            control.put(Stop())
        remaining: list[RecorderEvent] = []
        stopped = 0
        deadline = time.monotonic() + timeout
        while stopped < len(self._processes) and time.monotonic() < deadline:
            for event in self.poll_events(0.2):
                if isinstance(event, WorkerStopped):
                    stopped += 1
                else:
                    remaining.append(event)
        for process in self._processes:
            process.join(max(0.1, deadline - time.monotonic()))
            if process.is_alive():
                log.error("recorder worker %s did not stop; terminating", process.name)
                process.terminate()
        remaining.extend(e for e in self.poll_events() if not isinstance(e, WorkerStopped))
        self._processes.clear()
        self._controls.clear()
        self._placement.clear()
        return remaining
