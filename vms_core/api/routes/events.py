"""Events: query, live stream (Server-Sent Events), and publishing by integrations."""

from __future__ import annotations

import asyncio
import contextlib
import json
from datetime import UTC, datetime
from typing import Any, Literal

from aiohttp import web
from pydantic import Field
from vms_sdk import Event, Severity

from vms_core.api.auth import principal
from vms_core.api.bodies import ApiTime, Body, Id, read_json, schema_of
from vms_core.api.errors import ApiError
from vms_core.api.keys import ALARMS, CAMERAS, EVENT_BUS, EVENT_SEARCH
from vms_core.api.params import is_storable, query_id, query_int, query_text, query_time
from vms_core.api.registry import ApiRegistry, Param, id_param, limit_param, time_param
from vms_core.events import event_json
from vms_core.events.bus import Broadcast
from vms_core.events.kinds import KINDS, EventKind
from vms_core.events.search import CURSOR_PATTERN, Cursor, CursorError, EventFilter

EVENT_SCHEMA = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "type": {"type": "string"},
        "time": {"type": "string", "format": "date-time"},
        "camera_ids": {"type": "array", "items": {"type": "integer"}},
        "lat": {"type": ["number", "null"]},
        "lon": {"type": ["number", "null"]},
        "severity": {"type": "string", "enum": [s.value for s in Severity]},
        "kind": {"type": "string", "enum": list(KINDS)},
        "label": {"type": "string", "description": "a short name for people"},
        "source": {"type": "string"},
        "data": {"type": "object"},
    },
}


MAX_RADIUS_M = 20_000_000.0  # half the Earth's circumference: every point is nearer


class NewEvent(Body):
    type: str = Field(pattern=r"^[a-z0-9_]+(\.[a-z0-9_]+)+$", max_length=128)
    time: ApiTime | None = None
    camera_ids: list[Id] = Field(default_factory=list, max_length=256)
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    severity: Literal["info", "low", "medium", "high", "critical"] = "info"
    data: dict[str, Any] = Field(default_factory=dict)
    id: str | None = Field(default=None, min_length=1, max_length=64)


def _near(request: web.Request) -> tuple[float, float, float] | None:
    raw = request.query.get("near")
    if not raw:
        return None
    try:
        lat, lon, radius = (float(x) for x in raw.split(","))
    except ValueError:  # not three numbers
        raise ApiError(
            400, f"query parameter near: expected lat,lon,radius_m, got {raw[:80]!r}"
        ) from None
    # Comparisons are false for NaN, so NaN fails here too; infinity fails the radius bound.
    if not (-90 <= lat <= 90 and -180 <= lon <= 180 and 0 < radius <= MAX_RADIUS_M):
        raise ApiError(400, f"query parameter near: out of range: {raw[:80]!r}")
    return lat, lon, radius


SEVERITIES = [s.value for s in Severity]
KINDS_PATTERN = f"^(({'|'.join(KINDS)})(,({'|'.join(KINDS)}))*)?$"
MAX_UID_CHARS = 64  # as stored (events.uid)


def _kinds_param(request: web.Request) -> tuple[EventKind, ...]:
    raw = request.query.get("kind") or ""
    kinds: list[EventKind] = []
    for part in raw.split(",") if raw else []:
        if part not in KINDS:
            raise ApiError(
                400, f"query parameter kind: expected {', '.join(KINDS)}, got {part[:40]!r}"
            )
        kinds.append(part)
    return tuple(kinds)


def _severity_param(request: web.Request) -> str | None:
    raw = request.query.get("severity")
    if raw is not None and raw not in SEVERITIES:
        raise ApiError(
            400, f"query parameter severity: expected {', '.join(SEVERITIES)}, got {raw[:40]!r}"
        )
    return raw


def cursor_param(request: web.Request) -> Cursor | None:
    """The ``after`` query parameter: where the previous page ended."""
    raw = request.query.get("after")
    if raw is None:
        return None
    try:
        return Cursor.parse(raw)
    except CursorError as exc:
        raise ApiError(400, f"query parameter after: {exc}") from None


async def search_events(request: web.Request) -> web.Response:
    """The events page: the catalog searched server-side, a page at a time."""
    who = principal(request)
    found = EventFilter(
        type_pattern=query_text(request, "type", 128),
        camera_id=query_id(request, "camera"),
        min_severity=_severity_param(request),
        kinds=_kinds_param(request),
        since_us=query_time(request, "since"),
        until_us=query_time(request, "until"),
        visible=who.camera_ids,
    )
    page = await request.app[EVENT_SEARCH].page(
        found, query_int(request, "limit", 100, 1, 500), cursor_param(request)
    )
    bus = request.app[EVENT_BUS]
    events = [e for e in map(bus.readable, page.rows) if e is not None]
    return web.json_response(
        {
            "events": [event_json(e) for e in events],
            "next": page.next.text() if page.next is not None else None,
        }
    )


async def get_event(request: web.Request) -> web.Response:
    """One event by id, whatever its age, with its alarm if it has one."""
    who = principal(request)
    uid = request.match_info["id"]
    # An id no event can have (too long, or text no column stores) is simply not found.
    row, found = None, None
    if len(uid) <= MAX_UID_CHARS and is_storable(uid):
        row = await request.app[EVENT_SEARCH].by_uid(uid, who.camera_ids)
        found = request.app[EVENT_BUS].readable(row) if row is not None else None
    if row is None or found is None:
        raise ApiError(404, f"no event {uid[:MAX_UID_CHARS]!r}")
    alarm = await request.app[ALARMS].for_event(row.id)
    return web.json_response({**event_json(found), "alarm": alarm})


