"""ONVIF device client on onvif-zeep-async, hardened against hostile or broken devices.

``OnvifDevice`` wraps ``onvif.ONVIFCamera`` (``no_cache=True``: no zeep cache in the
user's home; ``adjust_time=True``: WS-Security timestamps follow the camera's clock). Every
call is bounded by a timeout, every reply is read up to ``max_reply_bytes`` and checked
with defusedxml (no DTD, no entities, a SOAP envelope) before zeep sees it, and every
failure becomes one of:

- ``OnvifUnauthorized``: the camera refused the username or password;
- ``OnvifUnreachable``: no connection, or no answer in time;
- ``OnvifBadReply``: the reply was too large, not well-formed, hostile or not what ONVIF
  says it should be;
- ``OnvifError``: anything else the device said no to (a SOAP fault).

Each carries a reason a person can act on, bounded in length and free of control
characters whatever the device sent (``vms_core.untrusted``); each is logged once, here.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

import aiohttp
import defusedxml.ElementTree as DET
from aiohttp import BasicAuth, DigestAuthMiddleware
from defusedxml import DefusedXmlException

from vms_core.untrusted import bounded_text

# onvif-zeep-async and zeep (about 16 MB) are imported by the first OnvifDevice, not with
# the server: a site with RTSP cameras only never needs them.
if TYPE_CHECKING:
    from onvif import ONVIFService

log = logging.getLogger(__name__)

T = TypeVar("T")

# Biggest SOAP reply we read: a camera with many profiles answers GetProfiles in ~100 KB.
MAX_REPLY_BYTES = 2 * 1024 * 1024
MAX_SNAPSHOT_BYTES = 16 * 1024 * 1024
CLOCK_WARN_SECONDS = 5.0
# Closing only releases local sessions; a bound all the same, as for every await on a device.
CLOSE_TIMEOUT_S = 5.0
SOAP_ENVELOPES = (
    "{http://www.w3.org/2003/05/soap-envelope}Envelope",
    "{http://schemas.xmlsoap.org/soap/envelope/}Envelope",
)
# Namespaces a reply's body element may be in: ONVIF services, WS-Notification (events),
# and SOAP itself (faults).
REPLY_NAMESPACES = (
    "{http://www.onvif.org/",
    "{http://docs.oasis-open.org/wsn/",
    "{http://www.w3.org/2003/05/soap-envelope}",
    "{http://schemas.xmlsoap.org/soap/envelope/}",
)
STREAM_SETUP = {"Stream": "RTP-Unicast", "Transport": {"Protocol": "RTSP"}}
# Longest stream or snapshot URI we take from a device (real ones are under 200 characters).
MAX_URI_CHARS = 2048
# Longest name, model, serial, ... we keep from a device.
MAX_LABEL_CHARS = 128
# A WS-Security header in a request we send: without one, a 401 means "log in first".
_CREDENTIALS_MARK = b"UsernameToken"


class OnvifError(Exception):
    """A device call failed; ``reason`` says why in words an admin can act on."""

    state = "error"

    def __init__(self, reason: str) -> None:
        # Reasons quote what the device said (fault texts, element names): bound them here,
        # once, before anything stores, logs or returns them.
        reason = bounded_text(reason)
        super().__init__(reason)
        self.reason = reason


class OnvifUnauthorized(OnvifError):
    state = "unauthorized"


class OnvifUnreachable(OnvifError):
    state = "unreachable"


class OnvifBadReply(OnvifError):
    state = "error"


@dataclass(frozen=True, slots=True)
class MediaProfile:
    token: str
    name: str
    encoding: str  # "H264", "H265", "JPEG", ...
    width: int | None
    height: int | None
    fps: float | None
    bitrate_kbps: int | None
    has_ptz: bool
    stream_uri: str = ""
    snapshot_uri: str = ""


@dataclass(slots=True)
class DeviceDescription:
    manufacturer: str
    model: str
    firmware: str
    serial: str
    hardware_id: str
    clock_offset_s: float | None
    services: list[str] = field(default_factory=list)
    profiles: list[MediaProfile] = field(default_factory=list)

    @property
    def has_ptz(self) -> bool:
        return "ptz" in self.services and any(p.has_ptz for p in self.profiles)

    @property
    def has_events(self) -> bool:
        return "events" in self.services

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["has_ptz"] = self.has_ptz
        return data


@dataclass(frozen=True, slots=True)
class PtzPreset:
    token: str
    name: str


@dataclass(frozen=True, slots=True)
class PtzStatus:
    pan: float | None
    tilt: float | None
    zoom: float | None
    moving: bool


# -- zeep's logging of device values ------------------------------------------------------


class _DeviceValueErrorsAsWarnings(logging.Filter):
    """zeep logs a value it cannot convert (``<Width>wide</Width>``) at ERROR with a traceback,
    then carries on with None. That is the device's fault, not ours: keep zeep's line, as a
    bounded WARNING naming the value, without the traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.ERROR:
            error = record.exc_info[1] if record.exc_info else None
            detail = f": {error}" if error is not None else ""
            record.msg = bounded_text(
                f"device sent an unusable value: {record.getMessage()}{detail}"
            )
            record.args = ()
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            record.exc_info, record.exc_text = None, None
        return True


