"""Configuration of the simulated cameras: a TOML file, or defaults for N cameras.

Example file::

    host = "127.0.0.1"
    base_port = 8100            # camera i serves ONVIF on base_port + i; 0 = any free ports

    [[cameras]]
    name = "main-st-north"
    password = "secret"
    ptz = true
    lat = 40.7128
    lon = -74.006
    main = { width = 320, height = 180, fps = 10, codec = "H264" }
"""

from __future__ import annotations

import tomllib
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

VideoCodecName = Literal["H264", "H265"]
AudioCodecName = Literal["AAC", "PCMU", "none"]

# Namespace for the stable per-camera EndpointReference uuid (uuid5 of the camera name).
_ENDPOINT_NAMESPACE = uuid.UUID("6f1c2d3e-5a4b-4c8d-9e0f-a1b2c3d4e5f6")


class SimulatorConfigError(Exception):
    """The simulator configuration cannot be used; ``problems`` name the key paths."""

    def __init__(self, source: str, problems: Sequence[str]) -> None:
        self.source = source
        self.problems = list(problems)
        super().__init__(f"{source}: " + "; ".join(self.problems))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class VideoProfileConfig(_Strict):
    width: int = Field(ge=64, le=7680, multiple_of=2)
    height: int = Field(ge=64, le=4320, multiple_of=2)
    fps: int = Field(default=10, ge=1, le=60)
    codec: VideoCodecName = "H264"
    bitrate_kbps: int = Field(default=1000, ge=10)
    # Keyframe interval; fps * gop_seconds must be whole frames and divide the scene loop.
    gop_seconds: float = Field(default=1.0, gt=0)

    @property
    def gop_frames(self) -> int:
        return round(self.fps * self.gop_seconds)


def _default_scene() -> dict[str, Any]:
    return {
        "loop_seconds": 60,
        "vehicle": {"plate": "VMS 123"},
        "person": {},
        "gunshot": {"at_s": [40.0]},
        "speech": {"at_s": [20.0]},
    }


class PresetConfig(_Strict):
    token: str
    name: str
    pan: float = Field(default=0.0, ge=-1, le=1)
    tilt: float = Field(default=0.0, ge=-1, le=1)
    zoom: float = Field(default=0.0, ge=0, le=1)


def _default_presets() -> list[PresetConfig]:
    return [
        PresetConfig(token="1", name="Home"),  # noqa: S106 -- a preset token
        PresetConfig(token="2", name="Crossing", pan=0.5, tilt=-0.2, zoom=0.3),  # noqa: S106
    ]


