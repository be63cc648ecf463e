"""Data types exchanged between the host and plug-ins.

Every type is a frozen dataclass: what the host hands to a plug-in cannot be changed
under another plug-in's feet, and what a plug-in hands back is a value, not a handle.
Times are timezone-aware UTC ``datetime`` values; naive times are rejected.
"""

from __future__ import annotations

import json as _json
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from vms_sdk.errors import Forbidden, HttpError, Unauthorized
from vms_sdk.geo import NearbyCamera, bearing_deg, cameras_near, haversine_m
from vms_sdk.jsonbody import parse_json
from vms_sdk.permissions import check_capability
from vms_sdk.version import API_VERSION

# numpy (about 16 MB) is only named in annotations here: a process that never sees a frame
# (the server with no plug-in that samples video) does not import it for these types.
if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

T = TypeVar("T")

__all__ = [
    "AudioChunk",
    "AudioSubscription",
    "Bookmark",
    "Camera",
    "DeliveryResult",
    "Detection",
    "Event",
    "Frame",
    "FrameSubscription",
    "HttpRequest",
    "HttpResponse",
    "NearbyCamera",
    "Notification",
    "PluginInfo",
    "Principal",
    "Role",
    "Route",
    "RouteHandler",
    "SegmentInfo",
    "Severity",
    "bearing_deg",
    "cameras_near",
    "haversine_m",
    "utc_now",
]


def utc_now() -> datetime:
    """The current time as an aware UTC ``datetime``."""
    return datetime.now(UTC)


def _require_aware(name: str, value: datetime) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware (UTC), got naive {value!r}")


def _freeze_ids(obj: object, name: str, value: Any) -> None:
    # Accept any iterable of ids (lists are convenient) but store a tuple: frozen means frozen.
    object.__setattr__(obj, name, tuple(str(v) for v in value))


class Severity(StrEnum):
    """How urgent an event or notification is, from least to most urgent."""

    INFO = "info"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        """0 for ``info`` up to 4 for ``critical``; compare severities with this."""
        return list(Severity).index(self)


# --------------------------------------------------------------------------- cameras


@dataclass(frozen=True, slots=True)
class Camera:
    """A camera as plug-ins see it.

    :ivar id: stable identifier used everywhere in the API.
    :ivar name: operator-facing name.
    :ivar lat: latitude in degrees (WGS84), or ``None`` when not placed on the map.
    :ivar lon: longitude in degrees, or ``None``.
    :ivar heading_deg: compass direction the lens points (0 = north, 90 = east), or ``None``.
    :ivar fov_deg: horizontal field of view in degrees, or ``None`` when unknown.
    :ivar state: ``"streaming"``, ``"connecting"``, ``"lost"`` or ``"disabled"``.
    :ivar has_ptz: whether the camera can pan/tilt/zoom.
    :ivar presets: names of the PTZ presets the camera offers.
    """

    id: str
    name: str
    lat: float | None = None
    lon: float | None = None
    heading_deg: float | None = None
    fov_deg: float | None = None
    state: str = "streaming"
    has_ptz: bool = False
    presets: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _freeze_ids(self, "presets", self.presets)


# --------------------------------------------------------------------------- events


