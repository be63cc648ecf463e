"""Feeding bytes to the native RTSP client's parser as TCP delivers them, without a socket."""

from __future__ import annotations

from hypothesis import strategies as st

from vms_core.media.native.connection import RtspConnection

# TCP segment sizes, from single bytes to more than the parser's buffer holds.
chunkings = st.lists(st.integers(1, 70_000), min_size=1, max_size=8)


def feed(connection: RtspConnection, data: bytes, sizes: list[int]) -> None:
    """Hand ``data`` to the parser as TCP would, in pieces of ``sizes`` (cycled)."""
    pos = 0
    for index in range(len(data) + 1):
        if pos >= len(data):
            return
        free = len(connection.buffer) - connection.end
        assert free > 0, "the parser left no room to receive into"
        size = min(sizes[index % len(sizes)], len(data) - pos)
        pos += connection.feed(data[pos : pos + size])
