"""The alarm queue: list, look, acknowledge, assign, note, close, thumbnail.

Every operator sees the same queue (the catalog holds it); changes reach every console as
``event: alarm`` messages on ``/api/events/stream``. An alarm about cameras the caller may
not see answers 404, like one that does not exist.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import Field

from vms_core import accounts
from vms_core.alarms import Actor, AlarmError
from vms_core.alarms.service import MAX_NOTE_CHARS, OPEN_STATES, STATES
from vms_core.api.auth import principal, remote
from vms_core.api.bodies import Body, read_json, schema_of
from vms_core.api.errors import ApiError
from vms_core.api.keys import ALARMS
from vms_core.api.params import path_int, query_int
from vms_core.api.registry import ID_PATH, ApiRegistry, Param, limit_param
from vms_core.api.routes.events import cursor_param
from vms_core.events.search import CURSOR_PATTERN

STATE_NAMES = "|".join(STATES)
STATE_PATTERN = f"^(open|({STATE_NAMES})(,({STATE_NAMES}))*)$"


class Assignment(Body):
    assignee: str | None = Field(
        pattern=accounts.USERNAME_PATTERN, description="a username, or null to unassign"
    )


class Note(Body):
    # Some text besides spaces.
    text: str = Field(min_length=1, max_length=MAX_NOTE_CHARS, pattern=r"\S")


class Closing(Body):
    note: str | None = Field(default=None, max_length=MAX_NOTE_CHARS)


def _actor(request: web.Request) -> Actor:
    who = principal(request)
    return Actor(who.username, who.camera_ids, remote(request))


def _answer(alarm: dict[str, Any]) -> web.Response:
    return web.json_response(alarm)


def _failed(exc: AlarmError) -> ApiError:
    return ApiError(exc.status, exc.message)


async def list_alarms(request: web.Request) -> web.Response:
    raw = request.query.get("state", "open")
    states = OPEN_STATES if raw == "open" else tuple(raw.split(","))
    if any(s not in STATES for s in states):
        raise ApiError(
            400,
            f"query parameter state: expected open or {', '.join(STATES)}, got {raw[:40]!r}",
        )
    who = principal(request)
    alarms = request.app[ALARMS]
    limit = query_int(request, "limit", 100, 1, 500)
    page = await alarms.page(who.camera_ids, states, limit, cursor_param(request))
    return web.json_response(
        {
            "alarms": page.alarms,
            "next": page.next.text() if page.next is not None else None,
            "open": await alarms.counts(who.camera_ids),
        }
    )


async def get_alarm(request: web.Request) -> web.Response:
    alarm_id = path_int(request, what="alarm")
    try:
        return _answer(await request.app[ALARMS].get(alarm_id, principal(request).camera_ids))
    except AlarmError as exc:
        raise _failed(exc) from None


async def acknowledge(request: web.Request) -> web.Response:
    alarm_id = path_int(request, what="alarm")
    try:
        return _answer(await request.app[ALARMS].acknowledge(alarm_id, _actor(request)))
    except AlarmError as exc:
        raise _failed(exc) from None


async def assign(request: web.Request) -> web.Response:
    alarm_id = path_int(request, what="alarm")
    body = await read_json(request, Assignment)
    try:
        return _answer(await request.app[ALARMS].assign(alarm_id, body.assignee, _actor(request)))
    except AlarmError as exc:
        raise _failed(exc) from None


async def add_note(request: web.Request) -> web.Response:
    alarm_id = path_int(request, what="alarm")
    body = await read_json(request, Note)
    try:
        alarm = await request.app[ALARMS].add_note(alarm_id, body.text, _actor(request))
    except AlarmError as exc:
        raise _failed(exc) from None
    return web.json_response(alarm, status=201)


async def close(request: web.Request) -> web.Response:
    alarm_id = path_int(request, what="alarm")
    body = await read_json(request, Closing)
    try:
        return _answer(await request.app[ALARMS].close(alarm_id, _actor(request), body.note))
    except AlarmError as exc:
        raise _failed(exc) from None


async def thumbnail(request: web.Request) -> web.Response:
    alarm_id = path_int(request, what="alarm")
    try:
        jpeg = await request.app[ALARMS].thumbnail(alarm_id, principal(request).camera_ids)
    except AlarmError as exc:
        raise _failed(exc) from None
    # The picture of an alarm never changes once taken.
    return web.Response(
        body=jpeg, content_type="image/jpeg", headers={"Cache-Control": "private, max-age=86400"}
    )


ALARM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "state": {"type": "string", "enum": list(STATES)},
        "severity": {"type": "string"},
        "time": {"type": "string", "format": "date-time"},
        "event": {"$ref": "#/components/schemas/Event"},
        "assignee": {"type": ["string", "null"]},
        "acknowledged_by": {"type": ["string", "null"]},
        "acknowledged": {"type": ["string", "null"]},
        "closed_by": {"type": ["string", "null"]},
        "closed": {"type": ["string", "null"]},
        "created": {"type": "string"},
        "updated": {"type": "string"},
        "thumbnail": {
            "type": "object",
            "properties": {
                "state": {"type": "string", "enum": ["pending", "ready", "none"]},
                "note": {"type": "string"},
                "url": {"type": ["string", "null"]},
            },
        },
        "notes": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "time": {"type": "string"},
                    "username": {"type": "string"},
                    "text": {"type": "string"},
                },
            },
        },
    },
}
_CONFLICT = ((409, "The alarm's state does not allow it (the message says who was first)"),)


def register(api: ApiRegistry) -> None:
    schema = api.schema("Alarm", ALARM_SCHEMA)
    api.route(
        "GET",
        "/api/alarms",
        summary="The alarm queue, newest first (default: the open alarms), with the counts "
        "of open alarms by state",
        tag="alarms",
        params=(
            Param(
                "state",
                schema={"type": "string", "pattern": STATE_PATTERN},
                description="open (new and acknowledged; the default), or a comma list of states",
            ),
            Param(
                "after",
                schema={"type": "string", "pattern": CURSOR_PATTERN},
                description="the next cursor of the previous page",
            ),
            limit_param(100, 500),
        ),
        response={
            "type": "object",
            "properties": {
                "alarms": {"type": "array", "items": schema},
                "next": {"type": ["string", "null"]},
                "open": {
                    "type": "object",
                    "properties": {s: {"type": "integer"} for s in OPEN_STATES},
                },
            },
        },
    )(list_alarms)
    api.route(
        "GET",
        "/api/alarms/{id}",
        summary="One alarm with its notes",
        tag="alarms",
        params=(ID_PATH,),
        response=schema,
    )(get_alarm)
    api.route(
        "POST",
        "/api/alarms/{id}/acknowledge",
        params=(ID_PATH,),
        summary="Acknowledge a new alarm (I am on it)",
        tag="alarms",
        role="operator",
        response=schema,
        errors=_CONFLICT,
    )(acknowledge)
    api.route(
        "POST",
        "/api/alarms/{id}/assign",
        params=(ID_PATH,),
        summary="Assign an open alarm to a user (null: nobody)",
        tag="alarms",
        role="operator",
        request=schema_of(Assignment),
        response=schema,
        errors=_CONFLICT,
    )(assign)
    api.route(
        "POST",
        "/api/alarms/{id}/notes",
        params=(ID_PATH,),
        summary="Add a note to an alarm",
        tag="alarms",
        role="operator",
        request=schema_of(Note),
        response=schema,
        status=201,
        errors=_CONFLICT,
    )(add_note)
    api.route(
        "POST",
        "/api/alarms/{id}/close",
        params=(ID_PATH,),
        summary="Close an alarm, with an optional closing note",
        tag="alarms",
        role="operator",
        request=schema_of(Closing),
        response=schema,
        errors=_CONFLICT,
    )(close)
    api.route(
        "GET",
        "/api/alarms/{id}/thumbnail.jpg",
        params=(ID_PATH,),
        summary="The alarm's picture: its camera at the event time",
        tag="alarms",
        response={"type": "string", "format": "binary"},
        content_type="image/jpeg",
    )(thumbnail)
