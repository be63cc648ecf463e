"""Reading a recording that may still be growing: only whole top-level boxes count.

A segment being written is a valid fragmented MP4 up to its last complete ``moof`` +
``mdat`` pair; past that the writer may be half-way through a fragment. The demuxer is
given a view of the file that ends there, so it never sees a torn fragment.
"""

from __future__ import annotations

import io
import os
import struct
from pathlib import Path

_HEADER = struct.Struct(">I4s")
_LARGE = struct.Struct(">Q")


def complete_length(path: Path) -> int:
    """Bytes of ``path`` that hold whole top-level boxes, ending after the last complete
    ``mdat`` (or after ``moov`` when no fragment is complete yet). 0 if not even the
    header is there."""
    with path.open("rb") as file:
        size = os.fstat(file.fileno()).st_size
        offset = 0
        usable = 0
        while offset + _HEADER.size <= size:
            file.seek(offset)
            box_size, box_type = _HEADER.unpack(file.read(_HEADER.size))
            if box_size == 1:
                if offset + 16 > size:
                    break
                (box_size,) = _LARGE.unpack(file.read(_LARGE.size))
            elif box_size == 0:
                break  # "runs to the end of the file": still being written
            if box_size < _HEADER.size or offset + box_size > size:
                break
            offset += box_size
            if box_type in (b"mdat", b"moov"):
                usable = offset
        return usable


class BoundedFile(io.RawIOBase):
    """A read-only file that ends at ``limit`` bytes, for PyAV's file-object input."""

    def __init__(self, path: Path, limit: int) -> None:
        super().__init__()
        self._file = path.open("rb")
        self._limit = limit
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        remaining = self._limit - self._pos
        if remaining <= 0:
            return b""
        if size < 0 or size > remaining:
            size = remaining
        self._file.seek(self._pos)
        data = self._file.read(size)
        self._pos += len(data)
        return data

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_SET:
            self._pos = offset
        elif whence == io.SEEK_CUR:
            self._pos += offset
        elif whence == io.SEEK_END:
            self._pos = self._limit + offset
        else:
            raise ValueError(f"bad whence {whence}")
        self._pos = max(0, self._pos)
        return self._pos

    def tell(self) -> int:
        return self._pos

    def close(self) -> None:
        self._file.close()
        super().close()
