"""Login, logout, who am I, and personal API tokens."""

from __future__ import annotations

import logging

from aiohttp import web
from pydantic import Field

from vms_core.accounts import USERNAME_PATTERN, AccountError, Principal
from vms_core.accounts.service import TokenView
from vms_core.accounts.sessions import SessionsUnavailable
from vms_core.api.auth import SESSION_COOKIE, own_credential, principal, remote
from vms_core.api.bodies import Body, read_json, schema_of
from vms_core.api.errors import ApiError, error_response
from vms_core.api.keys import ACCOUNTS, AUDIT, LOGIN_THROTTLE, SETTINGS
from vms_core.api.params import path_int
from vms_core.api.registry import ID_PATH, ApiRegistry
from vms_core.timeutil import iso, now_us

log = logging.getLogger(__name__)


class LoginBody(Body):
    # The same characters a user name may have: anything else (a newline, an escape) is
    # refused here rather than carried into the audit trail.
    username: str = Field(min_length=1, max_length=64, pattern=USERNAME_PATTERN)
    password: str = Field(min_length=1, max_length=1024)


class PasswordChange(Body):
    current_password: str = Field(min_length=1, max_length=1024)
    new_password: str = Field(min_length=1, max_length=1024)


class TokenBody(Body):
    name: str = Field(min_length=1, max_length=128)
    # Ten years at most: an expiry the catalog and every client can still represent.
    expires_days: float | None = Field(default=None, gt=0, le=3653)


def me_json(who: Principal) -> dict[str, object]:
    return {
        "id": who.user_id,
        "username": who.username,
        "role": who.role,
        "cameras": None if who.camera_ids is None else sorted(who.camera_ids),
    }


def token_json(token: TokenView) -> dict[str, object]:
    return {
        "id": token.id,
        "name": token.name,
        "prefix": token.prefix,
        "created": iso(token.created_us),
        "last_used": iso(token.last_used_us),
        "expires": iso(token.expires_us),
    }


async def login(request: web.Request) -> web.Response:
    body = await read_json(request, LoginBody)
    audit = request.app[AUDIT]
    throttle = request.app[LOGIN_THROTTLE]
    address = remote(request)
    refused, locks = throttle.begin(body.username, address)
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
    accounts = request.app[ACCOUNTS]
    who = await accounts.login(body.username, body.password)
    await audit.record(
        "auth.login", username=body.username, success=who is not None, remote=address
    )
    if who is None:
        for lock in locks:
            await audit.record(
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
    throttle.succeeded(body.username, address)
    settings = request.app[SETTINGS]().server
    try:
        cookie = await accounts.start_session(who.user_id, settings.session_hours)
    except SessionsUnavailable:
        raise ApiError(503, "cannot start a session: the catalog cannot be written") from None
    response = web.json_response(me_json(who))
    response.set_cookie(
        SESSION_COOKIE,
        cookie,
        httponly=True,
        samesite="Strict",
        path="/",
        secure=settings.public_url.startswith("https://"),
        max_age=int(settings.session_hours * 3600),
    )
    return response


async def logout(request: web.Request) -> web.Response:
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        await request.app[ACCOUNTS].end_session(cookie)
    response = web.json_response({"ok": True})
    response.del_cookie(SESSION_COOKIE, path="/")
    return response


async def me(request: web.Request) -> web.Response:
    return web.json_response(me_json(principal(request)))


async def change_my_password(request: web.Request) -> web.Response:
    who = principal(request)
    body = await read_json(request, PasswordChange)
    throttle = request.app[LOGIN_THROTTLE]
    address = remote(request)
    # The current password is guessable here too: the login's throttle guards it.
    refused, _ = throttle.begin(who.username, address)
    if refused is not None:
        return error_response(
            429,
            "too many wrong passwords; try again later",
            headers={"Retry-After": str(refused.retry_after_s)},
        )
    cookie, token = own_credential(request)
    try:
        await request.app[ACCOUNTS].change_own_password(
            who.user_id,
            body.current_password,
            body.new_password,
            keep_cookie=cookie,
            keep_token=token,
        )
    except AccountError as exc:
        raise ApiError(400, str(exc), "invalid") from None
    throttle.succeeded(who.username, address)
    await request.app[AUDIT].record(
        "user.password", username=who.username, target=who.username, remote=address
    )
    return web.json_response({"ok": True})


async def list_tokens(request: web.Request) -> web.Response:
    tokens = await request.app[ACCOUNTS].tokens(principal(request).user_id)
    return web.json_response([token_json(t) for t in tokens])


async def create_token(request: web.Request) -> web.Response:
    who = principal(request)
    body = await read_json(request, TokenBody)
    expires = None
    if body.expires_days is not None:
        expires = now_us() + int(body.expires_days * 86400 * 1_000_000)
    token, secret = await request.app[ACCOUNTS].create_token(who.user_id, body.name, expires)
    await request.app[AUDIT].record(
        "token.create", username=who.username, target=body.name, remote=remote(request)
    )
    return web.json_response({**token_json(token), "token": secret}, status=201)


async def delete_token(request: web.Request) -> web.Response:
    who = principal(request)
    token_id = path_int(request, what="token")
    if not await request.app[ACCOUNTS].revoke_token(who.user_id, token_id):
        raise ApiError(404, f"no token {token_id}")
    await request.app[AUDIT].record(
        "token.revoke", username=who.username, target=str(token_id), remote=remote(request)
    )
    return web.json_response({"ok": True})


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
    api.route(
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
    )(login)
    api.route("POST", "/api/auth/logout", summary="End this session", tag="auth")(logout)
    api.route(
        "GET", "/api/auth/me", summary="The logged-in user", tag="auth", response=user_schema
    )(me)
    api.route(
        "PUT",
        "/api/auth/password",
        summary="Change my password (needs the current one); ends my other sessions and "
        "revokes my API tokens",
        tag="auth",
        request=schema_of(PasswordChange),
        errors=((429, "Too many wrong current passwords; see Retry-After"),),
    )(change_my_password)
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
    api.route(
        "GET",
        "/api/tokens",
        summary="My API tokens",
        tag="auth",
        response={"type": "array", "items": token_schema},
    )(list_tokens)
    api.route(
        "POST",
        "/api/tokens",
        summary="Create an API token (shown once)",
        tag="auth",
        request=schema_of(TokenBody),
        response=token_schema,
        status=201,
    )(create_token)
    api.route(
        "DELETE",
        "/api/tokens/{id}",
        summary="Revoke one of my API tokens",
        tag="auth",
        params=(ID_PATH,),
    )(delete_token)
