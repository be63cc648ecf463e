"""What happens for each incident: cameras, event, evidence, PTZ and notifications.

Runs on the server's event loop only. The event and the locked bookmarks are made before
the webhook answers (the sender learns the incident id); PTZ moves and notifications run
in a background task so a slow chat server never delays the answer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from vms_sdk import (
    Camera,
    Event,
    NearbyCamera,
    Notification,
    PluginContext,
    Severity,
    haversine_m,
)

from vms_plugin_gunshot.settings import GunshotSettings, PresetPosition

EVENT_TYPE = "gunshot.detected"


@dataclass(frozen=True, slots=True)
class IncidentReport:
    """A place and time where shots were heard, from the webhook or the microphones."""

    key: str  # idempotency key: "alert:<id>" or "audio:<camera>:<time>"
    time: datetime
    lat: float | None
    lon: float | None
    rounds: int
    confidence: float
    source: str  # "webhook" or "audio"
    address: str = ""
    alert_id: str | None = None
    heard_by: str | None = None  # camera id whose microphone heard it (audio only)


@dataclass(frozen=True, slots=True)
class Incident:
    """The outcome: the published event and the cameras chosen, best first."""

    event: Event
    cameras: tuple[NearbyCamera, ...]
    bookmarked: bool


def choose_cameras(
    ctx: PluginContext, report: IncidentReport, radius_m: float
) -> list[NearbyCamera]:
    """Cameras within ``radius_m``, ranked (facing the spot first, then by distance).

    A microphone that heard a shot without a known position still names its camera.
    """
    if report.lat is None or report.lon is None:
        camera = ctx.get_camera(report.heard_by) if report.heard_by else None
        return [NearbyCamera(camera, 0.0, 0.0, None)] if camera else []
    return ctx.cameras_near(report.lat, report.lon, radius_m)


def camera_summary(near: NearbyCamera) -> dict[str, Any]:
    """How a chosen camera is named in the event and the webhook answer."""
    return {
        "id": near.camera.id,
        "name": near.camera.name,
        "distance_m": round(near.distance_m, 1),
        "facing": near.facing,
    }


async def open_incident(
    ctx: PluginContext, settings: GunshotSettings, report: IncidentReport
) -> Incident:
    """Publish the ``gunshot.detected`` event and lock the evidence on each camera."""
    near = choose_cameras(ctx, report, settings.radius_m)
    data: dict[str, Any] = {
        "source": report.source,
        "rounds": report.rounds,
        "confidence": report.confidence,
        "address": report.address,
        "cameras": [camera_summary(n) for n in near],
    }
    if report.alert_id is not None:
        data["alert_id"] = report.alert_id
    if report.heard_by is not None:
        data["heard_by"] = report.heard_by
    event = await ctx.publish_event(
        Event(
            EVENT_TYPE,
            time=report.time,
            camera_ids=tuple(n.camera.id for n in near),
            lat=report.lat,
            lon=report.lon,
            severity=Severity.CRITICAL if report.rounds >= 3 else Severity.HIGH,
            data=data,
        )
    )
    bookmarked = False
    if near:
        try:
            await ctx.bookmark(
                [n.camera.id for n in near],
                report.time - timedelta(seconds=settings.bookmark_before_s),
                report.time + timedelta(seconds=settings.bookmark_after_s),
                f"gunshot {report.alert_id or report.key}: {describe_place(report)}",
                lock=True,
                event=event,  # operators see the evidence linked to the incident
            )
            bookmarked = True
        except Exception:
            ctx.logger.exception("bookmarking incident %s failed", event.id)
    return Incident(event, tuple(near), bookmarked)


async def follow_up(ctx: PluginContext, settings: GunshotSettings, incident: Incident) -> None:
    """Turn PTZ cameras towards the spot and tell the configured channels."""
    event = incident.event
    if event.lat is not None and event.lon is not None:
        for near in incident.cameras:
            preset = nearest_preset(near.camera, settings, event.lat, event.lon)
            if preset is None:
                continue
            try:
                await ctx.ptz_goto_preset(near.camera.id, preset.preset)
            except Exception as exc:
                ctx.logger.warning("PTZ %s to %s failed: %s", near.camera.id, preset.preset, exc)
    notes = [notification(channel, incident) for channel in settings.notify_channels]
    results = await asyncio.gather(*(ctx.notify(n) for n in notes), return_exceptions=True)
    for note, result in zip(notes, results, strict=True):
        if isinstance(result, BaseException):
            ctx.logger.warning("notifying %s failed: %s", note.channel, result)


def nearest_preset(
    camera: Camera, settings: GunshotSettings, lat: float, lon: float
) -> PresetPosition | None:
    """The configured preset of a PTZ ``camera`` whose spot is nearest ``(lat, lon)``."""
    if not camera.has_ptz:
        return None
    positions: Sequence[PresetPosition] = settings.presets.get(
        camera.id, settings.presets.get(camera.name, ())
    )
    if camera.presets:  # only presets the camera really has
        positions = [p for p in positions if p.preset in camera.presets]
    if not positions:
        return None
    return min(positions, key=lambda p: haversine_m(p.lat, p.lon, lat, lon))


def notification(channel: str, incident: Incident) -> Notification:
    """The message for one channel, naming the cameras best first."""
    event = incident.event
    rounds = int(event.data.get("rounds", 1))
    address = str(event.data.get("address", ""))
    where = address or (
        f"{event.lat:.5f}, {event.lon:.5f}"
        if event.lat is not None and event.lon is not None
        else "?"
    )
    shots = f"{rounds} round{'s' if rounds != 1 else ''}"
    lines = [
        f"{shots} detected near {where} at {event.time:%H:%M:%S} UTC "
        f"(confidence {float(event.data.get('confidence', 1.0)):.0%}, "
        f"source {event.data.get('source')})."
    ]
    if incident.cameras:
        lines.append("Cameras: " + "; ".join(_camera_line(n) for n in incident.cameras))
    else:
        lines.append("No camera within range.")
    return Notification(
        channel=channel,
        title=f"Gunshot: {shots} near {where}",
        text="\n".join(lines),
        severity=event.severity,
        event=event,
        camera_ids=event.camera_ids,
    )


def _camera_line(near: NearbyCamera) -> str:
    aim = {True: "facing", False: "facing away", None: "heading unknown"}[near.facing]
    return f"{near.camera.name} (#{near.camera.id}, {near.distance_m:.0f} m, {aim})"


def describe_place(report: IncidentReport) -> str:
    if report.address:
        return report.address
    if report.lat is not None and report.lon is not None:
        return f"{report.lat:.5f},{report.lon:.5f}"
    return f"heard by camera {report.heard_by}"
