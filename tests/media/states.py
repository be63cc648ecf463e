"""Records an ingest's state changes for a test to wait on."""

from __future__ import annotations

import threading

from vms_core.media.ingest import IngestState, IngestStatus


class States:
    """An ``on_state`` callback: keeps every change; ``wait`` for the latest to be one."""

    def __init__(self) -> None:
        self.seen: list[IngestStatus] = []
        self.changed = threading.Condition()

    def __call__(self, camera_id: str, status: IngestStatus) -> None:
        with self.changed:
            self.seen.append(status)
            self.changed.notify_all()

    def wait(self, state: IngestState, timeout: float = 10.0) -> IngestStatus:
        with self.changed:
            assert self.changed.wait_for(
                lambda: bool(self.seen) and self.seen[-1].state == state, timeout
            ), [(s.state, s.reason) for s in self.seen]
            return self.seen[-1]
