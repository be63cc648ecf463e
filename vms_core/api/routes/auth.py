"""Login, logout, who am I, and personal API tokens."""

from __future__ import annotations

import logging

from aiohttp import web
from pydantic import Field
from sqlalchemy import delete, select

from vms_core.api import accounts
from vms_core.api.app import server_of
from vms_core.api.auth import SESSION_COOKIE, own_credential, principal, remote
from vms_core.api.bodies import Body, read_json, schema_of
from vms_core.api.errors import ApiError, error_response
from vms_core.api.params import path_int
from vms_core.api.passwords import set_password
from vms_core.api.registry import ApiRegistry
from vms_core.api.sessions import SessionsUnavailable
from vms_core.api.usage import TokenUsage
from vms_core.db.models import ApiToken, User
from vms_core.timeutil import iso, now_us

log = logging.getLogger(__name__)


class LoginBody(Body):
    # The same characters a user name may have: anything else (a newline, an escape) is
    # refused here rather than carried into the audit trail.
    username: str = Field(min_length=1, max_length=64, pattern=accounts.USERNAME_PATTERN)
    password: str = Field(min_length=1, max_length=1024)


class PasswordChange(Body):
    current_password: str = Field(min_length=1, max_length=1024)
    new_password: str = Field(min_length=1, max_length=1024)


class TokenBody(Body):
    name: str = Field(min_length=1, max_length=128)
    expires_days: float | None = Field(default=None, gt=0)


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
        errors=(
            (401, "Wrong username or password"),
            (429, "Too many failed attempts for this name or address; see Retry-After"),
            (503, "The catalog cannot be written and no more sessions can be kept"),
        ),
    )
    async def login(request: web.Request) -> web.Response:
        server = server_of(request)
        body = await read_json(request, LoginBody)
        address = remote(request)
        refused, locks = server.login_throttle.begin(body.username, address)
        if refused is not None:
            log.info(
                "login for %s from %s refused: locked (%s) for %d s",
                body.username,
                address,
                refused.scope,
                refused.retry_after_s,
            )
            return error_response(
                429,
                "too many failed logins; try again later",
                headers={"Retry-After": str(refused.retry_after_s)},
            )
        async with server.db.session() as session:
            user = await accounts.authenticate_password(session, body.username, body.password)
            if user is not None:
                who = await accounts.principal_for(session, user, "session")
        await server.audit.record(
            "auth.login", username=body.username, success=user is not None, remote=address
        )
        if user is None:
            for lock in locks:
                await server.audit.record(
                    "auth.locked",
                    username=body.username,
                    success=False,
                    remote=address,
                    detail={
                        "scope": lock.scope,
                        "failures": lock.failures,
                        "seconds": lock.seconds,
                    },
                )
            raise ApiError(401, "wrong username or password")
        server.login_throttle.succeeded(body.username, address)
        try:
            cookie = await server.sessions.create(user.id, server.settings.server.session_hours)
        except SessionsUnavailable:
            raise ApiError(503, "cannot start a session: the catalog cannot be written") from None
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
            await server.sessions.end(cookie)
        response = web.json_response({"ok": True})
        response.del_cookie(SESSION_COOKIE, path="/")
        return response

    @api.route(
        "GET", "/api/auth/me", summary="The logged-in user", tag="auth", response=user_schema
    )
    async def me(request: web.Request) -> web.Response:
        return web.json_response(me_json(principal(request)))

    @api.route(
        "PUT",
        "/api/auth/password",
        summary="Change my password (needs the current one); ends my other sessions and "
        "revokes my API tokens",
        tag="auth",
        request=schema_of(PasswordChange),
        errors=((429, "Too many wrong current passwords; see Retry-After"),),
    )
    async def change_my_password(request: web.Request) -> web.Response:
        server = server_of(request)
        who = principal(request)
        body = await read_json(request, PasswordChange)
        address = remote(request)
        # The current password is guessable here too: the login's throttle guards it.
        refused, _ = server.login_throttle.begin(who.username, address)
        if refused is not None:
            return error_response(
                429,
                "too many wrong passwords; try again later",
                headers={"Retry-After": str(refused.retry_after_s)},
            )
        cookie, token = own_credential(request)
        async with server.db.session() as session:
            user = await session.get(User, who.user_id)
            if user is None or not await accounts.verify_password(
                user.password_hash, body.current_password
            ):
                raise ApiError(400, "current_password: does not match", "invalid")
            try:
                await set_password(
                    session,
                    server.sessions,
                    user,
                    body.new_password,
                    keep_cookie=cookie,
                    keep_token=token,
                    field="new_password",
                )
            except accounts.AccountError as exc:
                raise ApiError(400, str(exc), "invalid") from None
        server.login_throttle.succeeded(who.username, address)
        await server.audit.record(
            "user.password", username=who.username, target=who.username, remote=address
        )
        return web.json_response({"ok": True})

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

    def token_json(row: ApiToken, usage: TokenUsage) -> dict[str, object]:
        return {
            "id": row.id,
            "name": row.name,
            "prefix": row.prefix,
            "created": iso(row.created_us),
            "last_used": iso(usage.last_used(row.id, row.last_used_us)),
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
        server = server_of(request)
        async with server.db.session() as session:
            rows = await session.scalars(select(ApiToken).where(ApiToken.user_id == who.user_id))
            return web.json_response([token_json(r, server.token_usage) for r in rows])

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
            data = {**token_json(row, server.token_usage), "token": token}
        await server.audit.record(
            "token.create", username=who.username, target=body.name, remote=remote(request)
        )
        return web.json_response(data, status=201)

    @api.route("DELETE", "/api/tokens/{id}", summary="Revoke one of my API tokens", tag="auth")
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
