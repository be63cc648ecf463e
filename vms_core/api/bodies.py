"""Request bodies: parsed as JSON and validated by pydantic, errors naming the field."""

from __future__ import annotations

import json
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ConfigDict, ValidationError

from vms_core.api.errors import ApiError
from vms_core.config.loader import format_loc

T = TypeVar("T", bound=BaseModel)


class Body(BaseModel):
    """Base for request bodies: unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid")


async def read_json(request: web.Request, model: type[T]) -> T:
    if request.content_type != "application/json":
        raise ApiError(415, f"expected Content-Type application/json, got {request.content_type}")
    raw = await request.read()
    try:
        data: Any = json.loads(raw or b"null")
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ApiError(400, f"body is not valid JSON: {exc}") from None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            loc = format_loc(list(error["loc"]))
            msg = "unknown field" if error["type"] == "extra_forbidden" else error["msg"]
            problems.append(f"{loc}: {msg}" if loc else str(msg))
        raise ApiError(400, "; ".join(problems), "invalid") from None


def schema_of(model: type[BaseModel]) -> dict[str, Any]:
    return model.model_json_schema()
