"""Which camera state changes become events: each real transition once, flapping folded.

The camera's state in the catalog (and the API) follows the recorder exactly; this decides
what is worth telling people through the event log, rules and plug-ins, as an operator of
a control room expects:

- A camera that goes down says so at once (``camera.lost`` / ``camera.error`` with the
  reason), and once: its reconnect attempts are not events. Coming back is one
  ``camera.streaming`` that says how long it was down and after how many attempts.
  ``connecting`` (every connection passes through it) is never an event.
- A camera that stays down is recalled now and then (``camera.still_down``, with the
  attempt count), not every attempt.
- A camera that keeps dropping and returning (``FLAP_INTERRUPTIONS`` interruptions within
  ``FLAP_WINDOW_SECONDS``) is ``camera.flapping`` once; its further drops and returns are
  folded into it, until it has held one state for ``SETTLE_SECONDS``: then that state is
  published with how many interruptions it had meanwhile. A flapping camera is recalled
  like a camera that is down.

Pure bookkeeping: the caller feeds it state changes and the clock (``observe``, ``due``)
and publishes what it returns.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from vms_sdk import Severity

UP = frozenset({"streaming"})
DOWN = frozenset({"lost", "error"})
FLAP_INTERRUPTIONS = 3
FLAP_WINDOW_SECONDS = 120.0
SETTLE_SECONDS = 60.0
REMINDER_SECONDS = 3600.0


@dataclass(frozen=True, slots=True)
class StateEvent:
    """An event to publish for one camera: ``camera.<kind>``, when it happened, details."""

    camera: str
    kind: str
    at: float  # time.time() of what it reports
    severity: Severity
    data: dict[str, Any]

    @property
    def type(self) -> str:
        return f"camera.{self.kind}"


@dataclass(slots=True)
class _Camera:
    camera: str
    state: str = ""  # the exact current state
    reason: str = ""
    attempts: int = 0  # failed connection attempts of the current outage
    changed_at: float = 0.0  # when ``state`` was entered
    published: str = ""  # the state the last transition event announced
    down_since: float | None = None  # when the current outage began
    drops: deque[float] = field(default_factory=deque)  # recent up -> down times
    flapping_since: float | None = None
    flap_drops: int = 0  # interruptions since the flapping began
    reminded_at: float = 0.0


class StateEventDebouncer:
    """Turns each camera's exact state changes into the events worth publishing."""

    def __init__(
        self,
        *,
        flap_interruptions: int = FLAP_INTERRUPTIONS,
        flap_window_seconds: float = FLAP_WINDOW_SECONDS,
        settle_seconds: float = SETTLE_SECONDS,
        reminder_seconds: float = REMINDER_SECONDS,
    ) -> None:
        self.flap_interruptions = flap_interruptions
        self.flap_window_seconds = flap_window_seconds
        self.settle_seconds = settle_seconds
        self.reminder_seconds = reminder_seconds
        self._cameras: dict[str, _Camera] = {}

    def forget(self, camera: str) -> None:
        """The camera was removed (or stopped recording): start afresh if it returns."""
        self._cameras.pop(camera, None)

    def observe(
        self, camera: str, state: str, reason: str, at: float, attempts: int = 0
    ) -> list[StateEvent]:
        """A state report from the recorder (``at``: when the state was entered;
        ``attempts``: failed connection attempts of the current outage)."""
        entry = self._cameras.get(camera)
        if entry is None:
            entry = self._cameras[camera] = _Camera(camera)
        # Coming back, the report says how many attempts it took (a camera that stays
        # down reports its count only now and then).
        outage = (entry.down_since, max(entry.attempts, attempts))
        entry.reason, entry.attempts = reason, attempts
        if state == entry.state:
            return []  # the same state again: a new reason or attempt count
        was_up = entry.state in UP
        entry.state, entry.changed_at = state, at
        if state in UP:
            entry.down_since = None
        elif state in DOWN:
            entry.down_since = entry.down_since if entry.down_since is not None else at
        else:
            return []  # connecting, or a state not ours to announce
        dropped = was_up and state in DOWN
        if entry.flapping_since is not None:
            if dropped:
                entry.flap_drops += 1
            return []  # folded into the flapping; ``due`` ends it once settled
        if dropped and self._drops(entry, at) >= self.flap_interruptions:
            entry.flapping_since, entry.flap_drops, entry.reminded_at = at, len(entry.drops), at
            return [self._flapping(entry, at)]
        if state == entry.published:
            return []  # e.g. lost -> connecting -> lost: the same outage
        return [self._transition(entry, at, *outage)]

    def due(self, now: float) -> list[StateEvent]:
        """Events that time brings: a flapping camera that settled, reminders."""
        events: list[StateEvent] = []
        for entry in self._cameras.values():
            settled = entry.state in UP or entry.state in DOWN
            if entry.flapping_since is not None:
                if settled and now - entry.changed_at >= self.settle_seconds:
                    events.append(self._settled(entry))
                elif now - entry.reminded_at >= self.reminder_seconds:
                    entry.reminded_at = now
                    events.append(self._flapping(entry, now))
            elif (
                entry.state in DOWN
                and entry.published == entry.state
                and now - entry.reminded_at >= self.reminder_seconds
            ):
                entry.reminded_at = now
                events.append(self._still_down(entry, now))
        return events

    # -- the events -----------------------------------------------------------------------

    def _drops(self, entry: _Camera, at: float) -> int:
        """Count a drop at ``at``; how many fell within the flapping window."""
        drops = entry.drops
        drops.append(at)
        while drops and at - drops[0] > self.flap_window_seconds:
            drops.popleft()
        return len(drops)

    def _transition(
        self, entry: _Camera, at: float, down_since: float | None, attempts: int
    ) -> StateEvent:
        entry.published, entry.reminded_at = entry.state, at
        data: dict[str, Any] = {"reason": entry.reason}
        if entry.state in DOWN:
            return StateEvent(entry.camera, entry.state, at, Severity.LOW, data)
        if down_since is not None:  # back from an outage
            data.update({"down_seconds": round(at - down_since, 3), "attempts": attempts})
        return StateEvent(entry.camera, entry.state, at, Severity.INFO, data)

    def _flapping(self, entry: _Camera, now: float) -> StateEvent:
        assert entry.flapping_since is not None
        data = {
            "reason": entry.reason,
            "interruptions": entry.flap_drops,
            "flapping_seconds": round(now - entry.flapping_since, 3),
        }
        return StateEvent(entry.camera, "flapping", now, Severity.LOW, data)

    def _settled(self, entry: _Camera) -> StateEvent:
        assert entry.flapping_since is not None
        data = {
            "interruptions": entry.flap_drops,
            "flapping_seconds": round(entry.changed_at - entry.flapping_since, 3),
        }
        entry.flapping_since, entry.flap_drops = None, 0
        entry.drops.clear()
        event = self._transition(entry, entry.changed_at, None, 0)
        event.data.update(data)
        return event

    def _still_down(self, entry: _Camera, now: float) -> StateEvent:
        since = entry.down_since if entry.down_since is not None else entry.changed_at
        data = {
            "state": entry.state,
            "reason": entry.reason,
            "attempts": entry.attempts,
            "down_seconds": round(now - since, 3),
        }
        return StateEvent(entry.camera, "still_down", now, Severity.LOW, data)
