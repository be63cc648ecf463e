"""The plug-in's settings: the ``[plugins.gunshot]`` table, checked once.

Every problem is a ``ConfigError`` naming the key, so the operator reads
``plugins.gunshot.<key>: <what is wrong>``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated

from pydantic import Field
from vms_sdk.settings import CameraRef, Flag, Number, PluginSettings, PositiveNumber

from vms_plugin_gunshot.detector import DetectorSettings

MIN_SECRET_CHARS = 16
Latitude = Annotated[Number, Field(ge=-90, le=90)]
Longitude = Annotated[Number, Field(ge=-180, le=180)]


@dataclass(frozen=True, slots=True)
class PresetPosition:
    """A PTZ preset of one camera and the spot on the map it looks at."""

    preset: str
    lat: float
    lon: float


class GunshotSettings(PluginSettings):
    """Checked settings. ``secret`` is ``None`` when the webhook is not set up."""

    secret: Annotated[str, Field(min_length=MIN_SECRET_CHARS)] | None = None
    replay_window_s: PositiveNumber = 300.0
    radius_m: PositiveNumber = 200.0
    bookmark_before_s: PositiveNumber = 30.0
    bookmark_after_s: PositiveNumber = 120.0
    notify_channels: tuple[str, ...] = ()
    # presets."<camera name or id>".<preset> = [lat, lon]
    preset_spots: dict[str, dict[str, tuple[Latitude, Longitude]]] = Field(
        default_factory=dict, alias="presets"
    )
    audio_detection: Flag = True
    audio_cameras: tuple[CameraRef, ...] | None = None
    audio_margin_db: PositiveNumber = DetectorSettings().margin_db
    audio_merge_s: PositiveNumber = 10.0

    @property
    def presets(self) -> Mapping[str, tuple[PresetPosition, ...]]:
        """Camera name or id -> its presets with positions."""
        return {
            camera: tuple(PresetPosition(p, lat, lon) for p, (lat, lon) in table.items())
            for camera, table in self.preset_spots.items()
        }

    @property
    def detector(self) -> DetectorSettings:
        return DetectorSettings(margin_db=self.audio_margin_db)


def parse_settings(config: Mapping[str, object]) -> GunshotSettings:
    """``GunshotSettings`` from the plug-in's table; raises ``ConfigError``."""
    return GunshotSettings.parse(config)
