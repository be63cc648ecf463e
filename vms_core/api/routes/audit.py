"""The audit log, for admins."""

from __future__ import annotations

from aiohttp import web

from vms_core.api.keys import AUDIT
from vms_core.api.params import query_int, query_text, query_time
from vms_core.api.registry import ApiRegistry, Param, limit_param, time_param
from vms_core.timeutil import iso


async def audit(request: web.Request) -> web.Response:
    entries = await request.app[AUDIT].entries(
        action=query_text(request, "action", 64),
        username=query_text(request, "username", 128),
        since_us=query_time(request, "since"),
        until_us=query_time(request, "until"),
        limit=query_int(request, "limit", 200, 1, 1000),
    )
    return web.json_response(
        [
            {
                "id": e.id,
                "time": iso(e.time_us),
                "username": e.username,
                "action": e.action,
                "target": e.target,
                "success": e.success,
                "remote": e.remote,
                "detail": e.detail,
            }
            for e in entries
        ]
    )


def register(api: ApiRegistry) -> None:
    schema = api.schema(
        "AuditEntry",
        {
            "type": "object",
            "properties": {
                "id": {"type": "integer"},
                "time": {"type": "string"},
                "username": {"type": "string"},
                "action": {"type": "string"},
                "target": {"type": "string"},
                "success": {"type": "boolean"},
                "remote": {"type": "string"},
                "detail": {"type": "object"},
            },
        },
    )
    api.route(
        "GET",
        "/api/audit",
        summary="Audit log, newest first",
        tag="audit",
        role="admin",
        response={"type": "array", "items": schema},
        params=(
            Param("action", description="exact action, or a prefix ending in '.'"),
            Param("username"),
            time_param("since"),
            time_param("until"),
            limit_param(200, 1000),
        ),
    )(audit)
