"""What is recorded of a camera: spans and gaps for a timeline, segments on request.

A gap before the camera's first recording is ``kind: before_first`` (not recorded yet, or
deleted by retention); every other gap is ``kind: gap`` (the recording stopped).

A camera the caller may not see answers 404, like one that does not exist.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy import func, select

from vms_core.api.app import server_of
from vms_core.api.auth import principal
from vms_core.api.errors import ApiError
from vms_core.api.params import path_int, query_bool, query_int, query_time
from vms_core.api.registry import ID_PATH, ApiRegistry, Param, time_param
from vms_core.db.models import Segment
from vms_core.limits import TIME_MIN_US
from vms_core.storage.catalog import first_recording_us
from vms_core.storage.timeline import Piece, spans_and_gaps
from vms_core.timeutil import iso, now_us

DAY_US = 86_400 * 1_000_000
MAX_RANGE_US = 366 * DAY_US
MAX_SEGMENTS = 10_000


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

    @api.route(
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
    )
    async def list_recordings(request: web.Request) -> web.Response:
        server = server_of(request)
        camera_id = path_int(request, what="camera")
        if await server.cameras.get(camera_id, principal(request)) is None:
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
        live = server.recording.live_segments(camera_id) if server.recording is not None else []
        async with server.db.session() as session:
            rows = list(
                await session.execute(
                    select(Segment.start_us, Segment.end_us, Segment.bytes, Segment.path)
                    .where(
                        Segment.camera_id == camera_id,
                        Segment.start_us < end,
                        func.coalesce(Segment.end_us, now) > start,
                    )
                    .order_by(Segment.start_us)
                )
            )
        # The recorder's own account wins over the row: the catalog is written in batches,
        # so a row may lag (an open segment's live edge, a close not written yet).
        segments = {
            path: (seg_start, seg_end, size, seg_end is None)
            for seg_start, seg_end, size, path in rows
        }
        for seg in live:
            if seg.start_us < end and seg.end_us > start:
                segments[seg.path] = (seg.start_us, seg.end_us, seg.bytes, not seg.closed)
        pieces = []
        listed: list[dict[str, Any]] = []
        for seg_start, stop, size, is_open in sorted(segments.values(), key=lambda s: s[0]):
            # An open segment without a report yet ends, for now, at its start.
            stop = seg_start if stop is None else stop
            pieces.append(Piece(seg_start, stop, size))
            if want_segments and len(listed) < MAX_SEGMENTS:
                listed.append(
                    {
                        "start": iso(seg_start),
                        "end": iso(stop),
                        "bytes": size,
                        "open": is_open,
                    }
                )
        spans, gaps = spans_and_gaps(pieces, start, min(end, now), join_us)
        first = await first_recording_us(server.db, camera_id)
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
