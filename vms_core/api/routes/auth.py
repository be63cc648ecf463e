"""Login, logout, who am I, and personal API tokens."""

from __future__ import annotations

from aiohttp import web
from pydantic import Field
from sqlalchemy import delete, select

from vms_core.api import accounts
from vms_core.api.app import server_of
from vms_core.api.auth import SESSION_COOKIE, principal, remote
from vms_core.api.bodies import Body, read_json, schema_of
from vms_core.api.errors import ApiError
from vms_core.api.params import path_int
from vms_core.api.registry import ID_PATH, ApiRegistry
from vms_core.db.models import ApiToken
from vms_core.timeutil import iso, now_us


class LoginBody(Body):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class TokenBody(Body):
    name: str = Field(min_length=1, max_length=128)
    # Ten years at most: an expiry the catalog and every client can still represent.
    expires_days: float | None = Field(default=None, gt=0, le=3653)


def me_json(who: accounts.Principal) -> dict[str, object]:
    return {
        "id": who.user_id,
        "username": who.username,
        "role": who.role,
        "cameras": None if who.camera_ids is None else sorted(who.camera_ids),
    }


def register(api: ApiRegistry) -> None:
    user_schema = api.schema(
        "Me",
        {
            "type": "object",
            "properties": {
                "id": {"type": "integer"},
                "username": {"type": "string"},
                "role": {"type": "string", "enum": ["admin", "operator", "viewer"]},
                "cameras": {"type": ["array", "null"], "items": {"type": "integer"}},
            },
        },
    )

    @api.route(
        "POST",
        "/api/auth/login",
        summary="Log in; sets the session cookie",
        tag="auth",
        role=None,
        request=schema_of(LoginBody),
        response=user_schema,
        errors=(401,),
    )
    async def login(request: web.Request) -> web.Response:
        server = server_of(request)
        body = await read_json(request, LoginBody)
        async with server.db.session() as session:
            user = await accounts.authenticate_password(session, body.username, body.password)
            if user is not None:
                cookie = await accounts.create_session(
                    session, user.id, server.settings.server.session_hours
                )
                who = await accounts.principal_for(session, user, "session")
        await server.audit.record(
            "auth.login", username=body.username, success=user is not None, remote=remote(request)
        )
        if user is None:
            raise ApiError(401, "wrong username or password")
        response = web.json_response(me_json(who))
        response.set_cookie(
            SESSION_COOKIE,
            cookie,
            httponly=True,
            samesite="Strict",
            path="/",
            secure=server.settings.server.public_url.startswith("https://"),
            max_age=int(server.settings.server.session_hours * 3600),
        )
        return response

    @api.route("POST", "/api/auth/logout", summary="End this session", tag="auth")
    async def logout(request: web.Request) -> web.Response:
        server = server_of(request)
        cookie = request.cookies.get(SESSION_COOKIE)
        if cookie:
            async with server.db.session() as session:
                await accounts.end_session(session, cookie)
        response = web.json_response({"ok": True})
        response.del_cookie(SESSION_COOKIE, path="/")
        return response

    @api.route(
        "GET", "/api/auth/me", summary="The logged-in user", tag="auth", response=user_schema
    )
    async def me(request: web.Request) -> web.Response:
        return web.json_response(me_json(principal(request)))

    token_schema = api.schema(
        "ApiToken",
        {
            "type": "object",
            "properties": {
                "id": {"type": "integer"},
                "name": {"type": "string"},
                "prefix": {"type": "string"},
                "created": {"type": "string"},
                "last_used": {"type": ["string", "null"]},
                "expires": {"type": ["string", "null"]},
                "token": {"type": "string", "description": "only in the reply that creates it"},
            },
        },
    )

    def token_json(row: ApiToken) -> dict[str, object]:
        return {
            "id": row.id,
            "name": row.name,
            "prefix": row.prefix,
            "created": iso(row.created_us),
            "last_used": iso(row.last_used_us),
            "expires": iso(row.expires_us),
        }

    @api.route(
        "GET",
        "/api/tokens",
        summary="My API tokens",
        tag="auth",
        response={"type": "array", "items": token_schema},
    )
    async def list_tokens(request: web.Request) -> web.Response:
        who = principal(request)
        async with server_of(request).db.session() as session:
            rows = await session.scalars(select(ApiToken).where(ApiToken.user_id == who.user_id))
            return web.json_response([token_json(r) for r in rows])

    @api.route(
        "POST",
        "/api/tokens",
        summary="Create an API token (shown once)",
        tag="auth",
        request=schema_of(TokenBody),
        response=token_schema,
        status=201,
    )
    async def create_token(request: web.Request) -> web.Response:
        who = principal(request)
        server = server_of(request)
        body = await read_json(request, TokenBody)
        expires = None
        if body.expires_days is not None:
            expires = now_us() + int(body.expires_days * 86400 * 1_000_000)
        async with server.db.session() as session:
            row, token = await accounts.create_token(session, who.user_id, body.name, expires)
            data = {**token_json(row), "token": token}
        await server.audit.record(
            "token.create", username=who.username, target=body.name, remote=remote(request)
        )
        return web.json_response(data, status=201)

    @api.route(
        "DELETE",
        "/api/tokens/{id}",
        summary="Revoke one of my API tokens",
        tag="auth",
        params=(ID_PATH,),
    )
    async def delete_token(request: web.Request) -> web.Response:
        who = principal(request)
        server = server_of(request)
        token_id = path_int(request, what="token")
        async with server.db.session() as session:
            result = await session.execute(
                delete(ApiToken).where(ApiToken.id == token_id, ApiToken.user_id == who.user_id)
            )
        if not getattr(result, "rowcount", 0):
            raise ApiError(404, f"no token {token_id}")
        await server.audit.record(
            "token.revoke", username=who.username, target=str(token_id), remote=remote(request)
        )
        return web.json_response({"ok": True})