@dataclass(frozen=True, slots=True)
class Event:
    """A fact about the world: a gunshot, a plate read, a camera going offline.

    :ivar type: dotted name, ``"<domain>.<what>"``, e.g. ``"gunshot.detected"``.
    :ivar time: when it happened (aware UTC), not when it was reported.
    :ivar camera_ids: cameras that saw it or should look at it (may be empty).
    :ivar lat: latitude of the event, or ``None``.
    :ivar lon: longitude of the event, or ``None``.
    :ivar severity: how urgent it is.
    :ivar source: who reported it; the host sets it to the plug-in's name on publish.
    :ivar data: free-form JSON-serialisable details (``{"rounds": 3}``).
    :ivar detections: objects found in the picture, if any.
    :ivar id: unique id; generated when not given.
    """

    type: str
    time: datetime = field(default_factory=utc_now)
    camera_ids: Sequence[str] = ()
    lat: float | None = None
    lon: float | None = None
    severity: Severity = Severity.INFO
    source: str = ""
    data: Mapping[str, Any] = field(default_factory=dict)
    detections: tuple[Detection, ...] = ()
    id: str = field(default_factory=lambda: uuid.uuid4().hex)

    def __post_init__(self) -> None:
        _require_aware("Event.time", self.time)
        _freeze_ids(self, "camera_ids", self.camera_ids)
        object.__setattr__(self, "severity", Severity(self.severity))
        object.__setattr__(self, "detections", tuple(self.detections))


@dataclass(frozen=True, slots=True)
class Detection:
    """An object found in a frame.

    :ivar label: what it is (``"person"``, ``"car"``, ``"plate:ABC123"``).
    :ivar confidence: 0.0 to 1.0.
    :ivar box: ``(x, y, w, h)`` as fractions of the frame's width and height (0.0 to 1.0),
        so it stays valid whatever resolution the frame was analysed at.
    """

    label: str
    confidence: float
    box: tuple[float, float, float, float] | None = None


@dataclass(frozen=True, slots=True)
class Bookmark:
    """A marked time range on one or more cameras.

    :ivar id: unique id assigned by the host.
    :ivar camera_ids: the cameras covered.
    :ivar start: start of the range (aware UTC).
    :ivar end: end of the range (aware UTC).
    :ivar reason: why it was marked; shown to operators and kept with evidence.
    :ivar locked: when true, retention never deletes the recordings in the range.
    :ivar event_id: the event it is about, when the plug-in passed one (API 1.2).
    """

    id: str
    camera_ids: Sequence[str]
    start: datetime
    end: datetime
    reason: str
    locked: bool = False
    event_id: str | None = None

    def __post_init__(self) -> None:
        _require_aware("Bookmark.start", self.start)
        _require_aware("Bookmark.end", self.end)
        _freeze_ids(self, "camera_ids", self.camera_ids)


# --------------------------------------------------------------------------- notifications


@dataclass(frozen=True, slots=True)
class Notification:
    """A message for people, sent through a channel plug-in (chat, SMS, e-mail, ...).

    :ivar channel: which channel delivers it (e.g. ``"slack"``); a channel plug-in
        delivers only notifications whose ``channel`` is its own.
    :ivar title: one line.
    :ivar text: the body, plain text.
    :ivar severity: how urgent it is.
    :ivar event: the event that caused it, if any.
    :ivar camera_ids: cameras worth looking at.
    :ivar snapshot: a JPEG picture, or ``None``.
    :ivar link: URL to open in the VMS (live view, playback), or ``None``.
    """

    channel: str
    title: str
    text: str = ""
    severity: Severity = Severity.INFO
    event: Event | None = None
    camera_ids: Sequence[str] = ()
    snapshot: bytes | None = None
    link: str | None = None

    def __post_init__(self) -> None:
        _freeze_ids(self, "camera_ids", self.camera_ids)
        object.__setattr__(self, "severity", Severity(self.severity))


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    """What a channel plug-in reports after trying to deliver a notification.

    :ivar channel: the channel that handled it.
    :ivar delivered: true when the far end accepted it.
    :ivar detail: a short human-readable note (error text, message id, ...).
    """

    channel: str
    delivered: bool
    detail: str = ""


# --------------------------------------------------------------------------- plug-in identity


