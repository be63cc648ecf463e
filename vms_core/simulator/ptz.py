"""Pan/tilt/zoom state of a simulated PTZ camera, moving over time.

Positions are in the ONVIF generic spaces: pan and tilt in [-1, 1], zoom in [0, 1].
ContinuousMove sets a velocity (generic velocity space, [-1, 1]) that is integrated until
Stop or the move's timeout; the position is computed when asked, so nothing ticks.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

# Distance per second in the generic position space at full velocity (1.0).
FULL_SPEED_PER_S = 0.5
DEFAULT_MOVE_TIMEOUT_S = 10.0


@dataclass(frozen=True, slots=True)
class PtzPosition:
    pan: float = 0.0
    tilt: float = 0.0
    zoom: float = 0.0


@dataclass(frozen=True, slots=True)
class PtzVelocity:
    pan: float = 0.0
    tilt: float = 0.0
    zoom: float = 0.0

    @property
    def moving_pan_tilt(self) -> bool:
        return self.pan != 0.0 or self.tilt != 0.0


def _clamp(value: float, low: float, high: float) -> float:
    return max(low, min(high, value))


def clamp_position(position: PtzPosition) -> PtzPosition:
    return PtzPosition(
        pan=_clamp(position.pan, -1.0, 1.0),
        tilt=_clamp(position.tilt, -1.0, 1.0),
        zoom=_clamp(position.zoom, 0.0, 1.0),
    )


PositionListener = Callable[[PtzPosition], None]


class PtzState:
    """The head of one camera. ``on_change`` is told of every commanded change, so the
    media side can pan its picture; ``position()`` gives the position at any moment."""

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        on_change: PositionListener | None = None,
    ) -> None:
        self._clock = clock
        self.on_change = on_change
        self._origin = PtzPosition()
        self._velocity = PtzVelocity()
        self._since = clock()
        self._until = self._since

    def _at(self, moment: float) -> PtzPosition:
        elapsed = max(0.0, min(moment, self._until) - self._since)
        step = FULL_SPEED_PER_S * elapsed
        return clamp_position(
            PtzPosition(
                pan=self._origin.pan + self._velocity.pan * step,
                tilt=self._origin.tilt + self._velocity.tilt * step,
                zoom=self._origin.zoom + self._velocity.zoom * step,
            )
        )

    def position(self) -> PtzPosition:
        return self._at(self._clock())

    def velocity(self) -> PtzVelocity:
        """The current velocity: zero once the move timed out."""
        if self._clock() >= self._until:
            return PtzVelocity()
        return self._velocity

    def continuous_move(
        self, velocity: PtzVelocity, timeout_s: float = DEFAULT_MOVE_TIMEOUT_S
    ) -> None:
        now = self._clock()
        self._origin = self._at(now)
        self._velocity = PtzVelocity(
            pan=_clamp(velocity.pan, -1.0, 1.0),
            tilt=_clamp(velocity.tilt, -1.0, 1.0),
            zoom=_clamp(velocity.zoom, -1.0, 1.0),
        )
        self._since = now
        self._until = now + max(0.0, timeout_s)
        self._notify()

    def stop(self, pan_tilt: bool = True, zoom: bool = True) -> None:
        now = self._clock()
        self._origin = self._at(now)
        keep = self.velocity()
        self._velocity = PtzVelocity(
            pan=0.0 if pan_tilt else keep.pan,
            tilt=0.0 if pan_tilt else keep.tilt,
            zoom=0.0 if zoom else keep.zoom,
        )
        self._since = now
        self._notify()

    def absolute_move(self, target: PtzPosition) -> None:
        """Jump to the target (real heads take a second or two; nobody needs that here)."""
        now = self._clock()
        self._origin = clamp_position(target)
        self._velocity = PtzVelocity()
        self._since = now
        self._until = now
        self._notify()

    def _notify(self) -> None:
        if self.on_change is not None:
            self.on_change(self.position())
