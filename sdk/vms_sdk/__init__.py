"""vms_sdk: write plug-ins for the vms video management server.

A plug-in imports ``vms_sdk`` only. Start with :mod:`vms_sdk.hookspecs` (what you can
implement), :class:`vms_sdk.context.PluginContext` (what you can do) and
:mod:`vms_sdk.testing` (how to test it without a server).
"""

from vms_sdk.context import KeyValueStore, PluginContext
from vms_sdk.errors import (
    BadRequest,
    ConfigError,
    Forbidden,
    HttpError,
    IncompatiblePluginError,
    NotFound,
    NotGranted,
    PluginUnavailable,
    Unauthorized,
)
from vms_sdk.hookspecs import hookimpl, hookspec
from vms_sdk.jsonbody import MAX_JSON_DEPTH, parse_json
from vms_sdk.types import (
    AudioChunk,
    AudioSubscription,
    Bookmark,
    Camera,
    DeliveryResult,
    Detection,
    Event,
    Frame,
    FrameSubscription,
    HttpRequest,
    HttpResponse,
    NearbyCamera,
    Notification,
    PluginInfo,
    Principal,
    Role,
    Route,
    SegmentInfo,
    Severity,
    bearing_deg,
    cameras_near,
    haversine_m,
    utc_now,
)
from vms_sdk.version import API_VERSION, check_api_compatible

__version__ = "1.2.0"

__all__ = [
    "API_VERSION",
    "MAX_JSON_DEPTH",
    "AudioChunk",
    "AudioSubscription",
    "BadRequest",
    "Bookmark",
    "Camera",
    "ConfigError",
    "DeliveryResult",
    "Detection",
    "Event",
    "Forbidden",
    "Frame",
    "FrameSubscription",
    "HttpError",
    "HttpRequest",
    "HttpResponse",
    "IncompatiblePluginError",
    "KeyValueStore",
    "NearbyCamera",
    "NotFound",
    "NotGranted",
    "Notification",
    "PluginContext",
    "PluginInfo",
    "PluginUnavailable",
    "Principal",
    "Role",
    "Route",
    "SegmentInfo",
    "Severity",
    "Unauthorized",
    "bearing_deg",
    "cameras_near",
    "check_api_compatible",
    "haversine_m",
    "hookimpl",
    "hookspec",
    "parse_json",
    "utc_now",
]