@dataclass(frozen=True, slots=True)
class PluginInfo:
    """Who a plug-in is; returned by ``vms_plugin_info``.

    :ivar name: short lowercase name, ``[a-z0-9_]+``; also the settings table
        ``[plugins.<name>]`` and the URL prefix ``/api/plugins/<name>/``.
    :ivar version: the plug-in's own version (its distribution version).
    :ivar api_version: the hook contract it was written against; use
        ``vms_sdk.API_VERSION``.
    :ivar description: one line shown to operators.
    :ivar requests: the capabilities the plug-in needs (its manifest, see
        :mod:`vms_sdk.permissions`), e.g. ``("events", "bookmarks", "frames")``; the
        operator grants them in ``[plugins.<name>] grant``. Ask for the least you need.
    """

    name: str
    version: str
    api_version: str = API_VERSION
    description: str = ""
    requests: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.name or not all(c.isalnum() or c == "_" for c in self.name):
            raise ValueError(f"plug-in name {self.name!r} must be [a-z0-9_]+")
        if self.name != self.name.lower():
            raise ValueError(f"plug-in name {self.name!r} must be lowercase")
        object.__setattr__(self, "requests", tuple(check_capability(str(r)) for r in self.requests))


# --------------------------------------------------------------------------- HTTP


Role = Literal["viewer", "operator", "admin"]
"""A user's role; each includes what the ones before it may do."""
_ROLE_RANK: dict[str, int] = {"viewer": 0, "operator": 1, "admin": 2}


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling one of the plug-in's routes: the logged-in user (or API token).

    The host fills it in for every route that is not ``public``; check it before you
    show or change anything tied to a camera, the way the server's own API does.

    :ivar user_id: the user's id (stable: never reused for another user).
    :ivar username: the login name, for messages and your own audit trail.
    :ivar role: ``"viewer"``, ``"operator"`` or ``"admin"``.
    :ivar camera_ids: ids of the cameras this user may see, or ``None`` when they may
        see every camera (administrators). A camera they may not see should answer like
        one that does not exist (404).
    """

    user_id: int
    username: str
    role: Role
    camera_ids: frozenset[str] | None = None

    def __post_init__(self) -> None:
        if self.role not in _ROLE_RANK:
            raise ValueError(f"role must be one of {', '.join(_ROLE_RANK)}, got {self.role!r}")
        if self.camera_ids is not None:
            object.__setattr__(self, "camera_ids", frozenset(str(c) for c in self.camera_ids))

    @property
    def all_cameras(self) -> bool:
        """Whether this user may see every camera."""
        return self.camera_ids is None

    def has_role(self, role: Role) -> bool:
        """Whether the user's role is ``role`` or above (``admin`` > ``operator`` > ``viewer``)."""
        return _ROLE_RANK[self.role] >= _ROLE_RANK[role]

    def can_see(self, camera_id: str) -> bool:
        """Whether the user may see camera ``camera_id``."""
        return self.camera_ids is None or str(camera_id) in self.camera_ids

    def visible(self, items: Iterable[T], camera_id: Callable[[T], str]) -> list[T]:
        """The ``items`` whose camera this user may see, in order.

        ``camera_id`` says which camera an item belongs to, e.g.
        ``principal.visible(reads, lambda r: r.camera)`` or, for plain ids,
        ``principal.visible(ids, str)``.
        """
        return [item for item in items if self.can_see(camera_id(item))]


