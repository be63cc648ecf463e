"""What a camera's timeline draws besides its recordings: the density of its events."""

from __future__ import annotations

from aiohttp import web

from vms_core.api.auth import principal
from vms_core.api.errors import ApiError
from vms_core.api.keys import CAMERAS, EVENT_DENSITY
from vms_core.api.params import path_int, query_int, query_time
from vms_core.api.registry import ApiRegistry, Param
from vms_core.timeutil import iso, now_us

DAY_US = 86_400 * 1_000_000
MAX_RANGE_US = 366 * DAY_US
MIN_BUCKET_US = 1_000_000


async def event_density(request: web.Request) -> web.Response:
    camera_id = path_int(request, what="camera")
    if await request.app[CAMERAS].get(camera_id, principal(request)) is None:
        raise ApiError(404, f"no camera {camera_id}")
    end = query_time(request, "end") or now_us()
    start = query_time(request, "start")
    start = end - DAY_US if start is None else start
    if start >= end:
        raise ApiError(400, "query parameter start: must be before end")
    if end - start > MAX_RANGE_US:
        raise ApiError(400, "query parameter start: the range may span at most 366 days")
    buckets = query_int(request, "buckets", 200, 1, 2000)
    bucket_us = max(MIN_BUCKET_US, -(-(end - start) // buckets))
    rows = await request.app[EVENT_DENSITY].per_bucket(camera_id, start, end, bucket_us)
    return web.json_response(
        {
            "camera_id": camera_id,
            "start": iso(start),
            "end": iso(end),
            "bucket_seconds": bucket_us / 1e6,
            "buckets": [
                {
                    "start": iso(start + row.index * bucket_us),
                    "motion": row.motion,
                    "events": row.events,
                }
                for row in rows
            ],
        }
    )


def register(api: ApiRegistry) -> None:
    bucket = {
        "type": "object",
        "properties": {
            "start": {"type": "string"},
            "motion": {"type": "integer", "description": "motion.* events starting in it"},
            "events": {"type": "integer", "description": "other events (not *.end)"},
        },
    }
    api.route(
        "GET",
        "/api/cameras/{id}/events/density",
        summary="How many events a camera had per time bucket (a timeline's density strip); "
        "only buckets with events are listed",
        tag="events",
        params=(
            Param("start", description="ISO 8601 with zone, or epoch seconds; default end - 24 h"),
            Param("end", description="default now"),
            Param(
                "buckets",
                schema={"type": "integer", "minimum": 1, "maximum": 2000},
                description="how many buckets the range is cut into (default 200); a "
                "bucket lasts at least 1 s",
            ),
        ),
        response=api.schema(
            "EventDensity",
            {
                "type": "object",
                "properties": {
                    "camera_id": {"type": "integer"},
                    "start": {"type": "string"},
                    "end": {"type": "string"},
                    "bucket_seconds": {"type": "number"},
                    "buckets": {"type": "array", "items": bucket},
                },
            },
        ),
    )(event_density)
