"""The plug-in's settings: the ``[plugins.gunshot]`` table, checked once.

Every problem is a ``ConfigError`` naming the key, so the operator reads
``plugins.gunshot.<key>: <what is wrong>``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from vms_sdk import ConfigError

from vms_plugin_gunshot.detector import DetectorSettings

MIN_SECRET_CHARS = 16
_KNOWN_KEYS = {
    "secret",
    "replay_window_s",
    "radius_m",
    "bookmark_before_s",
    "bookmark_after_s",
    "notify_channels",
    "presets",
    "audio_detection",
    "audio_cameras",
    "audio_margin_db",
    "audio_merge_s",
}


@dataclass(frozen=True, slots=True)
class PresetPosition:
    """A PTZ preset of one camera and the spot on the map it looks at."""

    preset: str
    lat: float
    lon: float


@dataclass(frozen=True, slots=True)
class GunshotSettings:
    """Checked settings. ``secret`` is ``None`` when the webhook is not set up."""

    secret: str | None = None
    replay_window_s: float = 300.0
    radius_m: float = 200.0
    bookmark_before_s: float = 30.0
    bookmark_after_s: float = 120.0
    notify_channels: tuple[str, ...] = ()
    # camera name or id -> its presets with positions
    presets: Mapping[str, tuple[PresetPosition, ...]] = field(default_factory=dict)
    audio_detection: bool = True
    audio_cameras: tuple[str, ...] | None = None
    audio_merge_s: float = 10.0
    detector: DetectorSettings = field(default_factory=DetectorSettings)


def parse_settings(config: Mapping[str, Any]) -> GunshotSettings:
    """``GunshotSettings`` from the plug-in's table; raises ``ConfigError``."""
    for key in config:
        if key not in _KNOWN_KEYS:
            raise ConfigError(key, f"unknown setting (known: {', '.join(sorted(_KNOWN_KEYS))})")
    secret = config.get("secret")
    if secret is not None and (not isinstance(secret, str) or len(secret) < MIN_SECRET_CHARS):
        raise ConfigError("secret", f"must be a string of at least {MIN_SECRET_CHARS} characters")
    audio_cameras = config.get("audio_cameras")
    if audio_cameras is not None:
        audio_cameras = tuple(str(c) for c in _list(config, "audio_cameras"))
    detector = DetectorSettings(
        margin_db=_positive(config, "audio_margin_db", DetectorSettings().margin_db)
    )
    audio = config.get("audio_detection", True)
    if not isinstance(audio, bool):
        raise ConfigError("audio_detection", "must be true or false")
    return GunshotSettings(
        secret=secret,
        replay_window_s=_positive(config, "replay_window_s", 300.0),
        radius_m=_positive(config, "radius_m", 200.0),
        bookmark_before_s=_positive(config, "bookmark_before_s", 30.0),
        bookmark_after_s=_positive(config, "bookmark_after_s", 120.0),
        notify_channels=tuple(str(c) for c in _list(config, "notify_channels")),
        presets=_presets(config.get("presets", {})),
        audio_detection=audio,
        audio_cameras=audio_cameras,
        audio_merge_s=_positive(config, "audio_merge_s", 10.0),
        detector=detector,
    )


def _positive(config: Mapping[str, Any], key: str, default: float) -> float:
    value = config.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ConfigError(key, f"must be a positive number, got {value!r}")
    return float(value)


def _list(config: Mapping[str, Any], key: str) -> list[Any]:
    value = config.get(key, [])
    if not isinstance(value, list | tuple):
        raise ConfigError(key, "must be a list")
    return list(value)


def _presets(raw: Any) -> dict[str, tuple[PresetPosition, ...]]:
    if not isinstance(raw, Mapping):
        raise ConfigError("presets", 'must be a table: presets."<camera>".<preset> = [lat, lon]')
    out: dict[str, tuple[PresetPosition, ...]] = {}
    for camera, table in raw.items():
        if not isinstance(table, Mapping):
            raise ConfigError(f"presets.{camera}", "must be a table: <preset> = [lat, lon]")
        positions = []
        for preset, where in table.items():
            key = f"presets.{camera}.{preset}"
            if (
                not isinstance(where, list | tuple)
                or len(where) != 2
                or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in where)
            ):
                raise ConfigError(key, "must be [lat, lon]")
            lat, lon = float(where[0]), float(where[1])
            if not (-90 <= lat <= 90 and -180 <= lon <= 180):
                raise ConfigError(key, "latitude must be in [-90, 90], longitude in [-180, 180]")
            positions.append(PresetPosition(str(preset), lat, lon))
        out[str(camera)] = tuple(positions)
    return out
