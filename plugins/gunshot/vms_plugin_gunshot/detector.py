"""A transient detector for gunshot-like impulses in a stream of mono audio.

A muzzle blast is a sharp broadband crack: it rises in well under a millisecond, has its
energy spread up to the highest frequencies, and dies away within tens of milliseconds.
Door slams are low-frequency thumps that ring for a hundred milliseconds or more; speech
and traffic build up slowly and last. So every 5 ms frame is measured on the
*high-passed* signal (first difference: +6 dB per octave, so low-frequency thumps and
traffic rumble barely register) and a frame is a shot when all of these hold:

1. loud: its high-pass energy is ``margin_db`` over the running background;
2. sharp onset: it is ``rise_db`` louder than ``rise_ms`` earlier;
3. broadband: the high-pass energy is at least ``min_broadband`` of what white noise of
   the same level would give (white noise: 1.0, a 100 Hz thump: ~0.001);
4. fast decay: ``decay_ms`` later it has fallen by ``decay_db``.

The background follows quiet stretches quickly and loud ones slowly, so one shot barely
moves it but a rising street noise is learnt within seconds. The detector is pure numpy
and keeps a short tail between calls, so a shot split across two chunks is still found.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

_FLOOR = 1e-12  # energy floor: -120 dB, digital silence


@dataclass(frozen=True, slots=True)
class DetectorSettings:
    """Thresholds of :class:`TransientDetector` (defaults measured in the README)."""

    margin_db: float = 15.0
    rise_db: float = 12.0
    rise_ms: float = 10.0
    decay_db: float = 15.0
    decay_ms: float = 50.0
    min_broadband: float = 0.25
    min_level_db: float = -65.0  # quietest high-pass frame energy that can be a shot
    frame_ms: float = 5.0
    refractory_ms: float = 120.0  # one shot's echoes are not a second round
    background_up_s: float = 3.0  # time constant while the level rises
    background_down_s: float = 0.1  # ... and while it falls


@dataclass(frozen=True, slots=True)
class Transient:
    """One detected impulse.

    :ivar offset_s: seconds from the start of the chunk passed to the call that found it;
        negative when the impulse began in the previous chunk.
    :ivar level_db: high-pass energy of the peak frame (dB re full-scale white noise).
    :ivar over_background_db: how far the peak stood over the running background.
    :ivar broadband: 0..1, how white the peak frame is.
    :ivar decay_db: how much it fell within ``decay_ms``.
    """

    offset_s: float
    level_db: float
    over_background_db: float
    broadband: float
    decay_db: float

    @property
    def confidence(self) -> float:
        """0..1: a rough score from how clearly each test was passed."""
        score = min(1.0, self.over_background_db / 40.0) * 0.5 + min(1.0, self.broadband) * 0.3
        return round(min(1.0, score + min(1.0, self.decay_db / 60.0) * 0.2), 3)


class TransientDetector:
    """Feeds on consecutive chunks of one audio stream; returns the impulses found."""

    def __init__(self, sample_rate: int, settings: DetectorSettings | None = None) -> None:
        self.sample_rate = sample_rate
        self.settings = s = settings or DetectorSettings()
        self._frame = max(1, round(sample_rate * s.frame_ms / 1000))
        frame_s = self._frame / sample_rate
        self._rise = max(1, round(s.rise_ms / 1000 / frame_s))
        self._decay = max(1, round(s.decay_ms / 1000 / frame_s))
        self._refractory = max(1, round(s.refractory_ms / 1000 / frame_s))
        self._alpha_up = min(1.0, frame_s / s.background_up_s)
        self._alpha_down = min(1.0, frame_s / s.background_down_s)
        self._pending = np.zeros(0, dtype=np.float64)  # samples short of a whole frame
        self._last_sample = 0.0
        self._hp_db: list[float] = []  # frames not yet dropped, oldest first
        self._broad: list[float] = []
        self._first_frame = 0  # absolute index of _hp_db[0]
        self._next = 0  # absolute index of the next frame to decide
        self._samples_seen = 0  # absolute sample index where the pending samples start
        self._background: float | None = None
        self._last_hit = -(10**9)

    def process(self, samples: npt.NDArray[np.floating]) -> list[Transient]:
        """Analyse the next chunk; impulses whose decay window is complete are returned."""
        chunk_start = self._samples_seen + len(self._pending)
        # A corrupt decode must not poison the background with NaN for good.
        fresh = np.nan_to_num(
            np.asarray(samples, dtype=np.float64), nan=0.0, posinf=1.0, neginf=-1.0
        )
        buf = np.concatenate([self._pending, fresh])
        whole = len(buf) // self._frame * self._frame
        frames, self._pending = buf[:whole], buf[whole:]
        if whole:
            high = np.diff(frames, prepend=self._last_sample)
            self._last_sample = float(frames[-1])
            e_hp = np.mean(high.reshape(-1, self._frame) ** 2, axis=1) + _FLOOR
            e_all = np.mean(frames.reshape(-1, self._frame) ** 2, axis=1) + _FLOOR
            # White noise has twice its energy in the first difference: normalise to 1.
            self._hp_db.extend((10 * np.log10(e_hp)).tolist())
            self._broad.extend(np.minimum(1.0, e_hp / (2 * e_all)).tolist())
        self._samples_seen += whole
        found = self._decide(chunk_start)
        self._trim()
        return found

    def _decide(self, chunk_start: int) -> list[Transient]:
        s = self.settings
        found: list[Transient] = []
        last_decidable = self._first_frame + len(self._hp_db) - 1 - self._decay
        while self._next <= last_decidable:
            k = self._next - self._first_frame
            level = self._hp_db[k]
            background = self._background if self._background is not None else level
            before = self._hp_db[k - self._rise] if k >= self._rise else background
            peak = level >= self._hp_db[k + 1] and (k == 0 or level > self._hp_db[k - 1])
            decay = level - min(self._hp_db[k + 1 : k + self._decay + 1])
            if (
                peak
                and level >= s.min_level_db
                and level - background >= s.margin_db
                and level - before >= s.rise_db
                and self._broad[k] >= s.min_broadband
                and decay >= s.decay_db
                and self._next - self._last_hit >= self._refractory
            ):
                self._last_hit = self._next
                offset = (self._next * self._frame - chunk_start) / self.sample_rate
                found.append(Transient(offset, level, level - background, self._broad[k], decay))
            self._learn_background(level)
            self._next += 1
        return found

    def _learn_background(self, level: float) -> None:
        if self._background is None or math.isinf(self._background):
            self._background = level
            return
        alpha = self._alpha_up if level > self._background else self._alpha_down
        self._background += alpha * (level - self._background)

    def _trim(self) -> None:
        # Keep the frames the next decisions look back at (rise) and the undecided ones.
        keep_from = self._next - self._rise - 1
        drop = keep_from - self._first_frame
        if drop > 0:
            del self._hp_db[:drop]
            del self._broad[:drop]
            self._first_frame += drop
