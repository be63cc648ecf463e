"""The sample table of a fragmented MP4's first track, read from its boxes as a browser's
Media Source Extensions read it (tfhd defaults, tfdt, trun).

FFmpeg's demuxer does not report the default sample duration of a fragment; it fills in
one frame interval from the stream's rate instead, so a keyframe lasting half a second
shows as 0.1 s in ffprobe. Browsers take the duration the file states: this is it.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

CONTAINERS = {b"moov", b"trak", b"mdia", b"mvex", b"moof", b"traf"}


@dataclass(frozen=True)
class Sample:
    start: float  # seconds of media time
    duration: float


def _boxes(data: bytes, offset: int, end: int) -> list[tuple[bytes, int, int]]:
    """(type, payload start, box end) of the boxes in data[offset:end], descending into
    containers."""
    found = []
    while offset + 8 <= end:
        size, kind = struct.unpack(">I4s", data[offset : offset + 8])
        header = 8
        if size == 1:
            (size,) = struct.unpack(">Q", data[offset + 8 : offset + 16])
            header = 16
        elif size == 0:
            size = end - offset
        if size < header:
            break
        found.append((kind, offset + header, offset + size))
        if kind in CONTAINERS:
            found.extend(_boxes(data, offset + header, offset + size))
        offset += size
    return found


def samples(path: Path, track_id: int = 1) -> list[Sample]:
    """Samples of track ``track_id`` (the video: the muxer's first track)."""
    data = path.read_bytes()
    timescale = 0
    wanted = False
    trex_duration = default_duration = 0
    table: list[Sample] = []
    base = 0
    for kind, at, _end in _boxes(data, 0, len(data)):
        flags = int.from_bytes(data[at + 1 : at + 4], "big")
        version = data[at]
        if kind == b"mdhd" and not timescale:  # the first track's
            field = at + (20 if version == 1 else 12)
            (timescale,) = struct.unpack(">I", data[field : field + 4])
        elif kind == b"trex" and struct.unpack(">I", data[at + 4 : at + 8])[0] == track_id:
            (trex_duration,) = struct.unpack(">I", data[at + 12 : at + 16])
        elif kind == b"tfhd":
            wanted = struct.unpack(">I", data[at + 4 : at + 8])[0] == track_id
            default_duration = trex_duration
            cursor = at + 8  # version/flags, track id
            if flags & 0x01:
                cursor += 8
            if flags & 0x02:
                cursor += 4
            if flags & 0x08:
                (default_duration,) = struct.unpack(">I", data[cursor : cursor + 4])
        elif not wanted:
            continue
        elif kind == b"tfdt":
            fmt = ">Q" if version == 1 else ">I"
            (base,) = struct.unpack(fmt, data[at + 4 : at + 4 + struct.calcsize(fmt)])
        elif kind == b"trun":
            (count,) = struct.unpack(">I", data[at + 4 : at + 8])
            cursor = at + 8
            if flags & 0x001:
                cursor += 4
            if flags & 0x004:
                cursor += 4
            for _ in range(count):
                duration = default_duration
                if flags & 0x100:
                    (duration,) = struct.unpack(">I", data[cursor : cursor + 4])
                    cursor += 4
                cursor += 4 * bin(flags & 0xE00).count("1")
                table.append(Sample(base / timescale, duration / timescale))
                base += duration
    return table
