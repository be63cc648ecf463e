"""Frame pixels in shared memory, runner side.

The server writes each frame's pixels once into a shared memory region of the plug-in's
own (a ``memfd`` passed over the descriptor socket) and sends only a small reference; the
runner maps the region read-only and hands the plug-in a ``numpy`` view of it: no copy in
the runner, none through the pipe. A region is unmapped only when no call still reads it.
"""

from __future__ import annotations

import mmap
import os
import socket
import threading
from typing import Any

from vms_sdk.runtime.protocol import FrameRef, MapRegion, UnmapRegion


class RunnerFrameMemory:
    """The regions the server shared with this runner."""

    def __init__(self, fd_socket: socket.socket | None) -> None:
        self._socket = fd_socket
        self._maps: dict[int, mmap.mmap] = {}
        self._readers: dict[int, int] = {}
        self._retired: set[int] = set()
        self._lock = threading.Lock()

    def on_note(self, body: Any) -> bool:
        """Handle a region message; ``False`` for anything else."""
        if isinstance(body, MapRegion):
            self._map(body)
            return True
        if isinstance(body, UnmapRegion):
            with self._lock:
                self._retired.add(body.region)
                self._unmap_if_unused(body.region)
            return True
        return False

    def _map(self, body: MapRegion) -> None:
        if self._socket is None:
            raise RuntimeError("no descriptor socket")
        _, fds, _, _ = socket.recv_fds(self._socket, 16, 1)
        if not fds:
            raise RuntimeError(f"region {body.region}: no descriptor arrived")
        try:
            mapped = mmap.mmap(fds[0], body.size, mmap.MAP_SHARED, mmap.PROT_READ)
        finally:
            for fd in fds:
                os.close(fd)
        with self._lock:
            self._maps[body.region] = mapped

    def image(self, ref: FrameRef) -> Any:
        # Imported here: the server imports the runner module (for RunnerSpec), not numpy.
        import numpy as np

        with self._lock:
            mapped = self._maps[ref.region]
            self._readers[ref.region] = self._readers.get(ref.region, 0) + 1
        count = int(np.prod(ref.shape))
        # A read-only mapping: the array cannot be written (other plug-ins never share it).
        return np.frombuffer(mapped, dtype=np.uint8, count=count).reshape(ref.shape)

    def release(self, ref: FrameRef) -> None:
        with self._lock:
            left = self._readers.get(ref.region, 1) - 1
            self._readers[ref.region] = left
            self._unmap_if_unused(ref.region)

    def _unmap_if_unused(self, region: int) -> None:
        if region in self._retired and self._readers.get(region, 0) <= 0:
            mapped = self._maps.pop(region, None)
            self._retired.discard(region)
            self._readers.pop(region, None)
            if mapped is not None:
                try:
                    mapped.close()
                except BufferError:  # a plug-in kept a view: leave it mapped
                    self._maps[region] = mapped
