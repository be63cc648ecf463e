"""Stream time to the server's wall clock, and decode timestamps kept increasing: shared by
every ingest source, so recordings are dated the same whatever received them."""

from __future__ import annotations

import time
from fractions import Fraction

from vms_core.media.packet import StreamKind

# A video timestamp step larger than this (or any step back) is a jump of the camera's
# clock, not a gap in the stream.
MAX_TIMESTAMP_STEP = 5.0


class WallClock:
    """Maps stream time to the server's wall clock: ``wall0`` at stream second ``ref``.

    A video timestamp step back or of more than MAX_TIMESTAMP_STEP re-anchors on the
    server clock so wall time stays monotonic (the writer then starts a new segment)."""

    __slots__ = ("last_video", "ref", "wall0")

    def __init__(self, wall0: float, ref: float) -> None:
        self.wall0 = wall0
        self.ref = ref
        self.last_video = 0.0

    def wall(self, kind: StreamKind, stream_time: Fraction | float) -> float:
        seconds = float(stream_time)
        wall = self.wall0 + seconds - self.ref
        if kind == "video":
            last = self.last_video
            if last and not last <= wall <= last + MAX_TIMESTAMP_STEP:
                self.wall0 = wall = max(time.time(), last)
                self.ref = seconds
            self.last_video = wall
        return wall


class MonotonicDts:
    """Per-track shift that keeps DTS increasing when the stream's clock steps back: the
    recording then goes on without a cut and without waiting for the next keyframe."""

    __slots__ = ("last", "shift", "step")

    def __init__(self, step: int) -> None:
        self.step = step  # ticks to put between a repeated or earlier DTS and the last
        self.shift = 0  # add it to the PTS too
        self.last: int | None = None

    def repair(self, dts: int, step: int = 0) -> int:
        """``dts`` shifted past the last one (``step`` ticks on, default ``self.step``)."""
        dts += self.shift
        last = self.last
        if last is not None and dts <= last:
            jump = last + (step or self.step) - dts
            self.shift += jump
            dts += jump
        self.last = dts
        return dts
