"""What is recorded of a camera: spans and gaps for a timeline, segments on request.

A gap before the camera's first recording is ``kind: before_first`` (not recorded yet, or
deleted by retention); every other gap is ``kind: gap`` (the recording stopped).

A camera the caller may not see answers 404, like one that does not exist.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from vms_core.api.auth import principal
from vms_core.api.errors import ApiError
from vms_core.api.keys import CAMERAS, RECORDINGS
from vms_core.api.params import path_int, query_bool, query_int, query_time
from vms_core.api.registry import ID_PATH, ApiRegistry, Param, time_param
from vms_core.limits import TIME_MIN_US
from vms_core.storage.timeline import Piece, spans_and_gaps
from vms_core.timeutil import iso, now_us

DAY_US = 86_400 * 1_000_000
MAX_RANGE_US = 366 * DAY_US
MAX_SEGMENTS = 10_000


async def list_recordings(request: web.Request) -> web.Response:
    camera_id = path_int(request, what="camera")
    if await request.app[CAMERAS].get(camera_id, principal(request)) is None:
        raise ApiError(404, f"no camera {camera_id}")
    now = now_us()
    end = query_time(request, "end") or now
    start = query_time(request, "start")
    start = max(TIME_MIN_US, end - DAY_US) if start is None else start
    if start >= end:
        raise ApiError(400, "start must be before end")
    if end - start > MAX_RANGE_US:
        raise ApiError(400, "the range may span at most 366 days")
    join_us = query_int(request, "join_ms", 500, 0, 60_000) * 1000
    want_segments = bool(query_bool(request, "segments"))
    index = request.app[RECORDINGS]
    segments = await index.segments(camera_id, start, end)
    pieces = []
    listed: list[dict[str, Any]] = []
    for seg in segments:
        # An open segment without a report yet ends, for now, at its start.
        stop = seg.start_us if seg.end_us is None else seg.end_us
        pieces.append(Piece(seg.start_us, stop, seg.bytes))
        if want_segments and len(listed) < MAX_SEGMENTS:
            listed.append(
                {"start": iso(seg.start_us), "end": iso(stop), "bytes": seg.bytes, "open": seg.open}
            )
    spans, gaps = spans_and_gaps(pieces, start, min(end, now), join_us)
    first = await index.first_recording_us(camera_id)
    body: dict[str, Any] = {
        "camera_id": camera_id,
        "start": iso(start),
        "end": iso(end),
        "recorded_seconds": round(sum(s.end_us - s.start_us for s in spans) / 1e6, 3),
        "first_recorded": iso(first) if first is not None else None,
        "spans": [
            {
                "start": iso(s.start_us),
                "end": iso(s.end_us),
                "seconds": round((s.end_us - s.start_us) / 1e6, 3),
                "bytes": s.bytes,
                "segments": s.segments,
            }
            for s in spans
        ],
        "gaps": [
            {
                "start": iso(a),
                "end": iso(b),
                "seconds": round((b - a) / 1e6, 3),
                "kind": "before_first" if first is None or b <= first else "gap",
            }
            for a, b in gaps
        ],
    }
    if want_segments:
        body["segments"] = listed
        body["truncated"] = len(segments) > len(listed)
    return web.json_response(body)


def register(api: ApiRegistry) -> None:
    times: dict[str, Any] = {
        "start": {"type": "string"},
        "end": {"type": "string"},
        "seconds": {"type": "number"},
    }
    interval = {"type": "object", "properties": times}
    gap = {
        "type": "object",
        "properties": {
            **times,
            "kind": {
                "type": "string",
                "enum": ["gap", "before_first"],
                "description": "before_first: before the camera's first recording kept "
                "(not recorded yet, or deleted by retention)",
            },
        },
    }
    schema = api.schema(
        "Recordings",
        {
            "type": "object",
            "properties": {
                "camera_id": {"type": "integer"},
                "start": {"type": "string"},
                "end": {"type": "string"},
                "recorded_seconds": {"type": "number"},
                "first_recorded": {"type": ["string", "null"]},
                "spans": {"type": "array", "items": interval},
                "gaps": {"type": "array", "items": gap},
                "segments": {"type": "array", "items": {"type": "object"}},
                "truncated": {"type": "boolean"},
            },
        },
    )

    api.route(
        "GET",
        "/api/cameras/{id}/recordings",
        summary="Recorded spans and gaps of a camera in a time range (default: the last "
        "24 h); segments=true lists the segments too",
        tag="recordings",
        response=schema,
        params=(
            ID_PATH,
            time_param("start", "default: a day before end"),
            time_param("end", "default: now"),
            Param("segments", schema={"type": "boolean"}),
            Param(
                "join_ms",
                schema={"type": "integer", "minimum": 0, "maximum": 60_000},
                description="neighbours closer than this are one span (default 500)",
            ),
        ),
    )(list_recordings)