class CameraConfig(_Strict):
    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9._-]+$")
    username: str = "admin"
    password: str = "pass"  # noqa: S105 -- a simulated camera's password
    manufacturer: str = "Axis"
    model: str = "P3245-LVE"
    firmware: str = "10.12.165"
    serial: str | None = None
    ptz: bool = False
    presets: list[PresetConfig] = Field(default_factory=_default_presets)
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    heading: float | None = Field(default=None, ge=0, lt=360)
    location: str | None = None
    main: VideoProfileConfig = VideoProfileConfig(width=1920, height=1080, fps=15)
    sub: VideoProfileConfig = VideoProfileConfig(width=640, height=360, fps=10)
    audio: AudioCodecName = "AAC"
    # What happens in the picture and the sound: a table for media.SceneConfig.from_dict,
    # e.g. {loop_seconds = 30, vehicle = {plate = "ABC 123"}, gunshot = {at_s = [5]}}.
    scene: dict[str, Any] = Field(default_factory=_default_scene)
    # Burn the camera name into the picture. False lets cameras with the same profiles and
    # scene share one encoded loop (faster first start with many cameras).
    show_name: bool = True
    # Emulated network drops: every drop_every_s, clients are cut off for down_s.
    drop_every_s: float | None = Field(default=None, gt=0)
    down_s: float = Field(default=5.0, gt=0)
    reject_password: bool = False
    # GetSystemDateAndTime only with a login: HTTP 401 without one, as many real cameras do.
    clock_needs_login: bool = False
    # The snapshot URL answers HTTP 503 (a camera whose JPEG encoder is busy or broken).
    snapshot_fails: bool = False
    # PullMessages answers at once, ignoring the Timeout the client asked it to wait (a
    # client that polls again on every answer then floods the camera).
    pull_answers_at_once: bool = False
    clock_skew_s: float = 0.0
    # Port of this camera's ONVIF HTTP server; None = base_port + index (or any if 0).
    onvif_port: int | None = Field(default=None, ge=0, le=65535)

    @model_validator(mode="after")
    def _media_consistent(self) -> CameraConfig:
        if self.drop_every_s is not None and self.down_s >= self.drop_every_s:
            raise ValueError("down_s must be shorter than drop_every_s")
        # Import here: the media package pulls in PyAV, which config readers may not need.
        from vms_core.simulator.media import SceneConfig

        try:
            loop_seconds = SceneConfig.from_dict(self.scene).loop_seconds
        except (TypeError, ValueError) as err:
            raise ValueError(f"scene: {err}") from None
        for label, video in (("main", self.main), ("sub", self.sub)):
            if abs(video.gop_frames - video.fps * video.gop_seconds) > 1e-6:
                raise ValueError(f"{label}: fps * gop_seconds must be a whole number of frames")
            if (loop_seconds * video.fps) % video.gop_frames:
                raise ValueError(
                    f"{label}: the {loop_seconds}s scene loop must hold whole GOPs "
                    f"of {video.gop_frames} frames"
                )
        return self

    @property
    def endpoint_reference(self) -> str:
        return f"urn:uuid:{uuid.uuid5(_ENDPOINT_NAMESPACE, self.name)}"

    @property
    def serial_number(self) -> str:
        return self.serial or uuid.uuid5(_ENDPOINT_NAMESPACE, self.name).hex[:12].upper()


class SimulatorConfig(_Strict):
    host: str = "127.0.0.1"
    # Address put in URLs handed out when clients reach us through another name (NAT, docker).
    advertise_host: str | None = None
    base_port: int = Field(default=0, ge=0, le=65535)
    rtsp_port: int = Field(default=0, ge=0, le=65535)
    discovery: bool = True
    # Unicast port of the WS-Discovery target; multicast is always group:3702.
    discovery_port: int = Field(default=3702, ge=0, le=65535)
    # Hello/Bye and listening on 239.255.255.250, on the interface of ``host`` only.
    discovery_multicast: bool = True
    # Encoded media loops are kept here between runs; None = encode at every start.
    cache_dir: Path | None = None
    # False: ONVIF and discovery only, no RTSP media (fast, for tests of the SOAP side).
    media: bool = True
    cameras: list[CameraConfig] = Field(default_factory=list)

    @model_validator(mode="after")
    def _names_unique(self) -> SimulatorConfig:
        seen: set[str] = set()
        for camera in self.cameras:
            if camera.name in seen:
                raise ValueError(f"camera name {camera.name!r} is used twice")
            seen.add(camera.name)
        return self


def default_cameras(count: int) -> list[CameraConfig]:
    """``sim-cam-1..N``, user admin, password ``pass-<i>``; camera 1 has PTZ."""
    return [
        CameraConfig(name=f"sim-cam-{i}", password=f"pass-{i}", ptz=(i == 1))
        for i in range(1, count + 1)
    ]


def _format_loc(loc: Sequence[str | int]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out or "(top level)"


def parse_config(data: dict[str, Any], source: str = "<config>") -> SimulatorConfig:
    try:
        return SimulatorConfig.model_validate(data)
    except ValidationError as err:
        problems = [f"{_format_loc(e['loc'])}: {e['msg']}" for e in err.errors()]
        raise SimulatorConfigError(source, problems) from None


def load_config(path: Path) -> SimulatorConfig:
    """Read a TOML file; any problem raises SimulatorConfigError naming the key path."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise SimulatorConfigError(str(path), [f"cannot read: {err.strerror}"]) from None
    except tomllib.TOMLDecodeError as err:
        raise SimulatorConfigError(str(path), [f"not valid TOML: {err}"]) from None
    return parse_config(data, str(path))
