"""Plug-ins: their status for administrators, and the plug-ins' own HTTP routes.

Everything below ``/api/plugins/<name>/`` is one table entry per method that hands the
request to :class:`~vms_core.plugins.http.PluginHttp` (the server also mounts the same
path with a regex so routes of any depth match); the auth middleware asks it whether
the plug-in declared the route public (a webhook that checks its own signature),
otherwise a logged-in user is required.
"""

from __future__ import annotations

from aiohttp import web

from vms_core.api.app import server_of
from vms_core.api.registry import ApiRegistry
from vms_core.plugins.http import PLUGIN_METHODS, PLUGIN_ROUTE_CANONICAL

HEALTH_SCHEMA = {
    "type": "object",
    "properties": {
        "healthy": {"type": "boolean"},
        "calls": {"type": "integer"},
        "errors": {"type": "integer"},
        "timeouts": {"type": "integer"},
        "consecutive_failures": {"type": "integer"},
        "last_error": {"type": ["string", "null"]},
        "last_error_at": {"type": ["string", "null"], "format": "date-time"},
    },
}
PLUGIN_SCHEMA = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "version": {"type": "string"},
        "description": {"type": "string"},
        "api_version": {"type": "string"},
        "source": {"type": "string", "description": "entry point or folder path"},
        "state": {
            "type": "string",
            "enum": [
                "disabled",
                "refused",
                "loaded",
                "running",
                "unhealthy",
                "failed",
                "stopping",
                "stopped",
            ],
        },
        "reason": {"type": "string", "description": "why it is refused or failed"},
        "health": HEALTH_SCHEMA,
        "dropped_messages": {"type": "integer"},
        "frames": {
            "type": "object",
            "description": "frame and audio lane counters: accepted, delivered, dropped",
        },
    },
}


def register(api: ApiRegistry) -> None:
    @api.route(
        "GET",
        "/api/plugins",
        summary="Every plug-in found: version, source, state, health counters, last error",
        tag="plugins",
        role="admin",
        response={"type": "array", "items": api.schema("Plugin", PLUGIN_SCHEMA)},
    )
    async def list_plugins(request: web.Request) -> web.Response:
        host = server_of(request).plugins
        frames, audio = host.frames.stats(), host.audio.stats()
        out = []
        for status in host.manager.list():
            item = status.as_dict()
            lanes = {"video": frames.get(status.name), "audio": audio.get(status.name)}
            item["frames"] = {
                kind: vars(stats).copy() for kind, stats in lanes.items() if stats is not None
            }
            out.append(item)
        return web.json_response(out)

    async def plugin_route(request: web.Request) -> web.StreamResponse:
        return await server_of(request).plugins.http.handle(request)

    for method in PLUGIN_METHODS:
        api.route(
            method,
            PLUGIN_ROUTE_CANONICAL,
            summary="A plug-in's own endpoint (see the plug-in's documentation); public only "
            "where the plug-in says so",
            tag="plugins",
            role="viewer",
            response={},
        )(plugin_route)