async def list_events(request: web.Request) -> web.Response:
    who = principal(request)
    events = await request.app[EVENT_BUS].query(
        type_pattern=query_text(request, "type", 128),
        camera_id=query_id(request, "camera"),
        visible=who.camera_ids,
        since_us=query_time(request, "since"),
        until_us=query_time(request, "until"),
        near=_near(request),
        limit=query_int(request, "limit", 200, 1, 1000),
    )
    return web.json_response([event_json(e) for e in events])


async def publish(request: web.Request) -> web.Response:
    who = principal(request)
    body = await read_json(request, NewEvent)
    known = await request.app[CAMERAS].existing_ids(body.camera_ids)
    for cid in body.camera_ids:
        if not who.can_see(cid) or cid not in known:
            raise ApiError(400, f"camera_ids: no camera {cid}")
    time = body.time or datetime.now(UTC)
    kwargs: dict[str, Any] = {"id": body.id} if body.id else {}
    event = await request.app[EVENT_BUS].publish(
        Event(
            type=body.type,
            time=time,
            camera_ids=tuple(str(c) for c in body.camera_ids),
            lat=body.lat,
            lon=body.lon,
            severity=Severity(body.severity),
            source=f"api:{who.username}",
            data=body.data,
            **kwargs,
        )
    )
    return web.json_response(event_json(event), status=201)


async def stream(request: web.Request) -> web.StreamResponse:
    who = principal(request)
    bus = request.app[EVENT_BUS]
    queue = bus.live_queue()
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
    )
    await response.prepare(request)
    try:
        await response.write(b": connected\n\n")
        while True:
            try:
                event = await asyncio.wait_for(queue.get(), timeout=15)
            except TimeoutError:
                await response.write(b": keep-alive\n\n")
                continue
            if event is None:
                break
            if isinstance(event, Broadcast):
                if event.camera_ids and not any(who.can_see(c) for c in event.camera_ids):
                    continue
                data = json.dumps(event.payload)
                await response.write(f"event: {event.name}\ndata: {data}\n\n".encode())
                continue
            if (
                event.camera_ids
                and who.camera_ids is not None
                and not any(int(c) in who.camera_ids for c in event.camera_ids)
            ):
                continue
            data = json.dumps(event_json(event))
            await response.write(f"event: event\ndata: {data}\n\n".encode())
    except ConnectionError:  # a reset, or aiohttp's "Connection lost"
        pass  # the browser went away
    finally:
        bus.drop_live(queue)
        with contextlib.suppress(ConnectionError):  # the browser went away
            await response.write_eof()
    return response


def register(api: ApiRegistry) -> None:
    schema = api.schema("Event", EVENT_SCHEMA)

    api.route(
        "GET",
        "/api/events",
        summary="Events, newest first",
        tag="events",
        response={"type": "array", "items": schema},
        params=(
            Param("type", description="exact type, or a prefix ending in *"),
            id_param("camera"),
            time_param("since"),
            time_param("until"),
            Param("near", description="lat,lon,radius_m"),
            limit_param(200, 1000),
        ),
    )(list_events)

    api.route(
        "POST",
        "/api/events",
        summary="Publish an event (integrations)",
        tag="events",
        role="operator",
        request=schema_of(NewEvent),
        response=schema,
        status=201,
    )(publish)

    api.route(
        "GET",
        "/api/events/stream",
        summary="New events as Server-Sent Events (event: event), and alarm changes (event: alarm)",
        tag="events",
        response={"type": "string"},
        content_type="text/event-stream",
    )(stream)

    # After /api/events/stream: the router tries resources in the order they are added.
    api.route(
        "GET",
        "/api/events/search",
        summary="Search the event catalog, newest first, a page at a time (keyset paging: "
        "pass the answer's next as after)",
        tag="events",
        response={
            "type": "object",
            "properties": {
                "events": {"type": "array", "items": schema},
                "next": {
                    "type": ["string", "null"],
                    "description": "cursor of the next page; null on the last",
                },
            },
        },
        params=(
            Param(
                "type",
                schema={"type": "string", "maxLength": 128},
                description="exact type, or a prefix ending in *",
            ),
            id_param("camera", "events about this camera"),
            Param(
                "severity",
                schema={"type": "string", "enum": SEVERITIES},
                description="this severity or higher",
            ),
            Param(
                "kind",
                schema={"type": "string", "pattern": KINDS_PATTERN},
                description=f"comma-separated kinds to include: {', '.join(KINDS)}",
            ),
            time_param("since"),
            time_param("until"),
            Param(
                "after",
                schema={"type": "string", "pattern": CURSOR_PATTERN},
                description="the next cursor of the previous page",
            ),
            limit_param(100, 500),
        ),
    )(search_events)
    api.route(
        "GET",
        "/api/events/{id}",
        summary="One event by id, whatever its age, with its alarm (or null)",
        tag="events",
        params=(Param("id", where="path", schema={"type": "string"}, description="event id"),),
        response={
            "allOf": [
                schema,
                {
                    "type": "object",
                    "properties": {
                        "alarm": {
                            "oneOf": [{"$ref": "#/components/schemas/Alarm"}, {"type": "null"}]
                        }
                    },
                },
            ]
        },
    )(get_event)
