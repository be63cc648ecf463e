"""Reading path and query parameters, with errors that name the parameter.

Every route reads its parameters through these, so one range holds for all of them
(``vms_core.limits``): ids are ASCII digits within signed 64 bits, times are in the
catalog's range, numbers are finite. A parameter given empty (``?since=``) is an error like
any other value that is not one, not a parameter left out.
"""

from __future__ import annotations

import re

from aiohttp import web

from vms_core.api.errors import ApiError
from vms_core.limits import ID_MAX, ID_MIN, TIME_MAX_US, TIME_MIN_US, TIME_RANGE_TEXT
from vms_core.timeutil import parse_time

# ASCII digits only: str.isdigit() and int() also take "²" or "٣", which are no ids.
_DIGITS = re.compile(r"[0-9]{1,19}")
_TRUE, _FALSE = ("true", "1", "yes"), ("false", "0", "no")
MAX_QUERY_TEXT = 256


def parse_id(raw: str) -> int | None:
    """The id ``raw`` spells, or None if it is not one (not digits, or out of range)."""
    if not _DIGITS.fullmatch(raw):
        return None
    value = int(raw)
    return value if ID_MIN <= value <= ID_MAX else None


def path_int(request: web.Request, key: str = "id", what: str = "resource") -> int:
    """An id from the path; anything that is not one is a resource that does not exist."""
    raw = request.match_info[key]
    value = parse_id(raw)
    if value is None:
        raise ApiError(404, f"no {what} {raw[:40]!r}")
    return value


def query_id(request: web.Request, key: str) -> int | None:
    raw = request.query.get(key)
    if raw is None:
        return None
    value = parse_id(raw)
    if value is None:
        raise ApiError(
            400, f"query parameter {key}: expected an id ({ID_MIN}..{ID_MAX}), got {raw[:40]!r}"
        )
    return value


def query_time(request: web.Request, key: str) -> int | None:
    raw = request.query.get(key)
    if raw is None:
        return None
    try:
        value = parse_time(raw)
    except ValueError:
        raise ApiError(
            400,
            f"query parameter {key}: expected an ISO 8601 time with zone or epoch "
            f"seconds, got {raw[:64]!r}",
        ) from None
    if not TIME_MIN_US <= value <= TIME_MAX_US:
        raise ApiError(400, f"query parameter {key}: a time must be within {TIME_RANGE_TEXT}")
    return value


def query_int(request: web.Request, key: str, default: int, lo: int, hi: int) -> int:
    raw = request.query.get(key)
    if raw is None:
        return default
    if not re.fullmatch(r"-?[0-9]{1,19}", raw):
        raise ApiError(400, f"query parameter {key}: expected an integer, got {raw[:40]!r}")
    value = int(raw)
    if not lo <= value <= hi:
        raise ApiError(400, f"query parameter {key}: expected {lo}..{hi}, got {value}")
    return value


def query_bool(request: web.Request, key: str) -> bool | None:
    raw = request.query.get(key)
    if raw is None:
        return None
    if raw.lower() in _TRUE:
        return True
    if raw.lower() in _FALSE:
        return False
    raise ApiError(400, f"query parameter {key}: expected true or false, got {raw[:40]!r}")


def query_text(request: web.Request, key: str, max_length: int = MAX_QUERY_TEXT) -> str | None:
    """A free-text parameter: bounded, and without characters no database column stores."""
    raw = request.query.get(key)
    if raw is None or raw == "":
        return None
    if len(raw) > max_length:
        raise ApiError(400, f"query parameter {key}: at most {max_length} characters")
    if not is_storable(raw):
        raise ApiError(400, f"query parameter {key}: contains NUL or an unpaired surrogate")
    return raw


def is_storable(text: str) -> bool:
    """False for text PostgreSQL or SQLite cannot take: NUL, or a lone UTF-16 surrogate."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
