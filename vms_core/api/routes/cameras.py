"""Cameras as the API shows them, and managing them. A user sees only the cameras granted to
them: any other camera answers 404, exactly as one that does not exist.

Adding a camera by ONVIF address reads its profiles and stream URIs before answering; a
wrong login still adds it, in state ``unauthorized`` with a reason (fix it with PATCH).
A camera added by plain RTSP URL skips ONVIF. Credentials are stored encrypted and never
returned. Cameras declared in vms.toml are managed there: PATCH and DELETE refuse them.
"""

from __future__ import annotations

import re
from typing import Any, Literal
from urllib.parse import urlsplit

from aiohttp import web
from pydantic import Field, ValidationError, model_validator

from vms_core.api.auth import principal
from vms_core.api.bodies import Body, read_json, schema_of, validation_message
from vms_core.api.errors import ApiError
from vms_core.api.keys import AUDIT, CAMERA_HEALTH, CAMERAS, PTZ, SNAPSHOTS
from vms_core.api.params import path_int
from vms_core.api.registry import ID_PATH, ApiRegistry
from vms_core.cameras import camera_json
from vms_core.cameras.ptz import PtzError
from vms_core.cameras.snapshot import SnapshotError
from vms_core.config.settings import CAMERA_NAME_RE, CameraSettings, RetentionLimits
from vms_core.db.models import Camera

CAMERA_SCHEMA = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "name": {"type": "string"},
        "source": {"type": "string", "enum": ["config", "api"]},
        "onvif_url": {"type": ["string", "null"]},
        "username": {"type": "string"},
        "has_password": {"type": "boolean"},
        "manufacturer": {"type": "string"},
        "model": {"type": "string"},
        "lat": {"type": ["number", "null"]},
        "lon": {"type": ["number", "null"]},
        "heading": {"type": ["number", "null"]},
        "fov": {"type": ["number", "null"]},
        "enabled": {"type": "boolean"},
        "record": {"type": "boolean"},
        "has_ptz": {"type": "boolean"},
        "retention": {"type": "object"},
        "state": {"type": "string"},
        "state_reason": {"type": "string"},
        "state_changed": {"type": ["string", "null"]},
        "streams": {"type": "array", "items": {"type": "object"}},
    },
}

DEFAULT_DEVICE_PATH = "/onvif/device_service"
# A camera without PTZ (409); the camera refused or failed the command (502).
PTZ_ERRORS = (409, 502)


class NewCamera(Body):
    """A camera by ONVIF (``onvif_url``, or ``address`` as host[:port]) or by RTSP URL."""

    name: str | None = Field(default=None, pattern=CAMERA_NAME_RE.pattern)
    onvif_url: str | None = Field(default=None, max_length=512)
    address: str | None = Field(default=None, max_length=300)
    rtsp_url: str | None = Field(default=None, max_length=1024)
    sub_rtsp_url: str | None = Field(default=None, max_length=1024)
    username: str = Field(default="", max_length=128)
    password: str = Field(default="", max_length=256)
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    heading: float | None = Field(default=None, ge=0, lt=360)
    fov: float | None = Field(default=None, gt=0, le=360)
    enabled: bool = True
    record: bool = True
    retention: RetentionLimits | None = None

    @model_validator(mode="after")
    def _one_source(self) -> NewCamera:
        if self.onvif_url and self.address:
            raise ValueError("give onvif_url or address, not both")
        if not (self.onvif_url or self.address or self.rtsp_url):
            raise ValueError("a camera needs onvif_url, address or rtsp_url")
        return self


class CameraPatch(Body):
    onvif_url: str | None = Field(default=None, max_length=512)
    rtsp_url: str | None = Field(default=None, max_length=1024)
    sub_rtsp_url: str | None = Field(default=None, max_length=1024)
    username: str | None = Field(default=None, max_length=128)
    password: str | None = Field(default=None, max_length=256)
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    heading: float | None = Field(default=None, ge=0, lt=360)
    fov: float | None = Field(default=None, gt=0, le=360)
    enabled: bool | None = None
    record: bool | None = None
    retention: RetentionLimits | None = None


