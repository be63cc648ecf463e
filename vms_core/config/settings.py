"""Typed settings for vms.toml.

Every section is a pydantic model that forbids unknown keys, so a typo is an error that
names the key rather than a setting silently ignored.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

CAMERA_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
PLUGIN_NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
SeverityName = Literal["info", "low", "medium", "high", "critical"]


class Section(BaseModel):
    # TOML has inf and nan; no setting means either.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


def _check_url(value: str, schemes: tuple[str, ...]) -> str:
    expected = " or ".join(f"{s}://" for s in schemes)
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 (raises ValueError for a port that is not 0-65535)
    except ValueError as exc:  # "rtsp://[::1": an unclosed IPv6 bracket
        raise ValueError(f'expected an {expected} URL, got "{value[:200]}" ({exc})') from None
    if parts.scheme not in schemes or not parts.hostname:
        raise ValueError(f'expected an {expected} URL, got "{value[:200]}"')
    return value


_DEFAULT_PORTS = {"http": 80, "https": 443}


def canonical_origin(value: str) -> str:
    """``scheme://host[:port]`` in the form browsers send in ``Origin`` (lower case, no
    default port); ``ValueError`` for anything that is not an http(s) origin."""
    try:
        parts = urlsplit(value.strip())
        port = parts.port
    except ValueError:
        raise ValueError(
            f'expected an origin like "https://player.example.org", got "{value}"'
        ) from None
    if (
        parts.scheme not in _DEFAULT_PORTS
        or not parts.hostname
        or parts.username is not None
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
    ):
        raise ValueError(
            f'expected an origin like "https://player.example.org" (scheme, host and '
            f'port only), got "{value}"'
        )
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    if port is not None and port != _DEFAULT_PORTS[parts.scheme]:
        host = f"{host}:{port}"
    return f"{parts.scheme}://{host}"


class ServerSettings(Section):
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    data_dir: Path = Path("data")
    public_url: str = ""
    max_request_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    session_hours: float = Field(default=12.0, gt=0)
    # Web pages on other origins allowed to use live view (WHEP) with a bearer token.
    cors_origins: list[str] = Field(default_factory=list)

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str) -> str:
        return _check_url(value, ("http", "https")) if value else value

    @field_validator("cors_origins")
    @classmethod
    def _cors_origins(cls, value: list[str]) -> list[str]:
        return [canonical_origin(origin) for origin in value]


class DatabaseSettings(Section):
    # Empty means SQLite in the data directory.
    url: str = ""

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        if value and not value.startswith(("sqlite", "postgresql")):
            raise ValueError(f'expected a sqlite:// or postgresql:// URL, got "{value}"')
        return value


class StorageSettings(Section):
    recordings_dir: Path = Path("recordings")
    segment_seconds: float = Field(default=60.0, ge=1.0, le=3600.0)


# A century of recordings, and any byte count a signed 64-bit column holds.
MAX_RETENTION_DAYS = 36_525.0
MAX_BYTES = 2**63 - 1


class RetentionLimits(Section):
    """Per-camera override: any limit left out falls back to [retention]."""

    max_days: float | None = Field(default=None, gt=0, le=MAX_RETENTION_DAYS)
    max_bytes: int | None = Field(default=None, gt=0, le=MAX_BYTES)


class RetentionSettings(Section):
    max_days: float = Field(default=30.0, gt=0)
    # 0 means no total byte limit; the free-disk floor still applies.
    max_bytes: int = Field(default=0, ge=0)
    min_free_bytes: int = Field(default=1024**3, ge=0)
    interval_seconds: float = Field(default=30.0, gt=0)


class CameraSettings(Section):
    name: str
    # Lengths are the catalog's columns (PostgreSQL refuses longer values).
    onvif_url: str | None = Field(default=None, max_length=512)
    rtsp_url: str | None = Field(default=None, max_length=1024)
    sub_rtsp_url: str | None = Field(default=None, max_length=1024)
    username: str = Field(default="", max_length=128)
    password: str = Field(default="", max_length=1024)
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    heading: float | None = Field(default=None, ge=0, lt=360)
    fov: float | None = Field(default=None, gt=0, le=360)
    enabled: bool = True
    record: bool = True
    retention: RetentionLimits | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not CAMERA_NAME_RE.match(value):
            raise ValueError(
                f'expected 1-64 letters, digits, "_", "-" or "." (no spaces), got "{value}"'
            )
        return value

    @field_validator("rtsp_url", "sub_rtsp_url")
    @classmethod
    def _rtsp(cls, value: str | None) -> str | None:
        return None if value is None else _check_url(value, ("rtsp", "rtsps"))

    @field_validator("onvif_url")
    @classmethod
    def _onvif(cls, value: str | None) -> str | None:
        return None if value is None else _check_url(value, ("http", "https"))

    @model_validator(mode="after")
    def _has_source(self) -> CameraSettings:
        if not self.onvif_url and not self.rtsp_url:
            raise ValueError("a camera needs onvif_url or rtsp_url")
        return self


class PluginHostSettings(Section):
    # Folders scanned for plug-ins besides the `vms.plugins` entry points.
    dirs: list[Path] = Field(default_factory=list)
    call_timeout_seconds: float = Field(default=2.0, gt=0)
    # Calls failing in a row before the plug-in's runner is restarted.
    max_consecutive_failures: int = Field(default=5, ge=1)
    # Each plug-in runs in a process of its own with these limits (a plug-in's table may
    # set memory_mb for itself).
    memory_mb: int = Field(default=2048, ge=0)  # address space; 0: no limit
    max_threads: int = Field(default=64, ge=4)
    heartbeat_seconds: float = Field(default=3.0, gt=0)
    # Restarts in a row (without a minute of calm) before a plug-in is quarantined.
    max_restarts: int = Field(default=3, ge=0)
    restart_backoff_seconds: float = Field(default=1.0, ge=0)
    # The user runners run as when the server runs as root ("nobody" if it is missing).
    user: str = "vms-plugin"
    # Confine runners with Landlock where the kernel has it.
    landlock: bool = True
    # A runner using more of a core than this, on average over the window, is restarted.
    max_cpu_percent: float = Field(default=100.0, ge=0)  # 0: no limit
    cpu_window_seconds: float = Field(default=30.0, gt=0)
    # Largest request body a plug-in route accepts; the host answers 413 above it.
    max_body_bytes: int = Field(default=4 * 1024 * 1024, ge=1024)


class RuleAction(Section):
    type: Literal["bookmark", "notify", "ptz_preset"]
    # bookmark
    before_seconds: float = Field(default=30.0, ge=0, le=86_400)
    after_seconds: float = Field(default=120.0, ge=0, le=86_400)
    radius_m: float | None = Field(default=None, gt=0)
    lock: bool = False
    # notify
    channel: str | None = None
    # ptz_preset
    camera: str | None = None
    preset: str | None = None

    @model_validator(mode="after")
    def _needs(self) -> RuleAction:
        if self.type == "notify" and not self.channel:
            raise ValueError("a notify action needs channel")
        if self.type == "ptz_preset" and not (self.camera and self.preset):
            raise ValueError("a ptz_preset action needs camera and preset")
        return self


class RuleSettings(Section):
    name: str
    # Event type pattern, shell-style: "gunshot.*", "lpr.hotlist_hit".
    match: str
    min_severity: SeverityName = "info"
    actions: list[RuleAction] = Field(min_length=1)


class OnvifSettings(Section):
    # Every ONVIF call (connect, profiles, PTZ, snapshot) gives up after this long.
    timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    # Cameras that are unreachable or in error are checked again this often.
    recheck_seconds: float = Field(default=60.0, ge=5)
    # Listen for WS-Discovery Hello/Bye on every multicast interface while running.
    listen_for_hello: bool = True
    # Read cameras' own motion/tamper events (PullPoint) into the event bus.
    events: bool = True


class AlarmSettings(Section):
    # Events at or above this severity enter the alarm queue.
    min_severity: SeverityName = "high"
    # A picture of the event's camera at the event's time, kept with each alarm.
    thumbnails: bool = True
    thumbnail_width: int = Field(default=320, ge=64, le=1280)
    thumbnail_max_bytes: int = Field(default=48 * 1024, ge=4096, le=1024 * 1024)
    # The newest this many thumbnails are kept (closed alarms' go first).
    max_thumbnails: int = Field(default=20_000, ge=1)


class UserSettings(Section):
    """Defaults for new accounts (`vms users add`, POST /api/users)."""

    # Cameras a new viewer or operator sees when none are named: "all" (every camera,
    # those added later too), "none", or a list of camera names.
    default_cameras: Literal["all", "none"] | list[str] = "all"

    @field_validator("default_cameras")
    @classmethod
    def _names(cls, value: str | list[str]) -> str | list[str]:
        if isinstance(value, list):
            for name in value:
                if not CAMERA_NAME_RE.match(name):
                    raise ValueError(f'expected camera names, "all" or "none", got "{name}"')
        return value


class EvidenceSettings(Section):
    # Locks taken automatically (by a rule or a plug-in, e.g. around a gunshot) end after
    # this many days unless a person locks the bookmark again; 0: they never end.
    automatic_lock_days: float = Field(default=30.0, ge=0)


class DemoSettings(Section):
    cameras: int = Field(default=4, ge=1, le=64)
    # Fixed ports keep the simulated cameras' URLs the same from one run to the next.
    onvif_base_port: int = Field(default=8100, ge=1, le=65535)
    rtsp_port: int = Field(default=8554, ge=1, le=65535)
    # Main stream of each simulated camera (the sub stream is 640x360).
    main_width: int = Field(default=1280, ge=160, le=3840, multiple_of=2)
    main_height: int = Field(default=720, ge=90, le=2160, multiple_of=2)
    # The demo's automatic locks (a simulated gunshot every minute) end after this long,
    # so a demo left running never locks all of its recordings.
    automatic_lock_minutes: float = Field(default=30.0, gt=0)


class WebRtcSettings(Section):
    # Loopback ICE candidates: "auto" (only when there is no other address), "include", "only".
    ice_loopback: Literal["auto", "include", "only"] = "auto"
    connect_timeout_seconds: float = Field(default=30.0, gt=0)
    # Live views one user may hold at once (a 16-tile wall and a camera page on each of
    # two screens fit), and the server in all.
    max_sessions_per_user: int = Field(default=32, ge=1)
    max_sessions: int = Field(default=256, ge=1)


PluginTable = dict[str, Any]


class Settings(Section):
    server: ServerSettings = ServerSettings()
    database: DatabaseSettings = DatabaseSettings()
    storage: StorageSettings = StorageSettings()
    retention: RetentionSettings = RetentionSettings()
    cameras: list[CameraSettings] = Field(default_factory=list)
    plugin_host: PluginHostSettings = PluginHostSettings()
    plugins: dict[Annotated[str, Field(pattern=PLUGIN_NAME_RE.pattern)], PluginTable] = Field(
        default_factory=dict
    )
    rules: list[RuleSettings] = Field(default_factory=list)
    demo: DemoSettings = DemoSettings()
    onvif: OnvifSettings = OnvifSettings()
    webrtc: WebRtcSettings = WebRtcSettings()
    alarms: AlarmSettings = AlarmSettings()
    users: UserSettings = UserSettings()
    evidence: EvidenceSettings = EvidenceSettings()

    # Set by the loader: the folder relative paths are resolved against.
    base_dir: Path = Field(default=Path("."), exclude=True)

    # Derived paths, all absolute.
    @property
    def data_dir(self) -> Path:
        return (self.base_dir / self.server.data_dir).resolve()

    @property
    def recordings_dir(self) -> Path:
        return (self.base_dir / self.storage.recordings_dir).resolve()

    @property
    def database_url(self) -> str:
        return self.database.url or f"sqlite:///{self.data_dir / 'vms.db'}"

    @property
    def plugin_dirs(self) -> list[Path]:
        return [(self.base_dir / d).resolve() for d in self.plugin_host.dirs]

    def camera(self, name: str) -> CameraSettings | None:
        return next((c for c in self.cameras if c.name == name), None)
