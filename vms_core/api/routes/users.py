"""User administration (admins only)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from aiohttp import web
from pydantic import Field
from sqlalchemy import select

from vms_core.api import accounts
from vms_core.api.app import server_of
from vms_core.api.auth import own_credential, principal, remote
from vms_core.api.bodies import Body, Id, read_json, schema_of
from vms_core.api.errors import ApiError
from vms_core.api.params import path_int
from vms_core.api.passwords import set_password
from vms_core.api.registry import ID_PATH, ApiRegistry
from vms_core.db.models import CameraPermission, User
from vms_core.timeutil import iso

if TYPE_CHECKING:
    from vms_core.server import VmsServer

RoleName = Literal["admin", "operator", "viewer"]


class NewUser(Body):
    username: str = Field(pattern=accounts.USERNAME_PATTERN)
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
    known = await server_of(request).cameras.existing_ids(camera_ids)
    missing = sorted(set(camera_ids) - known)
    if missing:
        raise ApiError(400, f"cameras: no camera {', '.join(map(str, missing))}")


def user_json(user: User, cameras: list[int]) -> dict[str, object]:
    return {
        "id": user.id,
        "username": user.username,
        "role": user.role,
        "disabled": user.disabled,
        "created": iso(user.created_us),
        "cameras": "all" if user.role == "admin" or user.all_cameras else cameras,
    }


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

    @api.route(
        "GET",
        "/api/users",
        summary="List users",
        tag="users",
        role="admin",
        response={"type": "array", "items": schema},
    )
    async def list_users(request: web.Request) -> web.Response:
        async with server_of(request).db.session() as session:
            users = list(await session.scalars(select(User).order_by(User.username)))
            perms: dict[int, list[int]] = {}
            for p in await session.scalars(select(CameraPermission)):
                perms.setdefault(p.user_id, []).append(p.camera_id)
            return web.json_response([user_json(u, sorted(perms.get(u.id, []))) for u in users])

    @api.route(
        "POST",
        "/api/users",
        summary="Create a user",
        tag="users",
        role="admin",
        request=schema_of(NewUser),
        response=schema,
        status=201,
        errors=(409,),
    )
    async def create_user(request: web.Request) -> web.Response:
        server = server_of(request)
        who = principal(request)
        body = await read_json(request, NewUser)
        await check_cameras(request, body.cameras)
        try:
            async with server.db.session() as session:
                if body.cameras is None:
                    grant = await accounts.default_grant(
                        session, server.settings.users.default_cameras
                    )
                else:
                    grant = accounts.CameraGrant(
                        body.cameras == "all",
                        () if body.cameras == "all" else tuple(sorted(set(body.cameras))),
                    )
                user = await accounts.create_user(
                    session,
                    body.username,
                    body.password,
                    body.role,
                    list(grant.ids),
                    all_cameras=grant.all,
                )
                data = user_json(user, list(grant.ids))
        except accounts.AccountError as exc:
            raise ApiError(409 if "exists" in str(exc) else 400, str(exc)) from None
        await server.audit.record(
            "user.create",
            username=who.username,
            target=body.username,
            remote=remote(request),
            detail={"role": body.role},
        )
        return web.json_response(data, status=201)

    @api.route(
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
    )
    async def patch_user(request: web.Request) -> web.Response:
        server = server_of(request)
        who = principal(request)
        user_id = path_int(request, what="user")
        body = await read_json(request, UserPatch)
        await check_cameras(request, body.cameras)
        cookie, token = own_credential(request)
        async with server.db.session() as session:
            user = await session.get(User, user_id)
            if user is None:
                raise ApiError(404, f"no user {user_id}")
            stops_being_admin = user.role == "admin" and (
                (body.role is not None and body.role != "admin") or body.disabled is True
            )
            if stops_being_admin:
                try:
                    await accounts.ensure_another_admin(session, user.id)
                except accounts.AccountError as exc:
                    raise ApiError(409, f"user {user.username}: {exc}") from None
            if body.role is not None:
                user.role = body.role
            if body.disabled is not None:
                user.disabled = body.disabled
            if body.password is not None:
                mine = user.id == who.user_id
                await set_password(
                    session,
                    server.sessions,
                    user,
                    body.password,
                    keep_cookie=cookie if mine else None,
                    keep_token=token if mine else None,
                )
            if body.cameras is not None:
                user.all_cameras = body.cameras == "all"
                granted = [] if body.cameras == "all" else body.cameras
                await accounts.set_camera_permissions(session, user.id, granted)
            await session.flush()
            cams = sorted(
                await session.scalars(
                    select(CameraPermission.camera_id).where(CameraPermission.user_id == user.id)
                )
            )
            data = user_json(user, cams)
        await _end_revoked_live_views(
            server, user_id, body, data["cameras"] == "all", cams, by_self=user_id == who.user_id
        )
        changed = sorted(k for k, v in body.model_dump().items() if v is not None)
        await server.audit.record(
            "user.change",
            username=who.username,
            target=str(user_id),
            remote=remote(request),
            detail={"changed": changed},
        )
        return web.json_response(data)

    @api.route(
        "PUT",
        "/api/users/{id}/password",
        summary="Reset a user's password; ends their sessions and revokes their API tokens",
        tag="users",
        role="admin",
        request=schema_of(PasswordReset),
        params=(ID_PATH,),
    )
    async def reset_password(request: web.Request) -> web.Response:
        server = server_of(request)
        who = principal(request)
        user_id = path_int(request, what="user")
        body = await read_json(request, PasswordReset)
        cookie, token = own_credential(request)
        async with server.db.session() as session:
            user = await session.get(User, user_id)
            if user is None:
                raise ApiError(404, f"no user {user_id}")
            mine = user.id == who.user_id
            await set_password(
                session,
                server.sessions,
                user,
                body.password,
                keep_cookie=cookie if mine else None,
                keep_token=token if mine else None,
            )
            name = user.username
        if user_id != who.user_id:  # like the caller's own credential, their views stay
            await server.webrtc.end_user_sessions(user_id, "password changed")
        await server.audit.record(
            "user.password", username=who.username, target=name, remote=remote(request)
        )
        return web.json_response({"ok": True})

    @api.route(
        "DELETE",
        "/api/users/{id}",
        summary="Delete a user",
        tag="users",
        role="admin",
        params=(ID_PATH,),
        errors=((409, "Deleting yourself, or the only enabled admin"),),
    )
    async def delete_user(request: web.Request) -> web.Response:
        server = server_of(request)
        who = principal(request)
        user_id = path_int(request, what="user")
        if user_id == who.user_id:
            raise ApiError(409, "you cannot delete yourself")
        async with server.db.session() as session:
            user = await session.get(User, user_id)
            if user is None:
                raise ApiError(404, f"no user {user_id}")
            name = user.username
            if user.role == "admin":
                try:
                    await accounts.ensure_another_admin(session, user.id)
                except accounts.AccountError as exc:
                    raise ApiError(409, f"user {name}: {exc}") from None
            await session.delete(user)
        await server.webrtc.end_user_sessions(user_id, "user deleted")
        await server.audit.record(
            "user.delete", username=who.username, target=name, remote=remote(request)
        )
        return web.json_response({"ok": True})


async def _end_revoked_live_views(
    server: VmsServer,
    user_id: int,
    change: UserPatch,
    sees_all: bool,
    cameras: list[int],
    by_self: bool,
) -> None:
    """A live view outlasts the credentials that opened it: end those the change revokes
    (a new password of one's own keeps one's views, as it keeps one's own credential)."""
    webrtc = server.webrtc
    if change.disabled:
        await webrtc.end_user_sessions(user_id, "user disabled")
    elif change.password is not None and not by_self:
        await webrtc.end_user_sessions(user_id, "password changed")
    elif not sees_all:
        await webrtc.end_user_sessions(
            user_id, "camera no longer granted to the user", keep_cameras=frozenset(cameras)
        )
