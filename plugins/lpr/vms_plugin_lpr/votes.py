"""Turning per-frame OCR candidates into reads: agreement across frames, then merging.

A single frame can misread a plate (motion blur, a glyph half out of view). A read is
reported when ``min_agree`` frames of one camera within ``window_s`` gave the same text.
Afterwards the same vehicle keeps being seen for as long as it is in view (or parked):
those sightings within ``merge_s`` of the last one extend the read instead of making new ones.
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from vms_plugin_lpr.engine import PlateCandidate
from vms_plugin_lpr.plates import fold


@dataclass(slots=True)
class Sighting:
    """A candidate with the time of its frame."""

    time: datetime
    candidate: PlateCandidate


@dataclass(slots=True)
class Decision:
    """What the vote decided for one folded plate key at one frame."""

    text: str
    confidence: float
    best: Sighting
    first_seen: datetime
    new: bool  # True: report a new read; False: extend the open read ``read_id``
    read_id: str | None = None


@dataclass(slots=True)
class _OpenRead:
    read_id: str
    last_seen: datetime


@dataclass(slots=True)
class CameraVotes:
    """Votes of one camera."""

    min_agree: int
    window: timedelta
    merge: timedelta
    recent: deque[Sighting] = field(default_factory=deque)
    open_reads: dict[str, _OpenRead] = field(default_factory=dict)

    def add(self, time: datetime, candidates: list[PlateCandidate]) -> list[Decision]:
        """Record one frame's candidates; decisions for keys that are now (still) agreed."""
        while self.recent and time - self.recent[0].time > self.window:
            self.recent.popleft()
        for key, open_read in list(self.open_reads.items()):
            if time - open_read.last_seen > self.merge:
                del self.open_reads[key]
        decisions: list[Decision] = []
        for key in {fold(c.text) for c in candidates}:
            self.recent.extend(Sighting(time, c) for c in candidates if fold(c.text) == key)
            decision = self._decide(key, time)
            if decision is not None:
                decisions.append(decision)
        return decisions

    def opened(self, key: str, read_id: str, time: datetime) -> None:
        """Remember that the read for ``key`` was stored as ``read_id``."""
        self.open_reads[key] = _OpenRead(read_id, time)

    def _decide(self, key: str, time: datetime) -> Decision | None:
        same = [s for s in self.recent if fold(s.candidate.text) == key]
        open_read = self.open_reads.get(key)
        if open_read is not None:
            open_read.last_seen = time
            best = max(same, key=lambda s: s.candidate.score)
            text = Counter(s.candidate.text for s in same).most_common(1)[0][0]
            return Decision(
                text, best.candidate.score, best, same[0].time, False, open_read.read_id
            )
        frames = {s.time for s in same}
        if len(frames) < self.min_agree:
            return None
        # The spelling most frames agree on wins; confusion-folded variants only vote for it.
        text, _ = Counter(s.candidate.text for s in same).most_common(1)[0]
        agreeing = [s for s in same if s.candidate.text == text]
        if len({s.time for s in agreeing}) < self.min_agree:
            return None
        best = max(agreeing, key=lambda s: s.candidate.score)
        confidence = sum(s.candidate.score for s in agreeing) / len(agreeing)
        return Decision(text, confidence, best, same[0].time, True)
