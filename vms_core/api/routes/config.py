"""Configuration reload, the API twin of SIGHUP."""

from __future__ import annotations

from aiohttp import web

from vms_core.api.auth import principal
from vms_core.api.errors import ApiError
from vms_core.api.keys import RELOAD_CONFIG
from vms_core.api.registry import ApiRegistry
from vms_core.config import ConfigError


async def reload(request: web.Request) -> web.Response:
    try:
        report = await request.app[RELOAD_CONFIG](principal(request).username)
    except ConfigError as exc:
        raise ApiError(422, exc.report(), "invalid_config") from None
    return web.json_response(report.as_json())


def register(api: ApiRegistry) -> None:
    api.route(
        "POST",
        "/api/config/reload",
        summary="Re-read vms.toml; apply cameras, rules, retention, plug-ins; report the rest",
        tag="config",
        role="admin",
        errors=(422,),
        response={
            "type": "object",
            "properties": {
                "changes": {"type": "array", "items": {"type": "object"}},
                "rules": {"type": "object"},
                "plugins": {"type": "array", "items": {"type": "string"}},
                "retention_changed": {"type": "boolean"},
                "restart_needed": {"type": "array", "items": {"type": "string"}},
            },
        },
    )(reload)
