"""Reading path and query parameters, with errors that name the parameter."""

from __future__ import annotations

from aiohttp import web

from vms_core.api.errors import ApiError
from vms_core.timeutil import parse_time


def path_int(request: web.Request, key: str = "id", what: str = "resource") -> int:
    raw = request.match_info[key]
    try:
        return int(raw)
    except ValueError:
        raise ApiError(404, f"no {what} {raw!r}") from None


def query_time(request: web.Request, key: str) -> int | None:
    raw = request.query.get(key)
    if raw is None or raw == "":
        return None
    try:
        return parse_time(raw)
    except ValueError:
        raise ApiError(
            400,
            f"query parameter {key}: expected an ISO 8601 time with zone or epoch "
            f"seconds, got {raw!r}",
        ) from None


def query_int(request: web.Request, key: str, default: int, lo: int, hi: int) -> int:
    raw = request.query.get(key)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, f"query parameter {key}: expected an integer, got {raw!r}") from None
    if not lo <= value <= hi:
        raise ApiError(400, f"query parameter {key}: expected {lo}..{hi}, got {value}")
    return value
