"""The audit log, for admins."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import select

from vms_core.api.app import server_of
from vms_core.api.params import query_int, query_text, query_time
from vms_core.api.registry import ApiRegistry, Param, limit_param, time_param
from vms_core.db.models import AuditEntry
from vms_core.timeutil import iso


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

    @api.route(
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
    )
    async def audit(request: web.Request) -> web.Response:
        query = select(AuditEntry).order_by(AuditEntry.time_us.desc(), AuditEntry.id.desc())
        action = query_text(request, "action", 64)
        if action:
            query = query.where(
                AuditEntry.action.startswith(action)
                if action.endswith(".")
                else AuditEntry.action == action
            )
        username = query_text(request, "username", 128)
        if username:
            query = query.where(AuditEntry.username == username)
        since, until = query_time(request, "since"), query_time(request, "until")
        if since is not None:
            query = query.where(AuditEntry.time_us >= since)
        if until is not None:
            query = query.where(AuditEntry.time_us <= until)
        query = query.limit(query_int(request, "limit", 200, 1, 1000))
        async with server_of(request).db.session() as session:
            rows = list(await session.scalars(query))
        return web.json_response(
            [
                {
                    "id": r.id,
                    "time": iso(r.time_us),
                    "username": r.username,
                    "action": r.action,
                    "target": r.target,
                    "success": r.success,
                    "remote": r.remote,
                    "detail": r.detail,
                }
                for r in rows
            ]
        )
