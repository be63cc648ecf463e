"""User administration (admins only)."""

from __future__ import annotations

from typing import Literal

from aiohttp import web
from pydantic import Field

from vms_core.accounts import USERNAME_PATTERN, AccountConflict, AccountError
from vms_core.accounts.service import UnknownUser, UserChange, UserView
from vms_core.api.auth import own_credential, principal, remote
from vms_core.api.bodies import Body, Id, read_json, schema_of
from vms_core.api.errors import ApiError
from vms_core.api.keys import ACCOUNTS, AUDIT, CAMERAS, LIVE_VIEW
from vms_core.api.params import path_int
from vms_core.api.registry import ID_PATH, ApiRegistry
from vms_core.api.services import LiveView
from vms_core.timeutil import iso

RoleName = Literal["admin", "operator", "viewer"]


class NewUser(Body):
    username: str = Field(pattern=USERNAME_PATTERN)
    password: str = Field(min_length=8, max_length=1024)
    role: RoleName = "viewer"
    # Left out: what [users] default_cameras says; "all": every camera, later ones too.
    cameras: list[Id] | Literal["all"] | None = Field(default=None, max_length=10_000)


class PasswordReset(Body):
    password: str = Field(min_length=8, max_length=1024)


class UserPatch(Body):
    password: str | None = Field(default=None, min_length=8, max_length=1024)
    role: RoleName | None = None
    disabled: bool | None = None
    cameras: list[Id] | Literal["all"] | None = Field(default=None, max_length=10_000)


async def check_cameras(request: web.Request, camera_ids: list[int] | str | None) -> None:
    """ApiError 400 naming the cameras that do not exist: a grant must name real ones."""
    if not camera_ids or isinstance(camera_ids, str):
        return
    known = await request.app[CAMERAS].existing_ids(camera_ids)
    missing = sorted(set(camera_ids) - known)
    if missing:
        raise ApiError(400, f"cameras: no camera {', '.join(map(str, missing))}")


def user_json(user: UserView) -> dict[str, object]:
    return {
        "id": user.id,
        "username": user.username,
        "role": user.role,
        "disabled": user.disabled,
        "created": iso(user.created_us),
        "cameras": user.cameras,
    }


async def list_users(request: web.Request) -> web.Response:
    return web.json_response([user_json(u) for u in await request.app[ACCOUNTS].users()])


async def create_user(request: web.Request) -> web.Response:
    who = principal(request)
    body = await read_json(request, NewUser)
    await check_cameras(request, body.cameras)
    cameras = body.cameras
    if isinstance(cameras, list):
        cameras = sorted(set(cameras))
    try:
        created = await request.app[ACCOUNTS].create_user(
            body.username, body.password, body.role, cameras
        )
    except AccountError as exc:
        raise ApiError(409 if isinstance(exc, AccountConflict) else 400, str(exc)) from None
    await request.app[AUDIT].record(
        "user.create",
        username=who.username,
        target=body.username,
        remote=remote(request),
        detail={"role": body.role},
    )
    return web.json_response(user_json(created.user), status=201)


async def patch_user(request: web.Request) -> web.Response:
    who = principal(request)
    user_id = path_int(request, what="user")
    body = await read_json(request, UserPatch)
    await check_cameras(request, body.cameras)
    mine = user_id == who.user_id
    cookie, token = own_credential(request) if mine else (None, None)
    change = UserChange(body.role, body.disabled, body.password, body.cameras)
    try:
        user = await request.app[ACCOUNTS].change_user(
            user_id, change, keep_cookie=cookie, keep_token=token
        )
    except UnknownUser as exc:
        raise ApiError(404, str(exc)) from None
    except AccountConflict as exc:
        raise ApiError(409, str(exc)) from None
    await _end_revoked_live_views(request.app[LIVE_VIEW], user, body, by_self=mine)
    changed = sorted(k for k, v in body.model_dump().items() if v is not None)
    await request.app[AUDIT].record(
        "user.change",
        username=who.username,
        target=str(user_id),
        remote=remote(request),
        detail={"changed": changed},
    )
    return web.json_response(user_json(user))


