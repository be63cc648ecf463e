"""What an ONVIF operation handler gets to see: the camera, its PTZ head, the request, and
the addresses to put in the URLs it hands out."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from vms_core.simulator.config import CameraConfig
from vms_core.simulator.ptz import PtzState
from vms_core.simulator.soap import SoapRequest

if TYPE_CHECKING:
    from vms_core.simulator.events_service import EventBroker

DEVICE_PATH = "/onvif/device_service"
MEDIA_PATH = "/onvif/media_service"
PTZ_PATH = "/onvif/ptz_service"
EVENTS_PATH = "/onvif/events_service"
PROFILE_TOKENS = ("main", "sub")


def snapshot_path(profile: str) -> str:
    return f"/onvif/snapshot/{profile}.jpg"


def subscription_path(subscription_id: str) -> str:
    return f"/onvif/subscription/{subscription_id}"


def rtsp_path(camera_name: str, profile: str) -> str:
    return f"/{camera_name}/{profile}"


@dataclass(frozen=True, slots=True)
class CallContext:
    camera: CameraConfig
    ptz: PtzState | None
    request: SoapRequest
    # "http://host:port" of this camera's ONVIF server as the client reached it.
    base_url: str
    # Host (no port) to put in rtsp:// URLs.
    media_host: str
    rtsp_port: int
    events: EventBroker | None = None
    # The PullPoint a request was sent to (its URL path), if any.
    subscription_id: str | None = None

    @property
    def operation(self) -> ET.Element:
        return self.request.operation

    def camera_now(self) -> datetime:
        return datetime.now(UTC) + timedelta(seconds=self.camera.clock_skew_s)

    def rtsp_url(self, profile: str) -> str:
        return f"rtsp://{self.media_host}:{self.rtsp_port}{rtsp_path(self.camera.name, profile)}"


# A handler returns the Body content; PullMessages waits, so handlers may be async.
Handler = Callable[[CallContext], str | Awaitable[str]]
