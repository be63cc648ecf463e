"""Request bodies: parsed as JSON and validated by pydantic, errors naming the field.

Before a model sees a body, the JSON itself is held to what every layer behind the API can
store and send back: finite numbers, nesting at most ``MAX_JSON_DEPTH`` deep, and strings
without NUL or unpaired surrogates (PostgreSQL and SQLite refuse those). Models use the
field types below, so times, ids and numbers share one range (``vms_core.limits``).
"""

from __future__ import annotations

import json
import math
from typing import Annotated, Any, TypeVar

from aiohttp import web
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    WithJsonSchema,
)

from vms_core.api.errors import ApiError
from vms_core.api.params import is_storable
from vms_core.api.registry import TIME_SCHEMA
from vms_core.config.loader import format_loc
from vms_core.limits import ID_MAX, ID_MIN, check_time

T = TypeVar("T", bound=BaseModel)

MAX_JSON_DEPTH = 32

# A time in the catalog's range, with a zone.
ApiTime = Annotated[AwareDatetime, AfterValidator(check_time), WithJsonSchema(TIME_SCHEMA)]
# An id of a catalog row: positive, within signed 64 bits.
Id = Annotated[int, Field(ge=ID_MIN, le=ID_MAX)]


class Body(BaseModel):
    """Base for request bodies: unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class _Unstorable(ValueError):
    pass


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _Unstorable(f"body: number {text[:40]} is out of range")
    return value


def _no_constant(name: str) -> float:
    raise _Unstorable(f"body: {name} is not a number JSON allows")


def _check_tree(data: Any) -> None:
    """Depth and strings of parsed JSON, without recursion (the input chooses the depth)."""
    stack: list[tuple[Any, int, str]] = [(data, 1, "")]
    while stack:
        value, depth, where = stack.pop()
        if isinstance(value, str):
            if not is_storable(value):
                raise _Unstorable(f"{where or 'body'}: contains NUL or an unpaired surrogate")
            continue
        if not isinstance(value, dict | list):
            continue
        if depth > MAX_JSON_DEPTH:
            raise _Unstorable(f"body: nested deeper than {MAX_JSON_DEPTH} levels")
        if isinstance(value, dict):
            for key, item in value.items():
                if not is_storable(key):
                    raise _Unstorable(f"{where or 'body'}: a key contains NUL or a surrogate")
                stack.append((item, depth + 1, f"{where}.{key}" if where else key))
        else:
            stack.extend((item, depth + 1, f"{where}[{i}]") for i, item in enumerate(value))


def parse_json(raw: bytes) -> Any:
    """The JSON document in ``raw``, or ApiError 400 saying what is wrong with it."""
    try:
        data: Any = json.loads(raw or b"null", parse_float=_finite, parse_constant=_no_constant)
        _check_tree(data)
    except _Unstorable as exc:
        raise ApiError(400, str(exc)) from None
    except RecursionError:
        raise ApiError(400, f"body: nested deeper than {MAX_JSON_DEPTH} levels") from None
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, too many digits
        raise ApiError(400, f"body is not valid JSON: {exc}") from None
    return data


def validation_message(exc: ValidationError) -> str:
    problems = []
    for error in exc.errors():
        loc = format_loc(list(error["loc"]))
        msg = "unknown field" if error["type"] == "extra_forbidden" else error["msg"]
        msg = msg.removeprefix("Value error, ")
        problems.append(f"{loc}: {msg}" if loc else str(msg))
    return "; ".join(problems)


async def read_json(request: web.Request, model: type[T]) -> T:
    if request.content_type != "application/json":
        raise ApiError(415, f"expected Content-Type application/json, got {request.content_type}")
    data = parse_json(await request.read())
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ApiError(400, validation_message(exc), "invalid") from None


def schema_of(model: type[BaseModel]) -> dict[str, Any]:
    return model.model_json_schema()
