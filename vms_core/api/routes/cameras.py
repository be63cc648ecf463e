"""Cameras as the API shows them. A user sees only the cameras granted to them: any other
camera answers 404, exactly as one that does not exist."""

from __future__ import annotations

from aiohttp import web

from vms_core.api.app import server_of
from vms_core.api.auth import principal
from vms_core.api.errors import ApiError
from vms_core.api.params import path_int
from vms_core.api.registry import ApiRegistry
from vms_core.cameras import camera_json

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


def register(api: ApiRegistry) -> None:
    schema = api.schema("Camera", CAMERA_SCHEMA)

    @api.route(
        "GET",
        "/api/cameras",
        summary="Cameras the caller may see",
        tag="cameras",
        response={"type": "array", "items": schema},
    )
    async def list_cameras(request: web.Request) -> web.Response:
        cameras = await server_of(request).cameras.visible(principal(request))
        return web.json_response([camera_json(c) for c in cameras])

    @api.route("GET", "/api/cameras/{id}", summary="One camera", tag="cameras", response=schema)
    async def get_camera(request: web.Request) -> web.Response:
        camera_id = path_int(request, what="camera")
        camera = await server_of(request).cameras.get(camera_id, principal(request))
        if camera is None:
            raise ApiError(404, f"no camera {camera_id}")
        return web.json_response(camera_json(camera))
