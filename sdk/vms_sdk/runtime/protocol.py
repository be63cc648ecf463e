"""The messages between the server and a plug-in runner, and how they are framed.

Every message is an :class:`Envelope` encoded with msgspec's MessagePack, sent as a
4-byte big-endian length and the bytes. A request's body is one of the tagged structs
below; the answer's body is decoded by the caller, who knows what it asked for.
``PROTOCOL_VERSION`` is checked in the first message (:class:`Hello`): a runner of
another protocol version is refused, not misunderstood.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import msgspec

from vms_sdk.types import (
    AudioSubscription,
    Bookmark,
    Camera,
    DeliveryResult,
    Event,
    FrameSubscription,
    HttpRequest,
    HttpResponse,
    Notification,
    PluginInfo,
    SegmentInfo,
)

PROTOCOL_VERSION = 1
MAX_MESSAGE_BYTES = 64 * 1024 * 1024

REQUEST, RESULT, ERROR, NOTE = 0, 1, 2, 3


class Envelope(msgspec.Struct, array_like=True):
    kind: int
    id: int
    body: msgspec.Raw


class ErrorBody(msgspec.Struct):
    """Why a request failed.

    ``kind``: ``error`` (the plug-in raised), ``timeout``, ``busy``, ``config`` (a
    ``ConfigError``; ``key`` names the setting), ``http`` (a route's ``HttpError``:
    ``status`` and ``code``), ``denied`` (not granted: ``key`` is the capability),
    ``unavailable``, ``refused`` (the plug-in cannot be loaded), ``memory``.
    """

    kind: str
    message: str
    key: str = ""
    status: int = 0
    code: str = ""


# ------------------------------------------------------------------ runner -> server first


class Hello(msgspec.Struct, tag="hello"):
    protocol: int
    pid: int
    sdk_version: str
    user: str
    sandbox: list[str]


# ------------------------------------------------------------------ server -> runner


class Load(msgspec.Struct, tag="load"):
    """Import the plug-in: an entry point (``target`` ``module:attr``) or a folder plug-in
    (``target`` is the file or package name inside the folder passed as ``folder_fd``)."""

    kind: Literal["entry_point", "path"]
    target: str
    hint: str


class Loaded(msgspec.Struct, tag="loaded"):
    info: PluginInfo
    hooks: list[str]
    warnings: list[str]


class Configure(msgspec.Struct, tag="configure"):
    config: dict[str, Any]


class Start(msgspec.Struct, tag="start"):
    name: str
    config: dict[str, Any]
    kv: dict[str, Any]
    public_url: str
    cameras: list[Camera]


class RouteSpec(msgspec.Struct):
    method: str
    path: str
    public: bool
    role: str | None


class Collect(msgspec.Struct, tag="collect"):
    pass


class Collected(msgspec.Struct, tag="collected"):
    routes: list[RouteSpec]
    frames: list[FrameSubscription]
    audio: list[AudioSubscription]


class FrameRef(msgspec.Struct):
    """A frame whose pixels are in shared memory region ``region`` at offset 0."""

    camera_id: str
    time: datetime
    width: int
    height: int
    stream: str
    shape: list[int]
    region: int
    skipped: int = 0  # Frame.skipped


class AudioRef(msgspec.Struct):
    camera_id: str
    time: datetime
    sample_rate: int
    samples: bytes  # float32, native order


class Call(msgspec.Struct, tag="call"):
    hook: str
    event: Event | None = None
    segment: SegmentInfo | None = None
    notification: Notification | None = None
    frame: FrameRef | None = None
    audio: AudioRef | None = None
    cameras: list[Camera] | None = None


class HttpCall(msgspec.Struct, tag="http"):
    route: int
    request: HttpRequest


class Shutdown(msgspec.Struct, tag="shutdown"):
    budget: float


class Ping(msgspec.Struct, tag="ping"):
    pass


class CamerasUpdate(msgspec.Struct, tag="cameras"):
    cameras: list[Camera]


class MapRegion(msgspec.Struct, tag="map"):
    """A shared memory region follows on the descriptor socket."""

    region: int
    size: int


class UnmapRegion(msgspec.Struct, tag="unmap"):
    region: int


# ------------------------------------------------------------------ runner -> server


class PublishEvent(msgspec.Struct, tag="publish"):
    event: Event


class MakeBookmark(msgspec.Struct, tag="bookmark"):
    camera_ids: list[str]
    start: datetime
    end: datetime
    reason: str
    lock: bool
    event_id: str | None = None


class TakeSnapshot(msgspec.Struct, tag="snapshot"):
    camera_id: str


class SendNotification(msgspec.Struct, tag="notify"):
    notification: Notification


class PtzGoto(msgspec.Struct, tag="ptz"):
    camera_id: str
    preset: str


class KvSet(msgspec.Struct, tag="kv_set"):
    key: str
    value: Any


class KvDelete(msgspec.Struct, tag="kv_delete"):
    key: str


class LogLine(msgspec.Struct, tag="log"):
    level: int
    logger: str
    message: str


class Refused(msgspec.Struct, tag="refused"):
    """The runner refused something the grant does not cover (network): for the audit log."""

    capability: str
    what: str


class Fatal(msgspec.Struct, tag="fatal"):
    """The runner is about to exit: why (``memory``, ...)."""

    kind: str
    message: str


ToRunner = (
    Load
    | Configure
    | Start
    | Collect
    | Call
    | HttpCall
    | Shutdown
    | Ping
    | CamerasUpdate
    | MapRegion
    | UnmapRegion
)
ToServer = (
    Hello
    | PublishEvent
    | MakeBookmark
    | TakeSnapshot
    | SendNotification
    | PtzGoto
    | KvSet
    | KvDelete
    | LogLine
    | Refused
    | Fatal
)

# Results, decoded with the type the caller expects.
EventResult = Event
BookmarkResult = Bookmark
HttpResult = HttpResponse
DeliveryOutcome = DeliveryResult | None


class Codec:
    """Encoders and decoders for one side of the channel."""

    def __init__(self, incoming: Any) -> None:
        self._encoder = msgspec.msgpack.Encoder()
        self._envelope = msgspec.msgpack.Decoder(Envelope)
        self._incoming = msgspec.msgpack.Decoder(incoming)
        self._error = msgspec.msgpack.Decoder(ErrorBody)
        self._results: dict[Any, msgspec.msgpack.Decoder[Any]] = {}

    def encode(self, kind: int, ident: int, body: Any) -> bytes:
        raw = msgspec.Raw(self._encoder.encode(body))
        return self._encoder.encode(Envelope(kind, ident, raw))

    def envelope(self, data: bytes) -> Envelope:
        return self._envelope.decode(data)

    def incoming(self, raw: msgspec.Raw) -> Any:
        return self._incoming.decode(raw)

    def error(self, raw: msgspec.Raw) -> ErrorBody:
        return self._error.decode(raw)

    def result(self, raw: msgspec.Raw, kind: Any) -> Any:
        decoder = self._results.get(kind)
        if decoder is None:
            decoder = self._results[kind] = msgspec.msgpack.Decoder(kind)
        return decoder.decode(raw)
