"""What happens in a simulated camera's picture and sound, and when.

Scenes are plain frozen dataclasses so the simulator can build them from its TOML config
(``SceneConfig.from_dict``). Every scene object repeats inside the loop, and the loop repeats
forever aligned to the wall clock, so ``SceneConfig.events()`` is the ground truth a detector
test compares against: an event at ``start_s`` happens whenever
``time.time() % loop_seconds == start_s``.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Literal

EventKind = Literal["vehicle", "person", "gunshot", "speech", "door_slam"]

GUNSHOT_SECONDS = 0.5
DOOR_SLAM_SECONDS = 0.8
_PLATE_CHARS = set(string.ascii_uppercase + string.digits + " -")


@dataclass(frozen=True, slots=True)
class SceneEvent:
    """One occurrence of a scene object inside the loop (seconds from the loop start)."""

    kind: EventKind
    start_s: float
    end_s: float
    data: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class VehicleScene:
    """A car with a readable licence plate crossing the view every ``every_s`` seconds."""

    plate: str = "VMS 123"
    every_s: float = 20.0
    crossing_s: float = 5.0
    first_at_s: float = 2.0

    def __post_init__(self) -> None:
        if not 1 <= len(self.plate) <= 10 or not set(self.plate) <= _PLATE_CHARS:
            raise ValueError("plate must be 1-10 characters from A-Z, 0-9, space and '-'")
        _check_repeat(self.every_s, self.crossing_s, self.first_at_s)


@dataclass(frozen=True, slots=True)
class PersonScene:
    """A walking figure crossing the view every ``every_s`` seconds."""

    # Defaults interleave with VehicleScene's: one object in view at a time.
    every_s: float = 20.0
    crossing_s: float = 8.0
    first_at_s: float = 10.0

    def __post_init__(self) -> None:
        _check_repeat(self.every_s, self.crossing_s, self.first_at_s)


@dataclass(frozen=True, slots=True)
class SoundScene:
    """Sounds (gunshot, door slam, speech) starting at the given loop times."""

    at_s: tuple[float, ...] = (5.0,)
    duration_s: float = 2.0  # speech only; gunshots and door slams have a fixed length

    def __post_init__(self) -> None:
        if not self.at_s or any(t < 0 for t in self.at_s):
            raise ValueError("at_s must list at least one time >= 0")
        if not 0.2 <= self.duration_s <= 30:
            raise ValueError("duration_s must be between 0.2 and 30 seconds")


@dataclass(frozen=True, slots=True)
class SceneConfig:
    """Everything that happens in one camera's loop. Name-less on purpose: the camera name
    is a separate input, so cameras with identical scenes can share one encoded loop."""

    loop_seconds: int = 60
    vehicle: VehicleScene | None = None
    person: PersonScene | None = None
    gunshot: SoundScene | None = None
    speech: SoundScene | None = None
    door_slam: SoundScene | None = None
    noise_level: float = 0.01  # background noise RMS, full scale = 1.0
    # Stream drop emulation (handled by StreamDropper, not baked into the media).
    drop_every_s: float | None = None
    down_s: float = 5.0

    def __post_init__(self) -> None:
        if not 1 <= self.loop_seconds <= 600:
            raise ValueError("loop_seconds must be between 1 and 600")
        if not 0 <= self.noise_level <= 0.2:
            raise ValueError("noise_level must be between 0 and 0.2")
        if self.drop_every_s is not None and not 0 < self.down_s < self.drop_every_s:
            raise ValueError("need 0 < down_s < drop_every_s")
        for event in self.events():
            if event.end_s > self.loop_seconds:
                raise ValueError(
                    f"{event.kind} at {event.start_s}s ends after the {self.loop_seconds}s loop"
                )

    def events(self) -> list[SceneEvent]:
        """All scene events of one loop, sorted by start time."""
        found: list[SceneEvent] = []
        if self.vehicle is not None:
            v = self.vehicle
            for start in _repeats(v.first_at_s, v.every_s, v.crossing_s, self.loop_seconds):
                found.append(SceneEvent("vehicle", start, start + v.crossing_s, {"plate": v.plate}))
        if self.person is not None:
            p = self.person
            for start in _repeats(p.first_at_s, p.every_s, p.crossing_s, self.loop_seconds):
                found.append(SceneEvent("person", start, start + p.crossing_s))
        for kind, sound, length in (
            ("gunshot", self.gunshot, GUNSHOT_SECONDS),
            ("door_slam", self.door_slam, DOOR_SLAM_SECONDS),
            ("speech", self.speech, None),
        ):
            if sound is not None:
                seconds = sound.duration_s if length is None else length
                for start in sound.at_s:
                    found.append(SceneEvent(kind, start, start + seconds))  # type: ignore[arg-type]
        return sorted(found, key=lambda e: (e.start_s, e.kind))

    @property
    def has_audio_events(self) -> bool:
        return any(s is not None for s in (self.gunshot, self.speech, self.door_slam))

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> SceneConfig:
        """Build from a TOML table, e.g. ``{"vehicle": {"plate": "ABC 123"},
        "gunshot": {"at_s": [5, 35]}}``. Unknown keys are an error."""
        nested: dict[str, type[Any]] = {
            "vehicle": VehicleScene,
            "person": PersonScene,
            "gunshot": SoundScene,
            "speech": SoundScene,
            "door_slam": SoundScene,
        }
        _reject_unknown(cls, raw, "scene")
        values: dict[str, Any] = {}
        for key, value in raw.items():
            if key in nested and value is not None:
                if not isinstance(value, Mapping):
                    raise ValueError(f"scene.{key} must be a table")
                _reject_unknown(nested[key], value, f"scene.{key}")
                sub = dict(value)
                if "at_s" in sub:
                    sub["at_s"] = tuple(float(t) for t in sub["at_s"])
                values[key] = nested[key](**sub)
            else:
                values[key] = value
        return cls(**values)


def _reject_unknown(kind: type[Any], raw: Mapping[str, Any], where: str) -> None:
    known = {f.name for f in fields(kind)}
    unknown = set(raw) - known
    if unknown:
        raise ValueError(f"unknown keys in {where}: {sorted(unknown)}; known: {sorted(known)}")


def _check_repeat(every_s: float, crossing_s: float, first_at_s: float) -> None:
    if not 0.5 <= crossing_s <= every_s:
        raise ValueError("need 0.5 <= crossing_s <= every_s")
    if first_at_s < 0:
        raise ValueError("first_at_s must be >= 0")


def _repeats(first: float, every: float, length: float, loop_seconds: int) -> list[float]:
    starts: list[float] = []
    start = first
    while start + length <= loop_seconds + 1e-9:
        starts.append(start)
        start += every
    return starts
