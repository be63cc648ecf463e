"""Storage usage and retention: what recordings take, what is locked, what retention did."""

from __future__ import annotations

from aiohttp import web

from vms_core.api.keys import STORAGE
from vms_core.api.registry import ApiRegistry


async def get_storage(request: web.Request) -> web.Response:
    return web.json_response(await request.app[STORAGE].report())


def register(api: ApiRegistry) -> None:
    schema = api.schema(
        "Storage",
        {
            "type": "object",
            "properties": {
                "cameras": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "id": {"type": "integer"},
                            "name": {"type": "string"},
                            "segments": {"type": "integer"},
                            "bytes": {"type": "integer"},
                            "locked_bytes": {"type": "integer"},
                            "oldest": {"type": ["string", "null"]},
                            "max_days": {"type": "number"},
                            "max_bytes": {"type": ["integer", "null"]},
                        },
                    },
                },
                "total": {"type": "object"},
                "disk": {
                    "type": "object",
                    "properties": {
                        "path": {"type": "string"},
                        "total_bytes": {"type": ["integer", "null"]},
                        "free_bytes": {"type": ["integer", "null"]},
                        "floor_bytes": {
                            "type": "integer",
                            "description": "free space retention keeps: min_free_bytes plus "
                            "room for the open segments still growing (its last pass)",
                        },
                    },
                },
                "limits": {"type": "object"},
                "last_run": {"type": ["object", "null"]},
            },
        },
    )

    api.route(
        "GET",
        "/api/storage",
        role="admin",
        summary="Recording usage per camera and in total (locked apart), free disk, "
        "limits and retention's last pass",
        tag="recordings",
        response=schema,
    )(get_storage)