# zeep.xsd.types.simple and zeep.xsd.elements.attribute use logger.exception this way.
for _name in ("zeep.xsd.types.simple", "zeep.xsd.elements.attribute"):
    logging.getLogger(_name).addFilter(_DeviceValueErrorsAsWarnings())


# -- reply guard ---------------------------------------------------------------------------


def check_reply(content: bytes, max_bytes: int = MAX_REPLY_BYTES) -> None:
    """Raise OnvifBadReply unless ``content`` is a plain, well-formed SOAP envelope."""
    if len(content) > max_bytes:
        raise OnvifBadReply(f"reply of more than {max_bytes} bytes")
    if not content.strip():
        raise OnvifBadReply("empty reply")
    try:
        root = DET.fromstring(content, forbid_dtd=True)
    except DefusedXmlException as err:
        raise OnvifBadReply(
            f"reply uses a forbidden XML construct ({type(err).__name__})"
        ) from None
    except DET.ParseError as err:
        raise OnvifBadReply(f"reply is not well-formed XML ({err})") from None
    if root.tag not in SOAP_ENVELOPES:
        raise OnvifBadReply(f"reply is not a SOAP envelope (root element {root.tag})")
    # zeep (non-strict, as cameras need) would read a body in any namespace by position.
    soap_body = root.find(root.tag.replace("Envelope", "Body"))
    if soap_body is None or len(soap_body) == 0:
        raise OnvifBadReply("reply has no SOAP body")
    element = str(soap_body[0].tag)
    if not element.startswith(REPLY_NAMESPACES):
        raise OnvifBadReply(f"reply element {element} is not in an ONVIF or SOAP namespace")


