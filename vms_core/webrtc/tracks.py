"""aiortc tracks that hand over already-encoded packets: no decoder, no encoder.

``recv()`` returns an ``av.Packet``; aiortc's sender then calls its encoder's ``pack()``
instead of ``encode()``. ``PrepackedPacker`` replaces that encoder on our senders so the
RTP payloads the relay split once per camera are reused; without it (another aiortc
version) aiortc's own ``pack()`` splits each packet again per viewer, which is slower but
sends the same bytes.
"""

from __future__ import annotations

import logging
from typing import Any

import av
from aiortc import MediaStreamTrack, RTCRtpSender
from aiortc.mediastreams import MediaStreamError

from vms_core.webrtc.relay import Relayed, ViewerQueue

log = logging.getLogger(__name__)

# How far apart (in codec ticks) backlog frames are squeezed: the GOP a new viewer starts
# on is shown as fast as it decodes instead of delaying the live picture by its age.
BACKLOG_TICK = 1


class PassthroughTrack(MediaStreamTrack):
    """One viewer's video or audio: packets from a relay queue, timestamps of its own."""

    def __init__(
        self, kind: str, queue: ViewerQueue, backlog: int = 0, backlog_last: int = 0
    ) -> None:
        super().__init__()
        self.kind = kind
        self.queue = queue
        self.packer = PrepackedPacker()
        self._backlog = backlog
        self._backlog_last = backlog_last  # timestamp of the newest backlog frame
        self.sent = 0

    async def next_frame(self) -> tuple[Relayed, int] | None:
        """The next relayed item and the timestamp to send it with; None once ended."""
        if self.readyState != "live":
            return None
        item = await self.queue.get()
        if item is None:
            self.stop()
            return None
        timestamp = item.timestamp
        if self._backlog and timestamp <= self._backlog_last:
            self._backlog -= 1
            timestamp = self._backlog_last - self._backlog * BACKLOG_TICK
        self.sent += 1
        return item, timestamp

    async def recv(self) -> av.Packet[Any]:
        """aiortc's own send loop (when ``DirectRtpSender`` cannot be installed)."""
        prepared = await self.next_frame()
        if prepared is None:
            raise MediaStreamError
        self.packer.next = prepared
        return prepared[0].packet


class PrepackedPacker:
    """Stands in for aiortc's per-sender encoder: returns the relay's payloads."""

    def __init__(self) -> None:
        self.next: tuple[Relayed, int] | None = None
        self.fallbacks = 0

    def pack(self, packet: av.Packet[Any]) -> tuple[list[bytes], int]:
        prepared = self.next
        if prepared is not None and prepared[0].packet is packet:
            return prepared[0].payloads, prepared[1]
        raise RuntimeError("PrepackedPacker got a packet its track did not return")

    def encode(self, frame: Any, force_keyframe: bool = False) -> tuple[list[bytes], int]:
        raise RuntimeError("live view never encodes")


def install_packer(sender: RTCRtpSender, packer: PrepackedPacker) -> bool:
    """Put ``packer`` in place of the encoder aiortc would create for ``sender``."""
    attribute = "_RTCRtpSender__encoder"
    if not hasattr(sender, attribute) or getattr(sender, attribute) is not None:
        log.warning("aiortc changed: packets are packetized per viewer")
        return False
    setattr(sender, attribute, packer)
    return True