@dataclass(frozen=True, slots=True)
class HttpRequest:
    """An HTTP request to one of the plug-in's routes.

    :ivar method: ``"GET"``, ``"POST"``, ...
    :ivar path: the path below the plug-in's prefix, starting with ``/``
        (``/api/plugins/alpr/reads`` arrives as ``/reads``).
    :ivar query: query-string parameters (first value of each).
    :ivar headers: request headers, keys lower-cased.
    :ivar body: the raw body (empty for GET); HMAC-checking webhooks use this.
    :ivar params: values of ``{placeholders}`` in the route path.
    :ivar principal: the logged-in caller; ``None`` only on ``public`` routes.
    """

    method: str
    path: str
    query: Mapping[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    params: Mapping[str, str] = field(default_factory=dict)
    principal: Principal | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "method", self.method.upper())
        object.__setattr__(self, "headers", {k.lower(): v for k, v in self.headers.items()})

    def header(self, name: str, default: str | None = None) -> str | None:
        """The value of header ``name`` (case-insensitive), or ``default``."""
        return self.headers.get(name.lower(), default)

    def json(self) -> Any:
        """The body decoded as JSON (``None`` when empty).

        :raises BadRequest: (a ``ValueError``) when it is not UTF-8 JSON or is nested
            deeper than ``vms_sdk.MAX_JSON_DEPTH``; let it propagate and the host
            answers 400 with its message.
        """
        return parse_json(self.body)

    def require_role(self, role: Role) -> Principal:
        """The caller, if their role is ``role`` or above.

        For checks that depend on the request; a whole route that needs a role says so
        with ``Route(..., role=...)`` instead, and the host checks it before calling you.

        :raises Unauthorized: on a public route nobody logged in to.
        :raises Forbidden: when the caller's role is lower.
        """
        if self.principal is None:
            raise Unauthorized("this needs a logged-in user")
        if not self.principal.has_role(role):
            raise Forbidden(
                f"this needs the {role} role; {self.principal.username} is {self.principal.role}"
            )
        return self.principal


@dataclass(frozen=True, slots=True)
class HttpResponse:
    """The answer of a route handler.

    Give either ``json`` (any JSON-serialisable value; sent as ``application/json``) or
    ``body`` bytes with a ``content_type``.

    :ivar status: HTTP status code.
    :ivar json: a value to send as JSON, or ``None`` to send ``body``.
    :ivar body: raw bytes, used when ``json`` is ``None``.
    :ivar content_type: the media type of ``body``.
    :ivar headers: extra response headers.
    """

    status: int = 200
    json: Any = None
    body: bytes = b""
    content_type: str = "text/plain; charset=utf-8"
    headers: Mapping[str, str] = field(default_factory=dict)

    def payload(self) -> tuple[bytes, str]:
        """The bytes to send and their content type."""
        if self.json is not None:
            return _json.dumps(self.json).encode("utf-8"), "application/json"
        return self.body, self.content_type

    def decoded_json(self) -> Any:
        """The body as a JSON value (handy in tests)."""
        data, _ = self.payload()
        return _json.loads(data.decode("utf-8")) if data else None

    @classmethod
    def error(cls, status: int, code: str, message: str) -> HttpResponse:
        """An error in the server's shape: ``{"error": {"code": code, "message": message}}``."""
        return cls(status, json={"error": {"code": code, "message": message}})

    @classmethod
    def for_error(cls, error: HttpError) -> HttpResponse:
        """The answer the host sends for an :class:`~vms_sdk.errors.HttpError`."""
        return cls.error(error.status, error.code, error.message)


RouteHandler = Callable[[HttpRequest], "HttpResponse | Awaitable[HttpResponse]"]
"""A route handler: plain or ``async`` function taking an :class:`HttpRequest`."""


