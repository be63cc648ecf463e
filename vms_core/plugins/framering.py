"""Frame pixels into a runner's shared memory, server side.

Each runner gets a few regions (``memfd``), each holding one frame. Sending a frame
copies its pixels once into a free region and sends a :class:`FrameRef`; the region is
free again when the call returns. A region whose call overran stays with the runner
(it may still read it) and is replaced by a new one; it is unmapped there once no call
reads it.
"""

from __future__ import annotations

import itertools
import mmap
import os
import socket
from dataclasses import dataclass

from vms_sdk import Frame
from vms_sdk.runtime.protocol import FrameRef, MapRegion, UnmapRegion

from vms_core.plugins.process import RunnerProcess

MAX_REGIONS = 4
MIN_REGION_BYTES = 1 << 20


@dataclass
class _Region:
    ident: int
    size: int
    memory: mmap.mmap
    busy: bool = False


class FrameRing:
    """The regions of one runner."""

    def __init__(self, runner: RunnerProcess) -> None:
        self._runner = runner
        self._regions: list[_Region] = []
        self._ids = itertools.count(1)

    def put(self, frame: Frame) -> FrameRef | None:
        """Copy ``frame``'s pixels into a free region; ``None`` when every region is busy."""
        import numpy as np  # loaded already (a frame is an array); not with the server

        image = np.ascontiguousarray(frame.image)
        size = image.nbytes
        region = next((r for r in self._regions if not r.busy and r.size >= size), None)
        if region is None:
            idle = next((r for r in self._regions if not r.busy), None)
            if idle is not None:
                self._drop(idle)
            elif len(self._regions) >= MAX_REGIONS:
                return None
            region = self._new_region(max(size, MIN_REGION_BYTES))
        target = np.frombuffer(region.memory, dtype=np.uint8, count=size)
        target[:] = image.reshape(-1)
        region.busy = True
        return FrameRef(
            frame.camera_id,
            frame.time,
            frame.width,
            frame.height,
            frame.stream,
            list(image.shape),
            region.ident,
            frame.skipped,
        )

    def done(self, ref: FrameRef, *, overran: bool) -> None:
        """The call with ``ref`` returned (or overran: the runner may still read it)."""
        region = next((r for r in self._regions if r.ident == ref.region), None)
        if region is None:
            return
        if overran:
            self._drop(region)
        else:
            region.busy = False

    def _new_region(self, size: int) -> _Region:
        size = (size + mmap.PAGESIZE - 1) // mmap.PAGESIZE * mmap.PAGESIZE
        fd = os.memfd_create("vms-frames", os.MFD_CLOEXEC)
        try:
            os.ftruncate(fd, size)
            memory = mmap.mmap(fd, size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
            region = _Region(next(self._ids), size, memory)
            sock = self._runner.fd_socket
            if sock is None:
                raise ConnectionError("runner has no descriptor socket")
            socket.send_fds(sock, [b"r"], [fd])
        finally:
            os.close(fd)
        self._runner.note(MapRegion(region.ident, size))
        self._regions.append(region)
        return region

    def _drop(self, region: _Region) -> None:
        self._regions.remove(region)
        self._runner.note(UnmapRegion(region.ident))
        region.memory.close()

    def close(self) -> None:
        for region in self._regions:
            region.memory.close()
        self._regions.clear()