async def reset_password(request: web.Request) -> web.Response:
    who = principal(request)
    user_id = path_int(request, what="user")
    body = await read_json(request, PasswordReset)
    mine = user_id == who.user_id
    cookie, token = own_credential(request) if mine else (None, None)
    try:
        name = await request.app[ACCOUNTS].reset_password(
            user_id, body.password, keep_cookie=cookie, keep_token=token
        )
    except UnknownUser as exc:
        raise ApiError(404, str(exc)) from None
    if not mine:  # like the caller's own credential, their views stay
        await request.app[LIVE_VIEW].end_user_sessions(user_id, "password changed")
    await request.app[AUDIT].record(
        "user.password", username=who.username, target=name, remote=remote(request)
    )
    return web.json_response({"ok": True})


async def delete_user(request: web.Request) -> web.Response:
    who = principal(request)
    user_id = path_int(request, what="user")
    if user_id == who.user_id:
        raise ApiError(409, "you cannot delete yourself")
    try:
        name = await request.app[ACCOUNTS].delete_user(user_id)
    except UnknownUser as exc:
        raise ApiError(404, str(exc)) from None
    except AccountConflict as exc:
        raise ApiError(409, str(exc)) from None
    await request.app[LIVE_VIEW].end_user_sessions(user_id, "user deleted")
    await request.app[AUDIT].record(
        "user.delete", username=who.username, target=name, remote=remote(request)
    )
    return web.json_response({"ok": True})


async def _end_revoked_live_views(
    live_view: LiveView, user: UserView, change: UserPatch, by_self: bool
) -> None:
    """A live view outlasts the credentials that opened it: end those the change revokes
    (a new password of one's own keeps one's views, as it keeps one's own credential)."""
    if change.disabled:
        await live_view.end_user_sessions(user.id, "user disabled")
    elif change.password is not None and not by_self:
        await live_view.end_user_sessions(user.id, "password changed")
    elif user.cameras != "all":
        await live_view.end_user_sessions(
            user.id, "camera no longer granted to the user", keep_cameras=frozenset(user.cameras)
        )


def register(api: ApiRegistry) -> None:
    schema = api.schema(
        "User",
        {
            "type": "object",
            "properties": {
                "id": {"type": "integer"},
                "username": {"type": "string"},
                "role": {"type": "string"},
                "disabled": {"type": "boolean"},
                "created": {"type": "string"},
                "cameras": {
                    "oneOf": [{"const": "all"}, {"type": "array", "items": {"type": "integer"}}]
                },
            },
        },
    )
    api.route(
        "GET",
        "/api/users",
        summary="List users",
        tag="users",
        role="admin",
        response={"type": "array", "items": schema},
    )(list_users)
    api.route(
        "POST",
        "/api/users",
        summary="Create a user",
        tag="users",
        role="admin",
        request=schema_of(NewUser),
        response=schema,
        status=201,
        errors=(409,),
    )(create_user)
    api.route(
        "PATCH",
        "/api/users/{id}",
        summary="Change a user's role, password, cameras or disabled flag (a new password "
        "ends the user's sessions and tokens)",
        tag="users",
        role="admin",
        request=schema_of(UserPatch),
        response=schema,
        params=(ID_PATH,),
        errors=((409, "It would leave no enabled admin"),),
    )(patch_user)
    api.route(
        "PUT",
        "/api/users/{id}/password",
        summary="Reset a user's password; ends their sessions and revokes their API tokens",
        tag="users",
        role="admin",
        request=schema_of(PasswordReset),
        params=(ID_PATH,),
    )(reset_password)
    api.route(
        "DELETE",
        "/api/users/{id}",
        summary="Delete a user",
        tag="users",
        role="admin",
        params=(ID_PATH,),
        errors=((409, "Deleting yourself, or the only enabled admin"),),
    )(delete_user)