@dataclass(frozen=True, slots=True)
class Route:
    """An HTTP endpoint a plug-in adds below ``/api/plugins/<name>/``.

    :ivar method: ``"GET"``, ``"POST"``, ``"PUT"``, ``"DELETE"`` or ``"PATCH"``.
    :ivar path: path below the prefix, starting with ``/``; a segment written
        ``{name}`` matches any one segment and arrives in ``HttpRequest.params``.
    :ivar handler: called with an :class:`HttpRequest`, returns an :class:`HttpResponse`
        (plain function or coroutine function).
    :ivar public: when true the host does not require a logged-in user; use only for
        webhooks that authenticate themselves (e.g. by an HMAC over ``HttpRequest.body``).
    :ivar role: the lowest role allowed to call it (``"operator"`` for a route that
        changes things, ``"admin"`` for settings); the host answers 403 to anyone lower
        without calling the handler. ``None``: any logged-in user.
    """

    method: str
    path: str
    handler: RouteHandler
    public: bool = False
    role: Role | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "method", self.method.upper())
        if not self.path.startswith("/"):
            raise ValueError(f"route path {self.path!r} must start with '/'")
        if self.role is not None and self.role not in _ROLE_RANK:
            known = ", ".join(_ROLE_RANK)
            raise ValueError(f"route role must be one of {known}, got {self.role!r}")
        if self.role is not None and self.public:
            raise ValueError(f"route {self.path!r} cannot be public and need role {self.role!r}")

    def admits(self, principal: Principal | None) -> bool:
        """Whether the host lets ``principal`` call this route: anyone on a public route,
        else a logged-in user whose role is at least ``role``."""
        if self.public:
            return True
        if principal is None:
            return False
        return self.role is None or principal.has_role(self.role)

    def match(self, method: str, path: str) -> dict[str, str] | None:
        """Path parameters when this route answers ``method`` ``path``, else ``None``."""
        if method.upper() != self.method:
            return None
        return self.match_path(path)

    def match_path(self, path: str) -> dict[str, str] | None:
        """Path parameters when ``path`` fits this route's path (any method), else ``None``."""
        want = self.path.strip("/").split("/")
        got = path.strip("/").split("/")
        if len(want) != len(got):
            return None
        params: dict[str, str] = {}
        for pattern, segment in zip(want, got, strict=True):
            if pattern.startswith("{") and pattern.endswith("}") and segment:
                params[pattern[1:-1]] = segment
            elif pattern != segment:
                return None
        return params


# --------------------------------------------------------------------------- media


FrameStream = Literal["sub", "main"]
FrameFormat = Literal["bgr24", "gray"]
MAX_CONCURRENCY = 16
"""The most frames a plug-in may ask to analyse at once (``FrameSubscription.concurrency``)."""


@dataclass(frozen=True, slots=True)
class FrameSubscription:
    """A request for decoded video frames, returned from ``vms_frame_subscriptions``.

    :ivar camera_ids: cameras wanted, or ``None`` for every camera.
    :ivar fps: frames per second wanted (at most); the host samples, it never
        delivers faster. A slow analyser gets the newest frame and skips older ones.
    :ivar stream: ``"sub"`` (low resolution, cheap to decode; the default) or ``"main"``.
    :ivar fmt: ``"bgr24"`` (HxWx3 uint8, OpenCV order) or ``"gray"`` (HxW uint8).
    :ivar concurrency: frames of *different* cameras the plug-in can analyse at the same
        time (unreleased, after 1.2.0). The host then calls ``vms_analyze_frame`` up to
        this many times at once, each in a thread of its own when the hook is a plain
        function; frames of one camera still come one after the other, in time order.
        With several subscriptions, the largest value counts. When frames arrive faster than the
        plug-in analyses them, the host shares its time among the cameras in turn and
        skips the older frames of each (see :attr:`Frame.skipped`).
    """

    camera_ids: Sequence[str] | None = None
    fps: float = 1.0
    stream: FrameStream = "sub"
    fmt: FrameFormat = "bgr24"
    concurrency: int = 1

    def __post_init__(self) -> None:
        if self.camera_ids is not None:
            _freeze_ids(self, "camera_ids", self.camera_ids)
        if not self.fps > 0:
            raise ValueError(f"fps must be > 0, got {self.fps}")
        if isinstance(self.concurrency, bool) or not 1 <= self.concurrency <= MAX_CONCURRENCY:
            raise ValueError(f"concurrency must be 1..{MAX_CONCURRENCY}, got {self.concurrency}")
        if self.stream not in ("sub", "main"):
            raise ValueError(f"stream must be 'sub' or 'main', got {self.stream!r}")
        if self.fmt not in ("bgr24", "gray"):
            raise ValueError(f"fmt must be 'bgr24' or 'gray', got {self.fmt!r}")

    def wants(self, camera_id: str, stream: str, fmt: str) -> bool:
        """Whether a frame of ``camera_id``/``stream``/``fmt`` is covered by this request."""
        cameras_ok = self.camera_ids is None or camera_id in self.camera_ids
        return cameras_ok and stream == self.stream and fmt == self.fmt