async def _read_capped(response: aiohttp.ClientResponse, max_bytes: int) -> bytes:
    declared = response.content_length
    if declared is not None and declared > max_bytes:
        raise OnvifBadReply(f"reply of {declared} bytes is more than {max_bytes} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > max_bytes:
            raise OnvifBadReply(f"reply of more than {max_bytes} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


# -- the device ----------------------------------------------------------------------------


def _attr(obj: Any, *path: str) -> Any:
    for name in path:
        if obj is None:
            return None
        obj = getattr(obj, name, None)
    return obj


def _str(obj: Any, *path: str) -> str:
    value = _attr(obj, *path)
    return "" if value is None else str(value).strip()


def _label(obj: Any, *path: str) -> str:
    """A name, model, serial, ... the device gave: one line, bounded."""
    return bounded_text(_str(obj, *path), MAX_LABEL_CHARS)


def _uri(what: str, value: str, schemes: tuple[str, ...]) -> str | None:
    """``value`` if it is a URI with one of ``schemes`` we can store and hand on, else None."""
    if not value.startswith(schemes):
        return None
    if len(value) > MAX_URI_CHARS or any(c.isspace() or not c.isprintable() for c in value):
        log.warning("ONVIF %s: URI refused: %r", what, bounded_text(value, 100))
        return None
    return value


def _num(obj: Any, *path: str) -> float | None:
    value = _attr(obj, *path)
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None


def _int(obj: Any, *path: str) -> int | None:
    value = _num(obj, *path)
    return None if value is None else int(value)


class OnvifDevice:
    """One camera's ONVIF services. ``await connect()`` first; ``await close()`` always."""

    def __init__(
        self,
        url: str,
        username: str,
        password: str,
        *,
        timeout: float = 10.0,
        max_reply_bytes: int = MAX_REPLY_BYTES,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise OnvifError(f"not an ONVIF device URL: {url!r}")
        self.url = url
        self.host = parts.hostname
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.timeout = timeout
        from vms_core.onvif.guarded import GuardedCamera

        self.camera = GuardedCamera(
            self.host, self.port, username, password, no_cache=True, adjust_time=True
        )
        self.camera.max_reply_bytes = max_reply_bytes
        self.username = username
        self.password = password
        self.clock_offset_s: float | None = None
        self._connected = False

    async def __aenter__(self) -> OnvifDevice:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        try:
            async with asyncio.timeout(CLOSE_TIMEOUT_S):
                await self.camera.close()
        except Exception as err:  # closing must never raise (CancelledError still does)
            log.debug("closing ONVIF client of %s: %s", self.url, err)

    async def call(
        self,
        what: str,
        awaitable: Awaitable[T],
        timeout: float | None = None,  # noqa: ASYNC109
        *,
        soap: bool = True,
    ) -> T:
        """Await one device call, bounded in time (``timeout``, else the device's), with
        failures turned into OnvifError. A cancellation always goes through: this uses
        ``asyncio.timeout``, not ``wait_for``, which on Python 3.11 may return a result that
        arrives with the cancellation and so swallow it. ``soap``: the call is one of the
        ONVIF library's, whose reply zeep builds (its AttributeError, TypeError, ... mean a
        reply not as the WSDL says); False for our own code, whose such errors are bugs to
        raise, not a camera to blame."""
        # Loaded already: this device's camera imported them.
        import zeep.exceptions
        from onvif.exceptions import ONVIFAuthError, ONVIFError, ONVIFTimeoutError
        from onvif.util import is_auth_error

        limit = self.timeout if timeout is None else timeout
        try:
            async with asyncio.timeout(limit):
                return await awaitable
        except OnvifError as err:
            raise self._logged(type(err)(f"{what}: {err.reason}")) from None
        except (TimeoutError, ONVIFTimeoutError):
            raise self._logged(OnvifUnreachable(f"{what}: no answer within {limit:g} s")) from None
        except ONVIFAuthError as err:
            raise self._logged(OnvifUnauthorized(f"{what}: {err}")) from None
        except zeep.exceptions.Fault as err:
            if is_auth_error(err):
                raise self._logged(
                    OnvifUnauthorized(f"{what}: the camera refused the username or password")
                ) from None
            raise self._logged(OnvifError(f"{what}: the camera answered a fault: {err}")) from None
        except (aiohttp.ClientConnectorError, ConnectionError) as err:
            raise self._logged(OnvifUnreachable(f"{what}: cannot connect: {err}")) from None
        except aiohttp.ClientError as err:
            raise self._logged(OnvifUnreachable(f"{what}: HTTP failed: {err}")) from None
        except (
            zeep.exceptions.XMLSyntaxError,
            zeep.exceptions.XMLParseError,
            zeep.exceptions.ValidationError,
            zeep.exceptions.TransportError,
            zeep.exceptions.DTDForbidden,
            zeep.exceptions.EntitiesForbidden,
        ) as err:
            raise self._logged(OnvifBadReply(f"{what}: unusable reply: {err}")) from None
        except ONVIFError as err:
            cause = err.__cause__ or err.__context__
            if isinstance(cause, OnvifError):
                raise self._logged(type(cause)(f"{what}: {cause.reason}")) from None
            raise self._logged(OnvifError(f"{what}: {err}")) from None
        except (AttributeError, TypeError, ValueError, KeyError, IndexError) as err:
            if not soap:
                raise
            # zeep building an object from a reply that is not what the WSDL says.
            raise self._logged(
                OnvifBadReply(f"{what}: reply not as ONVIF defines it ({err!r})")
            ) from None

    def _logged(self, err: OnvifError) -> OnvifError:
        log.warning("ONVIF %s: %s", self.url, err.reason)
        return err

    # -- connection and description --------------------------------------------------------
    async def connect(self) -> None:
        """Read the clock offset and the service addresses."""
        await self.call("connect", self.camera.update_xaddrs())
        if not self.camera.xaddrs:
            raise self._logged(OnvifBadReply("connect: the device lists no services"))
        diff = self.camera.dt_diff
        self.clock_offset_s = None if diff is None else diff.total_seconds()
        if self.clock_offset_s is not None and abs(self.clock_offset_s) > CLOCK_WARN_SECONDS:
            log.warning(
                "ONVIF %s: camera clock is %.1f s off; compensating (set up NTP on the camera)",
                self.url,
                self.clock_offset_s,
            )
        self._connected = True

    def services(self) -> list[str]:
        """Short names of the services the device offers (device, media, ptz, events, ...)."""
        # Namespaces look like http://www.onvif.org/ver10/media/wsdl: the part before "wsdl".
        return sorted({str(ns).rstrip("/").rsplit("/", 2)[-2].lower() for ns in self.camera.xaddrs})

    def _has(self, service: str) -> bool:
        return service in self.services()

    async def device_information(self) -> dict[str, str]:
        devicemgmt = await self.call("device", self.camera.create_devicemgmt_service())
        info = await self.call("GetDeviceInformation", devicemgmt.GetDeviceInformation())
        if info is None or not (_str(info, "Manufacturer") or _str(info, "Model")):
            raise self._logged(
                OnvifBadReply("GetDeviceInformation: reply names neither manufacturer nor model")
            )
        return {
            "manufacturer": _label(info, "Manufacturer"),
            "model": _label(info, "Model"),
            "firmware": _label(info, "FirmwareVersion"),
            "serial": _label(info, "SerialNumber"),
            "hardware_id": _label(info, "HardwareId"),
        }

    async def profiles(self, with_uris: bool = True) -> list[MediaProfile]:
        media = await self.call("media", self.camera.create_media_service())
        raw = await self.call("GetProfiles", media.GetProfiles())
        if not raw:
            raise self._logged(OnvifBadReply("GetProfiles: no media profiles in the reply"))
        found: list[MediaProfile] = []
        for profile in raw:
            token = _str(profile, "token")
            encoder = _attr(profile, "VideoEncoderConfiguration")
            if not token or encoder is None:
                continue  # audio-only or metadata profile
            stream_uri = snapshot_uri = ""
            if with_uris:
                stream_uri = await self.stream_uri(token)
                snapshot_uri = await self.snapshot_uri(token)
            found.append(
                MediaProfile(
                    token=token,
                    name=_label(profile, "Name"),
                    encoding=_str(encoder, "Encoding"),
                    width=_int(encoder, "Resolution", "Width"),
                    height=_int(encoder, "Resolution", "Height"),
                    fps=_num(encoder, "RateControl", "FrameRateLimit"),
                    bitrate_kbps=_int(encoder, "RateControl", "BitrateLimit"),
                    has_ptz=_attr(profile, "PTZConfiguration") is not None,
                    stream_uri=stream_uri,
                    snapshot_uri=snapshot_uri,
                )
            )
        if not found:
            raise self._logged(OnvifBadReply("GetProfiles: no profile with a video encoder"))
        return found

    async def stream_uri(self, token: str) -> str:
        """The profile's RTSP URI (RTP over RTSP, i.e. TCP-interleaved, preferred)."""
        media = await self.call("media", self.camera.create_media_service())
        reply = await self.call(
            "GetStreamUri",
            media.GetStreamUri({"StreamSetup": STREAM_SETUP, "ProfileToken": token}),
        )
        uri = _str(reply, "Uri")
        if _uri("GetStreamUri", uri, ("rtsp://", "rtsps://")) is None:
            raise self._logged(OnvifBadReply(f"GetStreamUri: not an RTSP URI: {uri[:100]!r}"))
        return uri

    async def snapshot_uri(self, token: str) -> str:
        """The profile's JPEG snapshot URI, or "" when the camera has none."""
        media = await self.call("media", self.camera.create_media_service())
        try:
            reply = await self.call("GetSnapshotUri", media.GetSnapshotUri({"ProfileToken": token}))
        except OnvifUnauthorized:
            raise
        except OnvifError:
            return ""  # many cameras have no snapshot URI; live decoding covers them
        return _uri("GetSnapshotUri", _str(reply, "Uri"), ("http://", "https://")) or ""

    async def describe(self) -> DeviceDescription:
        """Everything the catalog needs to add this camera."""
        if not self._connected:
            await self.connect()
        info = await self.device_information()
        return DeviceDescription(
            clock_offset_s=self.clock_offset_s,
            services=self.services(),
            profiles=await self.profiles(),
            **info,
        )

    # -- snapshots -------------------------------------------------------------------------
    async def snapshot(self, uri: str, max_bytes: int = MAX_SNAPSHOT_BYTES) -> bytes:
        """GET the snapshot URI with digest auth (basic if the camera asks for it)."""

        async def fetch() -> bytes:
            timeout = aiohttp.ClientTimeout(total=self.timeout)
            async with aiohttp.ClientSession(timeout=timeout) as http:
                digest = DigestAuthMiddleware(self.username, self.password)
                async with http.get(uri, middlewares=(digest,)) as response:
                    if (
                        response.status == 401
                        and "basic" in response.headers.get("WWW-Authenticate", "").lower()[:6]
                    ):
                        auth = BasicAuth(self.username, self.password)
                        async with http.get(uri, auth=auth) as retry:
                            return await _snapshot_body(retry, max_bytes)
                    return await _snapshot_body(response, max_bytes)

        return await self.call("snapshot", fetch(), soap=False)

    # -- PTZ -------------------------------------------------------------------------------
    async def _ptz(self) -> ONVIFService:
        if not self._has("ptz"):
            raise OnvifError("the camera has no PTZ service")
        return await self.call("ptz", self.camera.create_ptz_service())

    async def ptz_move(
        self, token: str, pan: float, tilt: float, zoom: float, timeout_s: float | None
    ) -> None:
        ptz = await self._ptz()
        request: dict[str, Any] = {
            "ProfileToken": token,
            "Velocity": {"PanTilt": {"x": pan, "y": tilt}, "Zoom": {"x": zoom}},
        }
        if timeout_s is not None:
            request["Timeout"] = f"PT{timeout_s:g}S"
        await self.call("ContinuousMove", ptz.ContinuousMove(request))

    async def ptz_stop(self, token: str) -> None:
        ptz = await self._ptz()
        await self.call("Stop", ptz.Stop({"ProfileToken": token, "PanTilt": True, "Zoom": True}))

    async def ptz_presets(self, token: str) -> list[PtzPreset]:
        ptz = await self._ptz()
        raw = await self.call("GetPresets", ptz.GetPresets({"ProfileToken": token}))
        return [
            PtzPreset(token=_str(p, "token"), name=_label(p, "Name"))
            for p in raw or []
            if _str(p, "token")
        ]

    async def ptz_goto(self, token: str, preset_token: str) -> None:
        ptz = await self._ptz()
        await self.call(
            "GotoPreset", ptz.GotoPreset({"ProfileToken": token, "PresetToken": preset_token})
        )

    async def ptz_status(self, token: str) -> PtzStatus:
        ptz = await self._ptz()
        raw = await self.call("GetStatus", ptz.GetStatus({"ProfileToken": token}))
        if raw is None:
            raise self._logged(OnvifBadReply("GetStatus: empty PTZ status"))
        move = _str(raw, "MoveStatus", "PanTilt").upper()
        zoom_move = _str(raw, "MoveStatus", "Zoom").upper()
        return PtzStatus(
            pan=_num(raw, "Position", "PanTilt", "x"),
            tilt=_num(raw, "Position", "PanTilt", "y"),
            zoom=_num(raw, "Position", "Zoom", "x"),
            moving="MOVING" in (move, zoom_move),
        )


async def _snapshot_body(response: aiohttp.ClientResponse, max_bytes: int) -> bytes:
    if response.status in (401, 403):
        raise OnvifUnauthorized(f"snapshot refused the login (HTTP {response.status})")
    if response.status != 200:
        raise OnvifError(f"snapshot answered HTTP {response.status}")
    body = await _read_capped(response, max_bytes)
    if body[:2] != b"\xff\xd8":
        raise OnvifBadReply("snapshot is not a JPEG")
    return body