class PtzCommand(Body):
    action: Literal["move", "stop", "goto_preset"]
    # move: velocities in ONVIF's generic space, -1..1; the camera stops after timeout.
    pan: float = Field(default=0.0, ge=-1, le=1)
    tilt: float = Field(default=0.0, ge=-1, le=1)
    zoom: float = Field(default=0.0, ge=-1, le=1)
    # At least 0.1 s: ONVIF durations are written in seconds with a few decimals, and a
    # shorter move is no move at all.
    timeout: float | None = Field(default=1.0, ge=0.1, le=60)
    # goto_preset: token or name
    preset: str | None = Field(default=None, max_length=128)

    @model_validator(mode="after")
    def _preset(self) -> PtzCommand:
        if self.action == "goto_preset" and not self.preset:
            raise ValueError("goto_preset needs preset")
        return self


def onvif_url_of(address: str) -> str:
    """host, host:port or [v6]:port -> the ONVIF device service URL."""
    if "://" in address:
        return address
    return f"http://{address}{DEFAULT_DEVICE_PATH}"


def default_name(onvif_url: str | None, rtsp_url: str | None) -> str:
    try:
        parts = urlsplit(onvif_url or rtsp_url or "")
        raw = f"cam-{parts.hostname or 'camera'}" + (f"-{parts.port}" if parts.port else "")
    except ValueError:
        return "camera"  # a malformed URL: the settings' validation names it next
    name = re.sub(r"[^A-Za-z0-9_.-]", "-", raw)[:64]
    return name if CAMERA_NAME_RE.match(name) else "camera"


def settings_of(fields: dict[str, Any]) -> CameraSettings:
    try:
        return CameraSettings.model_validate(fields)
    except ValidationError as exc:
        raise ApiError(400, validation_message(exc), "invalid") from None


def current_settings(camera: Camera, password: str) -> dict[str, Any]:
    """The settings a run-time camera has now, as CameraSettings fields."""
    streams = {s.role: s.url for s in camera.streams}
    retention = None
    if camera.retention_max_days is not None or camera.retention_max_bytes is not None:
        retention = {
            "max_days": camera.retention_max_days,
            "max_bytes": camera.retention_max_bytes,
        }
    return {
        "name": camera.name,
        "onvif_url": camera.onvif_url,
        # ONVIF cameras' stream URLs come from the camera, not from settings.
        "rtsp_url": None if camera.onvif_url else streams.get("main"),
        "sub_rtsp_url": None if camera.onvif_url else streams.get("sub"),
        "username": camera.username,
        "password": password,
        "lat": camera.lat,
        "lon": camera.lon,
        "heading": camera.heading,
        "fov": camera.fov,
        "enabled": camera.enabled,
        "record": camera.record,
        "retention": retention,
    }


async def list_cameras(request: web.Request) -> web.Response:
    cameras = await request.app[CAMERAS].visible(principal(request))
    return web.json_response([camera_json(c) for c in cameras])


async def get_camera(request: web.Request) -> web.Response:
    return web.json_response(camera_json(await _visible(request)))


async def add_camera(request: web.Request) -> web.Response:
    body = await read_json(request, NewCamera)
    cameras = request.app[CAMERAS]
    onvif_url = onvif_url_of(body.address) if body.address else body.onvif_url
    fields = body.model_dump(exclude={"address"})
    fields["onvif_url"] = onvif_url
    fields["name"] = body.name or default_name(onvif_url, body.rtsp_url)
    cfg = settings_of(fields)
    try:
        camera = await cameras.add(cfg, source="api")
    except ValueError as err:
        raise ApiError(409, str(err)) from None
    if cfg.onvif_url:
        await request.app[CAMERA_HEALTH].check(camera.id)
    await request.app[AUDIT].record(
        "camera.add",
        username=principal(request).username,
        detail={"camera": camera.id, "name": cfg.name},
    )
    found = await cameras.get(camera.id)
    assert found is not None
    return web.json_response(camera_json(found), status=201)


async def patch_camera(request: web.Request) -> web.Response:
    camera = await _managed(request)
    body = await read_json(request, CameraPatch)
    cameras = request.app[CAMERAS]
    fields = current_settings(camera, await cameras.password(camera.id))
    fields.update(body.model_dump(exclude_unset=True))
    cfg = settings_of(fields)
    await cameras.update(camera.id, cfg)
    if cfg.onvif_url and cfg.enabled:
        await request.app[CAMERA_HEALTH].check(camera.id)
    await request.app[AUDIT].record(
        "camera.change",
        username=principal(request).username,
        detail={"camera": camera.id, "fields": sorted(body.model_fields_set)},
    )
    found = await cameras.get(camera.id)
    assert found is not None
    return web.json_response(camera_json(found))