@dataclass(frozen=True, slots=True)
class Frame:
    """One decoded video frame.

    :ivar camera_id: the camera it came from.
    :ivar time: wall-clock capture time (aware UTC).
    :ivar image: ``numpy`` array, HxWx3 ``uint8`` in BGR order, or HxW ``uint8`` for gray.
        Treat it as read-only: other plug-ins may receive the same array.
    :ivar width: image width in pixels.
    :ivar height: image height in pixels.
    :ivar stream: ``"sub"`` or ``"main"``.
    :ivar skipped: frames of this camera (at the subscribed rate) the host skipped for this
        plug-in since the one before, because it was still busy (unreleased; 0 from older
        hosts). A plug-in that tracks things across frames can tell a gap from a still
        scene.
    """

    camera_id: str
    time: datetime
    image: npt.NDArray[np.uint8]
    width: int
    height: int
    stream: FrameStream = "sub"
    skipped: int = 0

    def __post_init__(self) -> None:
        _require_aware("Frame.time", self.time)

    @property
    def fmt(self) -> FrameFormat:
        """``"gray"`` for a 2-D image, else ``"bgr24"``."""
        return "gray" if self.image.ndim == 2 else "bgr24"


@dataclass(frozen=True, slots=True)
class AudioSubscription:
    """A request for decoded audio, returned from ``vms_audio_subscriptions``.

    :ivar camera_ids: cameras wanted, or ``None`` for every camera with audio.
    :ivar sample_rate: samples per second wanted (the host resamples), e.g. 16000.
    :ivar chunk_seconds: length of each :class:`AudioChunk`.
    """

    camera_ids: Sequence[str] | None = None
    sample_rate: int = 16000
    chunk_seconds: float = 1.0

    def __post_init__(self) -> None:
        if self.camera_ids is not None:
            _freeze_ids(self, "camera_ids", self.camera_ids)
        if self.sample_rate <= 0 or not self.chunk_seconds > 0:
            raise ValueError("sample_rate and chunk_seconds must be > 0")

    def wants(self, camera_id: str) -> bool:
        """Whether audio of ``camera_id`` is covered by this request."""
        return self.camera_ids is None or camera_id in self.camera_ids


@dataclass(frozen=True, slots=True)
class AudioChunk:
    """A run of decoded audio samples.

    :ivar camera_id: the camera it came from.
    :ivar time: wall-clock time of the first sample (aware UTC).
    :ivar sample_rate: samples per second.
    :ivar samples: mono ``float32`` samples in ``[-1.0, 1.0]``; read-only.
    """

    camera_id: str
    time: datetime
    sample_rate: int
    samples: npt.NDArray[np.float32]

    def __post_init__(self) -> None:
        _require_aware("AudioChunk.time", self.time)

    @property
    def duration_s(self) -> float:
        """Length of the chunk in seconds."""
        return float(len(self.samples)) / self.sample_rate


@dataclass(frozen=True, slots=True)
class SegmentInfo:
    """A recording segment the host has just finished writing.

    :ivar camera_id: the camera recorded.
    :ivar start: time of the first frame (aware UTC).
    :ivar end: time just after the last frame (aware UTC).
    :ivar path: file path of the segment (fragmented MP4); read it, never modify it.
    :ivar bytes: file size.
    :ivar codec: video codec name, e.g. ``"h264"`` or ``"hevc"``.
    """

    camera_id: str
    start: datetime
    end: datetime
    path: str
    bytes: int
    codec: str

    def __post_init__(self) -> None:
        _require_aware("SegmentInfo.start", self.start)
        _require_aware("SegmentInfo.end", self.end)
