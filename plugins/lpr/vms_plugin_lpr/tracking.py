"""Following a plate from frame to frame, so it is recognised a few times, not in every frame.

Each detected plate box is matched to the track it continues (the nearest predicted
position, similar size); a track collects the texts read from it. Once ``enough`` reads
agree, the track is *read*: it keeps being followed, but no longer recognised. A track
whose reads never look like a plate (a sticker, a sign on a truck) is given up after
``give_up`` tries (three times as many when it reads plates that never agree). Tracks not
seen for ``timeout_s`` end.
"""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from vms_plugin_lpr.models import Quad

_STATIC_AFTER_S = 0.3  # a plate on a vehicle moves (or grows) visibly within this time


def quad_width(quad: Quad) -> float:
    return float(max(np.linalg.norm(quad[1] - quad[0]), np.linalg.norm(quad[2] - quad[3])))


def quad_height(quad: Quad) -> float:
    return float(max(np.linalg.norm(quad[3] - quad[0]), np.linalg.norm(quad[2] - quad[1])))


@dataclass(slots=True)
class PlateTrack:
    """One plate followed across frames."""

    ident: int
    quad: Quad
    seen_at: float  # seconds (the frame's time)
    velocity: tuple[float, float] = (0.0, 0.0)  # pixels per second
    reads: Counter[str] = field(default_factory=Counter)
    best_scores: dict[str, float] = field(default_factory=dict)  # per text read
    tries: int = 0  # recognitions run on it
    frames: int = 1
    first_quad: Quad | None = None  # where it was first seen (set on creation)
    first_seen: float = 0.0

    @property
    def centre(self) -> tuple[float, float]:
        x, y = self.quad.mean(axis=0)
        return float(x), float(y)

    def predicted(self, at: float) -> tuple[float, float]:
        dt = at - self.seen_at
        x, y = self.centre
        return x + self.velocity[0] * dt, y + self.velocity[1] * dt


class PlateTracker:
    """The tracks of one camera."""

    def __init__(
        self,
        frame_width: int,
        *,
        enough: int = 3,
        give_up: int = 6,
        timeout_s: float = 1.5,
    ) -> None:
        self.frame_width = frame_width
        self.enough = enough
        self.give_up = give_up
        self.timeout_s = timeout_s
        self.tracks: list[PlateTrack] = []
        self._ids = itertools.count(1)

    def update(self, quads: list[Quad], at: float) -> list[PlateTrack]:
        """Match this frame's plate boxes to tracks (new tracks for the rest); the track
        of each box, in order."""
        self.tracks = [t for t in self.tracks if at - t.seen_at <= self.timeout_s]
        free = list(self.tracks)
        matched: list[PlateTrack] = []
        for quad in quads:
            track = self._nearest(quad, at, free)
            if track is None:
                track = PlateTrack(next(self._ids), quad, at, first_quad=quad, first_seen=at)
                self.tracks.append(track)
            else:
                free.remove(track)
                self._move(track, quad, at)
            matched.append(track)
        return matched

    def static(self, track: PlateTrack) -> bool:
        """Whether ``track`` has stayed where it was first seen, the same size, for a while:
        text painted on the scene (a street sign a passing vehicle happened to uncover), not
        a plate on a moving vehicle."""
        if track.first_quad is None or track.seen_at - track.first_seen < _STATIC_AFTER_S:
            return False
        first = track.first_quad
        # Where, not how big: a passing vehicle covering part of a sign changes its box.
        height = min(quad_height(first), quad_height(track.quad))
        moved = float(np.hypot(*(track.quad.mean(axis=0) - first.mean(axis=0))))
        return moved < 0.3 * height

    def agreed(self, track: PlateTrack) -> str | None:
        """The text ``enough`` reads of ``track`` agree on, if any."""
        if track.reads:
            text, count = track.reads.most_common(1)[0]
            if count >= self.enough:
                return text
        return None

    def wants_reading(self, track: PlateTrack) -> bool:
        """Whether ``track`` still needs recognising: not agreed on yet, not given up."""
        if track.reads and track.reads.most_common(1)[0][1] >= self.enough:
            return False
        limit = self.give_up if not track.reads else 3 * self.give_up  # misreads, no agreement
        return track.tries < limit

    def note(self, track: PlateTrack, plate: str | None, score: float = 0.0) -> None:
        """A recognition of ``track`` read ``plate`` with confidence ``score`` (``None``:
        nothing like a plate)."""
        track.tries += 1
        if plate is not None:
            track.reads[plate] += 1
            track.best_scores[plate] = max(score, track.best_scores.get(plate, 0.0))

    def _nearest(self, quad: Quad, at: float, candidates: list[PlateTrack]) -> PlateTrack | None:
        width = quad_width(quad)
        x, y = (float(v) for v in quad.mean(axis=0))
        best: PlateTrack | None = None
        best_distance = float("inf")
        for track in candidates:
            ratio = width / max(1.0, quad_width(track.quad))
            if not 0.6 <= ratio <= 1.6:
                continue
            px, py = track.predicted(at)
            distance = float(np.hypot(x - px, y - py))
            # A track with a known speed is expected near its prediction; a new one may
            # have moved anywhere a vehicle can in the time (up to 3/4 of the picture a
            # second).
            known = track.frames > 1
            dt = max(0.0, at - track.seen_at)
            allowed = width + (0.1 if known else 0.75 * dt) * self.frame_width
            if distance <= allowed and distance < best_distance:
                best, best_distance = track, distance
        return best

    def _move(self, track: PlateTrack, quad: Quad, at: float) -> None:
        dt = at - track.seen_at
        if dt > 0:
            x0, y0 = track.centre
            x1, y1 = (float(v) for v in quad.mean(axis=0))
            track.velocity = ((x1 - x0) / dt, (y1 - y0) / dt)
        track.quad = quad
        track.seen_at = at
        track.frames += 1
