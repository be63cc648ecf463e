"""Health and the API description: the two routes that need no login."""

from __future__ import annotations

from aiohttp import web

from vms_core.api.keys import API_TABLE, VERSION
from vms_core.api.registry import ApiRegistry
from vms_core.timeutil import iso, now_us


async def health(request: web.Request) -> web.Response:
    return web.json_response(
        {"status": "ok", "version": request.app[VERSION], "time": iso(now_us())}
    )


async def openapi(request: web.Request) -> web.Response:
    return web.json_response(request.app[API_TABLE].openapi(request.app[VERSION]))


def register(api: ApiRegistry) -> None:
    api.route(
        "GET",
        "/api/health",
        summary="Liveness and version",
        tag="system",
        role=None,
        response={
            "type": "object",
            "properties": {
                "status": {"type": "string"},
                "version": {"type": "string"},
                "time": {"type": "string", "format": "date-time"},
            },
        },
    )(health)
    api.route(
        "GET",
        "/api/openapi.json",
        summary="This API's OpenAPI 3.1 document",
        tag="system",
        role=None,
        response={"type": "object"},
    )(openapi)
