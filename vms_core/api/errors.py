"""JSON errors: every failure leaves the API as {"error": {"code", "message"}}."""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

log = logging.getLogger(__name__)

_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "request_too_large",
    415: "unsupported_media_type",
    422: "invalid",
    429: "too_many_requests",
    500: "internal_error",
    503: "unavailable",
}


class ApiError(Exception):
    """Raise from a handler to answer with a JSON error."""

    def __init__(self, status: int, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code or _CODES.get(status, "error")
        self.message = message


def error_response(
    status: int, message: str, code: str | None = None, headers: dict[str, str] | None = None
) -> web.Response:
    body: dict[str, Any] = {
        "error": {"code": code or _CODES.get(status, "error"), "message": message}
    }
    return web.json_response(body, status=status, headers=headers)


def client_gone(request: web.Request) -> bool:
    """The client's connection is closed (or closing): whatever we answer is lost."""
    transport = request.transport
    return transport is None or transport.is_closing()


@web.middleware
async def error_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    try:
        response: web.StreamResponse = await handler(request)
        return response
    except ApiError as exc:
        return error_response(exc.status, exc.message, exc.code)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        headers = {k: v for k, v in exc.headers.items() if k.lower() in {"allow", "retry-after"}}
        message = exc.reason
        if exc.status == 404:
            message = f"no such resource: {request.method} {request.path}"
        elif exc.status == 405:
            message = f"{request.method} is not allowed on {request.path}"
        elif exc.status == 413:
            message = exc.text or "request body too large"
        return error_response(exc.status, message, headers=headers)
    except Exception as exc:
        if isinstance(exc, ConnectionResetError) and client_gone(request):
            # The client hung up (a closed tab, an aborted fetch): not a server error.
            # Nobody reads this answer.
            log.info("client went away during %s %s", request.method, request.path)
            return error_response(400, "the client closed the connection", "client_gone")
        log.exception("unhandled error in %s %s", request.method, request.path)
        return error_response(500, "internal server error; see the server log")
