"""Saved views of the video wall (vms_core.views): a user's own, and shared ones that
admins make."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import Field

from vms_core.api.auth import principal
from vms_core.api.bodies import Body, read_json, schema_of
from vms_core.api.errors import ApiError
from vms_core.api.keys import VIEWS
from vms_core.api.params import path_int
from vms_core.api.registry import ApiRegistry
from vms_core.timeutil import iso
from vms_core.views import View, ViewError, ViewSpec


class ViewBody(Body):
    name: str = Field(min_length=1, max_length=64)
    layout: int = Field(description="tiles on the wall: 1, 4, 9 or 16")
    tiles: list[int | None] = Field(
        max_length=16, description="a camera id per tile (null: empty), one per tile"
    )


class NewView(ViewBody):
    shared: bool = Field(default=False, description="offered to every user (admins only)")


VIEW_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "name": {"type": "string"},
        "shared": {"type": "boolean"},
        "layout": {"type": "integer", "enum": [1, 4, 9, 16]},
        "tiles": {
            "type": "array",
            "items": {"type": ["integer", "null"]},
            "description": "null: an empty tile, or a camera the caller may not see",
        },
        "created_by": {"type": "string"},
        "updated": {"type": "string"},
        "editable": {"type": "boolean", "description": "the caller may change it"},
    },
}


def view_json(view: View) -> dict[str, Any]:
    return {
        "id": view.id,
        "name": view.name,
        "shared": view.shared,
        "layout": view.layout,
        "tiles": view.tiles,
        "created_by": view.created_by,
        "updated": iso(view.updated_us),
        "editable": view.editable,
    }


def _spec(body: ViewBody) -> ViewSpec:
    return ViewSpec(body.name.strip(), body.layout, list(body.tiles))


async def list_views(request: web.Request) -> web.Response:
    views = await request.app[VIEWS].list(principal(request))
    return web.json_response([view_json(v) for v in views])


async def create_view(request: web.Request) -> web.Response:
    body = await read_json(request, NewView)
    try:
        view = await request.app[VIEWS].create(principal(request), _spec(body), body.shared)
    except ViewError as exc:
        raise ApiError(exc.status, str(exc)) from None
    return web.json_response(view_json(view), status=201)


async def update_view(request: web.Request) -> web.Response:
    view_id = path_int(request, what="view")
    body = await read_json(request, ViewBody)
    try:
        view = await request.app[VIEWS].update(principal(request), view_id, _spec(body))
    except ViewError as exc:
        raise ApiError(exc.status, str(exc)) from None
    return web.json_response(view_json(view))


async def delete_view(request: web.Request) -> web.Response:
    view_id = path_int(request, what="view")
    try:
        await request.app[VIEWS].delete(principal(request), view_id)
    except ViewError as exc:
        raise ApiError(exc.status, str(exc)) from None
    return web.Response(status=204)


def register(api: ApiRegistry) -> None:
    schema = api.schema("View", VIEW_SCHEMA)
    api.route(
        "GET",
        "/api/views",
        summary="Saved wall views: the caller's own and the shared ones",
        tag="views",
        response={"type": "array", "items": schema},
    )(list_views)
    api.route(
        "POST",
        "/api/views",
        summary="Save a wall view (shared=true: offered to everyone; admins only)",
        tag="views",
        request=schema_of(NewView),
        response=schema,
        status=201,
        errors=((409, "the caller (or, shared, anyone) has a view of that name"),),
    )(create_view)
    api.route(
        "PUT",
        "/api/views/{id}",
        summary="Change a saved view (a shared one: admins only)",
        tag="views",
        request=schema_of(ViewBody),
        response=schema,
        errors=((409, "the new name is taken"),),
    )(update_view)
    api.route(
        "DELETE",
        "/api/views/{id}",
        summary="Delete a saved view (a shared one: admins only)",
        tag="views",
        status=204,
    )(delete_view)
