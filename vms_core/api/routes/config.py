"""Configuration reload, the API twin of SIGHUP."""

from __future__ import annotations

from aiohttp import web

from vms_core.api.app import server_of
from vms_core.api.auth import principal
from vms_core.api.errors import ApiError
from vms_core.api.registry import ApiRegistry
from vms_core.config import ConfigError


def register(api: ApiRegistry) -> None:
    @api.route(
        "POST",
        "/api/config/reload",
        summary="Re-read vms.toml and apply camera and plug-in changes",
        tag="config",
        role="admin",
        response={
            "type": "object",
            "properties": {"changes": {"type": "array", "items": {"type": "object"}}},
        },
    )
    async def reload(request: web.Request) -> web.Response:
        server = server_of(request)
        try:
            changes = await server.reload_config(principal(request).username)
        except ConfigError as exc:
            raise ApiError(422, exc.report(), "invalid_config") from None
        return web.json_response(
            {
                "changes": [
                    {"kind": c.kind, "camera_id": c.camera_id, "name": c.name} for c in changes
                ]
            }
        )
