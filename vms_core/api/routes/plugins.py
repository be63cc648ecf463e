"""Plug-ins: their status for administrators, and the plug-ins' own HTTP routes.

Everything below ``/api/plugins/<name>/`` is one table entry per method that hands the
request to :class:`~vms_core.plugins.http.PluginHttp` (the server also mounts the same
path with a regex so routes of any depth match); the auth middleware asks it whether
the plug-in declared the route public (a webhook that checks its own signature),
otherwise a logged-in user is required.
"""

from __future__ import annotations

from aiohttp import web
from pydantic import Field

from vms_core.api.auth import principal, remote
from vms_core.api.bodies import Body, read_json, schema_of
from vms_core.api.errors import ApiError
from vms_core.api.keys import AUDIT, PLUGINS
from vms_core.api.registry import ApiRegistry, Param
from vms_core.plugins.http import PLUGIN_METHODS, PLUGIN_ROUTE_CANONICAL
from vms_core.plugins.manager import PluginNotRestartable

HEALTH_SCHEMA = {
    "type": "object",
    "properties": {
        "healthy": {"type": "boolean"},
        "calls": {"type": "integer"},
        "errors": {"type": "integer"},
        "timeouts": {"type": "integer"},
        "busy": {"type": "integer", "description": "calls refused: all its threads were busy"},
        "consecutive_failures": {"type": "integer"},
        "last_error": {"type": ["string", "null"]},
        "last_error_at": {"type": ["string", "null"], "format": "date-time"},
        "restarts": {"type": "integer", "description": "times its runner was restarted"},
        "restarts_in_a_row": {"type": "integer"},
        "last_restart_reason": {"type": ["string", "null"]},
        "pid": {"type": "integer", "description": "its runner process"},
        "cpu_seconds": {"type": "number", "description": "CPU time of its runner"},
        "rss_bytes": {"type": "integer", "description": "resident memory of its runner"},
        "threads": {"type": "integer"},
        "sandbox": {
            "type": "array",
            "items": {"type": "string"},
            "description": "how its runner is confined (user, Landlock, limits)",
        },
        "warnings": {
            "type": "array",
            "items": {"type": "string"},
            "description": "what the operator should know while it runs: a camera whose "
            "frames it cannot keep up with",
        },
    },
}
CAMERA_FRAMES_SCHEMA = {
    "type": "object",
    "description": "one camera's frames for this plug-in, over the last 30 s of video",
    "properties": {
        "wanted_fps": {"type": "number", "description": "what its subscription asks for"},
        "analysed_fps": {"type": "number"},
        "skipped_fps": {"type": "number", "description": "frames it was too busy to take"},
        "analysed": {"type": "integer", "description": "since the plug-in started"},
        "skipped": {"type": "integer", "description": "since the plug-in started"},
        "behind": {
            "type": "boolean",
            "description": "analysed below 80 % of the wanted rate while frames are skipped",
        },
    },
}
PERMISSIONS_SCHEMA = {
    "type": "object",
    "description": "capabilities the plug-in requests (its manifest) and the operator grants",
    "properties": {
        "requested": {"type": "array", "items": {"type": "string"}},
        "granted": {"type": "array", "items": {"type": "string"}},
        "missing": {"type": "array", "items": {"type": "string"}},
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
                "restarting",
                "quarantined",
                "failed",
                "stopping",
                "stopped",
            ],
        },
        "reason": {
            "type": "string",
            "description": "why it is refused, failed, restarting or quarantined",
        },
        "health": HEALTH_SCHEMA,
        "permissions": PERMISSIONS_SCHEMA,
        "warnings": {"type": "array", "items": {"type": "string"}},
        "dropped_messages": {"type": "integer"},
        "frames": {
            "type": "object",
            "description": "frame and audio lane counters: accepted, delivered, dropped; "
            "per camera (`cameras`), the frames analysed and skipped",
            "properties": {
                "cameras": {"type": "object", "additionalProperties": CAMERA_FRAMES_SCHEMA}
            },
        },
    },
}


async def list_plugins(request: web.Request) -> web.Response:
    return web.json_response(request.app[PLUGINS].describe())


async def one_plugin(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    found = request.app[PLUGINS].describe_one(name)
    if found is None:
        raise ApiError(404, f"no plug-in {name!r}")
    return web.json_response(found)


class RestartBody(Body):
    plugin: str = Field(min_length=1, max_length=128, description="the plug-in's name")


async def restart_plugin(request: web.Request) -> web.Response:
    body = await read_json(request, RestartBody)
    try:
        found = await request.app[PLUGINS].restart(body.plugin)
    except KeyError:
        raise ApiError(404, f"no plug-in {body.plugin!r}") from None
    except PluginNotRestartable as exc:
        raise ApiError(409, str(exc), "not_restartable") from None
    await request.app[AUDIT].record(
        "plugin.restart",
        username=principal(request).username,
        target=body.plugin,
        remote=remote(request),
        detail={"state": found["state"], "reason": found["reason"]},
    )
    return web.json_response(found)


async def plugin_route(request: web.Request) -> web.StreamResponse:
    return await request.app[PLUGINS].handle(request)


def register(api: ApiRegistry) -> None:
    api.route(
        "GET",
        "/api/plugins",
        summary="Every plug-in found: version, source, state and why, health counters, its "
        "runner's CPU, memory and restarts, requested and granted capabilities",
        tag="plugins",
        role="admin",
        response={"type": "array", "items": api.schema("Plugin", PLUGIN_SCHEMA)},
    )(list_plugins)
    api.route(
        "GET",
        "/api/plugins/{name}",
        summary="One plug-in: its state, health (warnings for cameras it cannot keep up "
        "with), and per camera the frames it analysed and skipped",
        tag="plugins",
        role="admin",
        response=api.schema("Plugin", PLUGIN_SCHEMA),
        params=(Param("name", where="path", description="the plug-in's name", required=True),),
        errors=(404,),
    )(one_plugin)

    api.route(
        "POST",
        "/api/plugin-restarts",
        summary="Restart one plug-in: its runner shuts down, its health and restart counters "
        "are forgotten, and it starts again (a quarantined plug-in gets another chance); the "
        "other plug-ins and the recording are not touched",
        tag="plugins",
        role="admin",
        request=schema_of(RestartBody),
        response=api.schema("Plugin", PLUGIN_SCHEMA),
        errors=(404, 409),
    )(restart_plugin)

    for method in PLUGIN_METHODS:
        api.route(
            method,
            PLUGIN_ROUTE_CANONICAL,
            summary="A plug-in's own endpoint (see the plug-in's documentation); public only "
            "where the plug-in says so",
            tag="plugins",
            role="viewer",
            response={},
            # The host's own answers; a plug-in's route documents what it answers itself.
            errors=(400, 404, 503, 504),
        )(plugin_route)
