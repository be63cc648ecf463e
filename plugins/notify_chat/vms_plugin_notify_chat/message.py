"""``Message``: a notification made ready for people, whatever the channel.

Built once per channel delivery: camera names instead of ids, deep links into the web
client (``<web>/#/camera/<id>?t=<iso time>``), and the snapshot both as bytes (for
e-mail) and as a URL (chat services fetch images themselves).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from vms_sdk import Notification, PluginContext, utc_now


@dataclass(frozen=True, slots=True)
class CameraRef:
    id: str
    name: str
    link: str


@dataclass(frozen=True, slots=True)
class Message:
    title: str
    text: str
    severity: str
    time: datetime
    cameras: tuple[CameraRef, ...]
    link: str | None
    event: dict[str, Any] | None
    snapshot: bytes | None = None
    snapshot_url: str | None = None
    snapshot_camera: str | None = None

    @property
    def camera_names(self) -> str:
        return ", ".join(c.name for c in self.cameras)


def web_base(ctx: PluginContext, configured: str | None) -> str:
    """The web client's address: configured, else the server's public URL."""
    if configured:
        return configured.rstrip("/") + "/"
    own = ctx.public_url
    marker = f"api/plugins/{ctx.name}/"
    return own[: -len(marker)] if own.endswith(marker) else own


def iso_z(when: datetime) -> str:
    """``2026-11-22T09:00:00Z``: no ``+`` that a URL could turn into a space."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def camera_link(web: str, camera_id: str, when: datetime) -> str:
    return f"{web}#/camera/{camera_id}?t={iso_z(when)}"


def build_message(ctx: PluginContext, notification: Notification, web: str) -> Message:
    """Names, links and event summary for ``notification`` (no snapshot yet)."""
    event = notification.event
    when = event.time if event is not None else utc_now()
    cameras = []
    for camera_id in notification.camera_ids:
        camera = ctx.get_camera(camera_id)
        name = camera.name if camera is not None else f"camera {camera_id}"
        cameras.append(CameraRef(camera_id, name, camera_link(web, camera_id, when)))
    link = notification.link or (cameras[0].link if cameras else None)
    summary = None
    if event is not None:
        summary = {
            "id": event.id,
            "type": event.type,
            "time": iso_z(event.time),
            "lat": event.lat,
            "lon": event.lon,
            "source": event.source,
            "data": dict(event.data),
        }
    return Message(
        notification.title,
        notification.text,
        str(notification.severity),
        when,
        tuple(cameras),
        link,
        summary,
        snapshot=notification.snapshot,
        snapshot_camera=notification.camera_ids[0] if notification.camera_ids else None,
    )
