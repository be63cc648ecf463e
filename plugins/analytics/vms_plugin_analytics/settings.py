"""``[plugins.analytics]`` settings, checked once in ``vms_configure``.

Geometry is given in fractions of the picture (0.0-1.0, x to the right, y down), so it
stays right whatever resolution the frames arrive at::

    [plugins.analytics]
    fps = 2
    [plugins.analytics.cameras.cam1]
    sensitivity = 0.6
    motion_zones = [[[0, 0.3], [1, 0.3], [1, 1], [0, 1]]]   # where motion counts
    masks = [[[0.8, 0], [1, 0], [1, 0.2], [0.8, 0.2]]]       # never counts (trees, clocks)
    restricted_zones = [{name = "rail yard", polygon = [[0.7, 0.5], [1, 0.5], [1, 1], [0.7, 1]]}]
    lines = [{name = "gate", a = [0.5, 0.4], b = [0.5, 1.0]}]
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from vms_sdk import ConfigError

Point = tuple[float, float]
Polygon = tuple[Point, ...]

_TOP_KEYS = {"fps", "stream", "all_cameras", "cameras", "person_every_s", "cooldown_s"}
_CAMERA_KEYS = {"sensitivity", "motion_zones", "masks", "restricted_zones", "lines", "motion"}


@dataclass(frozen=True, slots=True)
class Zone:
    name: str
    polygon: Polygon


@dataclass(frozen=True, slots=True)
class Line:
    name: str
    a: Point
    b: Point


@dataclass(frozen=True, slots=True)
class CameraRules:
    """What to look for on one camera."""

    sensitivity: float = 0.5  # 0: only large motion counts, 1: the slightest
    motion: bool = True
    motion_zones: tuple[Polygon, ...] = ()  # empty: the whole picture
    masks: tuple[Polygon, ...] = ()
    restricted_zones: tuple[Zone, ...] = ()
    lines: tuple[Line, ...] = ()

    @property
    def wants_people(self) -> bool:
        return bool(self.restricted_zones or self.lines)


@dataclass(frozen=True, slots=True)
class AnalyticsSettings:
    fps: float = 2.0
    stream: str = "sub"
    all_cameras: bool = True  # motion on cameras without their own table too
    person_every_s: float = 5.0  # look for people this often even when nothing moves
    cooldown_s: float = 30.0  # one intrusion event per zone/line and person this often
    cameras: Mapping[str, CameraRules] = field(default_factory=dict)

    def rules(self, camera_id: str) -> CameraRules | None:
        found = self.cameras.get(camera_id)
        if found is None and self.all_cameras:
            return CameraRules()
        return found

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> AnalyticsSettings:
        _unknown(raw, _TOP_KEYS, "")
        values: dict[str, Any] = {k: v for k, v in raw.items() if k != "cameras"}
        _number(values, "fps", 0.1, 30, "fps")
        _number(values, "person_every_s", 0.5, 3600, "person_every_s")
        _number(values, "cooldown_s", 0, 86400, "cooldown_s")
        if values.get("stream", "sub") not in ("sub", "main"):
            raise ConfigError("stream", "'sub' or 'main'")
        if not isinstance(values.get("all_cameras", True), bool):
            raise ConfigError("all_cameras", "true or false")
        cameras = raw.get("cameras", {})
        if not isinstance(cameras, Mapping):
            raise ConfigError("cameras", "a table of camera id = rules")
        values["cameras"] = {
            str(cid): _camera(rules, f"cameras.{cid}") for cid, rules in cameras.items()
        }
        return cls(**values)


def _camera(raw: Any, where: str) -> CameraRules:
    if not isinstance(raw, Mapping):
        raise ConfigError(where, "a table of rules")
    _unknown(raw, _CAMERA_KEYS, where + ".")
    values: dict[str, Any] = {}
    if "sensitivity" in raw:
        values["sensitivity"] = raw["sensitivity"]
        _number(values, "sensitivity", 0.0, 1.0, f"{where}.sensitivity")
    if "motion" in raw:
        if not isinstance(raw["motion"], bool):
            raise ConfigError(f"{where}.motion", "true or false")
        values["motion"] = raw["motion"]
    for key in ("motion_zones", "masks"):
        if key in raw:
            items = _list(raw[key], f"{where}.{key}")
            values[key] = tuple(_polygon(p, f"{where}.{key}[{i}]") for i, p in enumerate(items))
    if "restricted_zones" in raw:
        zones = []
        for i, item in enumerate(_list(raw["restricted_zones"], f"{where}.restricted_zones")):
            at = f"{where}.restricted_zones[{i}]"
            if not isinstance(item, Mapping) or "polygon" not in item:
                raise ConfigError(at, "a table with name and polygon")
            zones.append(
                Zone(str(item.get("name", f"zone {i + 1}")), _polygon(item["polygon"], at))
            )
        values["restricted_zones"] = tuple(zones)
    if "lines" in raw:
        lines = []
        for i, item in enumerate(_list(raw["lines"], f"{where}.lines")):
            at = f"{where}.lines[{i}]"
            if not isinstance(item, Mapping) or "a" not in item or "b" not in item:
                raise ConfigError(at, "a table with name, a and b")
            lines.append(
                Line(
                    str(item.get("name", f"line {i + 1}")),
                    _point(item["a"], at),
                    _point(item["b"], at),
                )
            )
        values["lines"] = tuple(lines)
    return CameraRules(**values)


def _unknown(raw: Mapping[str, Any], known: set[str], prefix: str) -> None:
    for key in raw:
        if key not in known:
            raise ConfigError(
                f"{prefix}{key}", f"unknown setting; known: {', '.join(sorted(known))}"
            )


def _list(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise ConfigError(where, "a list")
    return value


def _point(value: Any, where: str) -> Point:
    if (
        not isinstance(value, list | tuple)
        or len(value) != 2
        or not all(isinstance(v, int | float) and 0 <= v <= 1 for v in value)
    ):
        raise ConfigError(where, "a point [x, y] with fractions 0..1 of the picture")
    return (float(value[0]), float(value[1]))


def _polygon(value: Any, where: str) -> Polygon:
    points = _list(value, where)
    if len(points) < 3:
        raise ConfigError(where, "a polygon needs at least 3 points")
    return tuple(_point(p, where) for p in points)


def _number(values: dict[str, Any], key: str, low: float, high: float, where: str) -> None:
    if key in values:
        value = values[key]
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not low <= value <= high
        ):
            raise ConfigError(where, f"a number from {low} to {high}")
        values[key] = float(value)
