"""Bookmarks and evidence locks."""

from __future__ import annotations

from aiohttp import web
from pydantic import Field

from vms_core.api.auth import principal, remote
from vms_core.api.bodies import ApiTime, Body, Id, read_json, schema_of
from vms_core.api.errors import ApiError
from vms_core.api.keys import BOOKMARKS
from vms_core.api.params import path_int, query_bool, query_id, query_int, query_time
from vms_core.api.registry import (
    ID_PATH,
    ApiRegistry,
    Param,
    id_param,
    limit_param,
    time_param,
)
from vms_core.bookmarks import BookmarkError, BookmarkRequest, bookmark_json
from vms_core.timeutil import to_us


class NewBookmark(Body):
    cameras: list[Id] = Field(min_length=1, max_length=256)
    start: ApiTime
    end: ApiTime
    reason: str = Field(min_length=1, max_length=2000)
    lock: bool = False


class BookmarkPatch(Body):
    locked: bool


async def list_bookmarks(request: web.Request) -> web.Response:
    who = principal(request)
    cameras = None if who.camera_ids is None else set(who.camera_ids)
    camera = query_id(request, "camera")
    if camera is not None:
        cameras = {camera} & (cameras if cameras is not None else {camera})
    rows = await request.app[BOOKMARKS].query(
        cameras,
        query_time(request, "start"),
        query_time(request, "end"),
        query_bool(request, "locked"),
        query_int(request, "limit", 500, 1, 5000),
    )
    return web.json_response([bookmark_json(r) for r in rows])


async def create(request: web.Request) -> web.Response:
    who = principal(request)
    body = await read_json(request, NewBookmark)
    hidden = [c for c in body.cameras if not who.can_see(c)]
    if hidden:
        raise ApiError(400, f"cameras: no camera {', '.join(map(str, hidden))}")
    try:
        rows = await request.app[BOOKMARKS].create(
            BookmarkRequest(
                camera_ids=body.cameras,
                start_us=to_us(body.start),
                end_us=to_us(body.end),
                reason=body.reason,
                lock=body.lock,
                created_by=who.username,
            ),
            remote=remote(request),
        )
    except BookmarkError as exc:
        raise ApiError(400, str(exc)) from None
    return web.json_response([bookmark_json(r) for r in rows], status=201)


async def patch(request: web.Request) -> web.Response:
    who = principal(request)
    bookmark_id = path_int(request, what="bookmark")
    body = await read_json(request, BookmarkPatch)
    if not body.locked and not who.has_role("admin"):
        raise ApiError(403, "unlocking evidence needs the admin role")
    service = request.app[BOOKMARKS]
    existing = await service.get(bookmark_id)
    if existing is None or not who.can_see(existing.camera_id):
        raise ApiError(404, f"no bookmark {bookmark_id}")
    try:
        row = await service.set_locked(bookmark_id, body.locked, who.username, remote(request))
    except BookmarkError as exc:
        raise ApiError(400, str(exc)) from None
    if row is None:
        raise ApiError(404, f"no bookmark {bookmark_id}")
    return web.json_response(bookmark_json(row))


def register(api: ApiRegistry) -> None:
    schema = api.schema(
        "Bookmark",
        {
            "type": "object",
            "properties": {
                "id": {"type": "integer"},
                "camera_id": {"type": "integer"},
                "start": {"type": "string"},
                "end": {"type": "string"},
                "reason": {"type": "string"},
                "title": {
                    "type": "string",
                    "description": "a short human-readable line; the reason is the detail",
                },
                "kind": {
                    "type": "string",
                    "enum": ["operator", "automatic"],
                    "description": "automatic: made by a plug-in or a rule",
                },
                "locked": {"type": "boolean"},
                "event_id": {"type": ["string", "null"]},
                "created_by": {"type": "string"},
                "created": {"type": "string"},
            },
        },
    )

    api.route(
        "GET",
        "/api/bookmarks",
        summary="Bookmarks on cameras the caller may see",
        tag="evidence",
        response={"type": "array", "items": schema},
        params=(
            id_param("camera"),
            time_param("start"),
            time_param("end"),
            Param("locked", schema={"type": "boolean"}),
            limit_param(500, 5000),
        ),
    )(list_bookmarks)

    api.route(
        "POST",
        "/api/bookmarks",
        summary="Bookmark a range; lock=true makes it evidence retention keeps",
        tag="evidence",
        role="operator",
        request=schema_of(NewBookmark),
        response={"type": "array", "items": schema},
        status=201,
    )(create)

    api.route(
        "PATCH",
        "/api/bookmarks/{id}",
        summary="Lock or unlock (unlock: admins)",
        tag="evidence",
        role="operator",
        request=schema_of(BookmarkPatch),
        response=schema,
        params=(ID_PATH,),
    )(patch)