async def delete_camera(request: web.Request) -> web.Response:
    camera = await _managed(request)
    try:
        await request.app[CAMERAS].remove(camera.id)
    except KeyError:
        raise ApiError(404, f"no camera {camera.id}") from None
    except ValueError as err:
        raise ApiError(409, str(err)) from None
    await request.app[AUDIT].record(
        "camera.remove",
        username=principal(request).username,
        detail={"camera": camera.id, "name": camera.name},
    )
    return web.Response(status=204)


async def ptz_status(request: web.Request) -> web.Response:
    camera = await _visible(request)
    try:
        status = await request.app[PTZ].status(camera.id)
    except PtzError as err:
        raise ApiError(err.status, err.message) from None
    return web.json_response(status)


async def ptz_command(request: web.Request) -> web.Response:
    camera = await _visible(request)
    body = await read_json(request, PtzCommand)
    ptz = request.app[PTZ]
    try:
        if body.action == "move":
            await ptz.move(camera.id, body.pan, body.tilt, body.zoom, body.timeout)
        elif body.action == "stop":
            await ptz.stop(camera.id)
        else:
            assert body.preset is not None
            await ptz.goto(camera.id, body.preset)
    except PtzError as err:
        raise ApiError(err.status, err.message) from None
    return web.json_response({"ok": True, "action": body.action})


async def snapshot(request: web.Request) -> web.Response:
    camera = await _visible(request)
    try:
        jpeg = await request.app[SNAPSHOTS].jpeg(camera.id)
    except SnapshotError as err:
        raise ApiError(err.status, err.message) from None
    return web.Response(body=jpeg, content_type="image/jpeg", headers={"Cache-Control": "no-store"})


def register(api: ApiRegistry) -> None:
    schema = api.schema("Camera", CAMERA_SCHEMA)
    api.route(
        "GET",
        "/api/cameras",
        summary="Cameras the caller may see",
        tag="cameras",
        response={"type": "array", "items": schema},
    )(list_cameras)
    api.route(
        "GET",
        "/api/cameras/{id}",
        summary="One camera",
        tag="cameras",
        response=schema,
        params=(ID_PATH,),
    )(get_camera)
    api.route(
        "POST",
        "/api/cameras",
        role="admin",
        summary="Add a camera by ONVIF address and login, or by RTSP URL",
        tag="cameras",
        request=schema_of(NewCamera),
        response=schema,
        status=201,
        errors=(409,),
    )(add_camera)
    api.route(
        "PATCH",
        "/api/cameras/{id}",
        role="admin",
        summary="Change a run-time camera (address, login, position, recording)",
        tag="cameras",
        request=schema_of(CameraPatch),
        response=schema,
        params=(ID_PATH,),
        errors=(409,),
    )(patch_camera)
    api.route(
        "DELETE",
        "/api/cameras/{id}",
        role="admin",
        summary="Remove a run-time camera (its recorded files stay on disk)",
        tag="cameras",
        status=204,
        params=(ID_PATH,),
        errors=(409,),
    )(delete_camera)
    api.route(
        "GET",
        "/api/cameras/{id}/ptz",
        role="operator",
        summary="PTZ position, motion and presets",
        tag="cameras",
        params=(ID_PATH,),
        errors=PTZ_ERRORS,
    )(ptz_status)
    api.route(
        "POST",
        "/api/cameras/{id}/ptz",
        role="operator",
        summary="PTZ: continuous move (velocity, timeout), stop, or go to a preset",
        tag="cameras",
        request=schema_of(PtzCommand),
        params=(ID_PATH,),
        errors=PTZ_ERRORS,
    )(ptz_command)
    api.route(
        "GET",
        "/api/cameras/{id}/snapshot.jpg",
        summary="The camera's current picture as JPEG",
        tag="cameras",
        content_type="image/jpeg",
        params=(ID_PATH,),
        errors=(409, 502, 504),
    )(snapshot)


async def _visible(request: web.Request) -> Camera:
    camera_id = path_int(request, what="camera")
    camera = await request.app[CAMERAS].get(camera_id, principal(request))
    if camera is None:
        raise ApiError(404, f"no camera {camera_id}")
    return camera


async def _managed(request: web.Request) -> Camera:
    camera = await _visible(request)
    if camera.source == "config":
        raise ApiError(
            409, f"camera {camera.name} is declared in vms.toml; change or remove it there"
        )
    return camera
