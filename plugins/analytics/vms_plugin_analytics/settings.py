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

from typing import Annotated, Literal

from pydantic import Field, field_validator
from vms_sdk.settings import Flag, Number, PluginSettings

Fraction = Annotated[Number, Field(ge=0, le=1)]
Point = tuple[Fraction, Fraction]
Polygon = Annotated[tuple[Point, ...], Field(min_length=3)]


class Zone(PluginSettings):
    name: str = ""
    polygon: Polygon


class Line(PluginSettings):
    name: str = ""
    a: Point
    b: Point


class CameraRules(PluginSettings):
    """What to look for on one camera."""

    sensitivity: Fraction = 0.5  # 0: only large motion counts, 1: the slightest
    motion: Flag = True
    motion_zones: tuple[Polygon, ...] = ()  # empty: the whole picture
    masks: tuple[Polygon, ...] = ()
    restricted_zones: tuple[Zone, ...] = ()
    lines: tuple[Line, ...] = ()

    @field_validator("restricted_zones")
    @classmethod
    def _zone_names(cls, zones: tuple[Zone, ...]) -> tuple[Zone, ...]:
        return tuple(
            z if z.name else z.model_copy(update={"name": f"zone {i + 1}"})
            for i, z in enumerate(zones)
        )

    @field_validator("lines")
    @classmethod
    def _line_names(cls, lines: tuple[Line, ...]) -> tuple[Line, ...]:
        return tuple(
            x if x.name else x.model_copy(update={"name": f"line {i + 1}"})
            for i, x in enumerate(lines)
        )

    @property
    def wants_people(self) -> bool:
        return bool(self.restricted_zones or self.lines)


class AnalyticsSettings(PluginSettings):
    fps: Annotated[Number, Field(ge=0.1, le=30)] = 2.0
    stream: Literal["sub", "main"] = "sub"
    all_cameras: Flag = True  # motion on cameras without their own table too
    # Look for people this often even when nothing moves.
    person_every_s: Annotated[Number, Field(ge=0.5, le=3600)] = 5.0
    # One intrusion event per zone/line and person this often.
    cooldown_s: Annotated[Number, Field(ge=0, le=86400)] = 30.0
    cameras: dict[str, CameraRules] = Field(default_factory=dict)

    def rules(self, camera_id: str) -> CameraRules | None:
        found = self.cameras.get(camera_id)
        if found is None and self.all_cameras:
            return CameraRules()
        return found
