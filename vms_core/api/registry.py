"""One table of endpoints: it mounts the routes, tells the auth middleware which role each
needs, and generates the OpenAPI document, so the three cannot disagree."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from aiohttp import web

from vms_core.accounts.principal import Role

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
JsonSchema = dict[str, Any]
# An error status an endpoint declares: the status, or (status, when it is answered).
ErrorStatus = int | tuple[int, str]


@dataclass(frozen=True)
class Param:
    name: str
    where: Literal["query", "path", "header"] = "query"
    schema: JsonSchema = field(default_factory=lambda: {"type": "string"})
    description: str = ""
    required: bool = False


# An id in a path or query: what vms_core.limits accepts (positive, signed 64 bits).
ID_SCHEMA: JsonSchema = {"type": "integer", "minimum": 1, "maximum": 2**63 - 1}
# A time the API takes: RFC 3339 with a zone. The server's range is 1970-01-01T00:00Z ..
# 9998-12-31T23:59:59.999999Z (vms_core.limits); the pattern states years 1971-9997, which
# stay inside it whatever the offset.
TIME_SCHEMA: JsonSchema = {
    "type": "string",
    "format": "date-time",
    "pattern": r"^(197[1-9]|19[89][0-9]|[2-8][0-9]{3}|9[0-8][0-9]{2}|99[0-8][0-9]|999[0-7])-",
}
# In a query a time may also be epoch seconds.
TIME_PARAM_SCHEMA: JsonSchema = {
    "anyOf": [TIME_SCHEMA, {"type": "number", "minimum": 0, "maximum": 253_370_764_799}]
}
ID_PATH = Param("id", where="path", schema=ID_SCHEMA, description="the catalog id")


def time_param(name: str, description: str = "", required: bool = False) -> Param:
    """A query parameter holding a time (read with vms_core.api.params.query_time)."""
    text = "ISO 8601 with zone, or epoch seconds" + (f"; {description}" if description else "")
    return Param(name, schema=TIME_PARAM_SCHEMA, description=text, required=required)


def limit_param(default: int, most: int) -> Param:
    """How many rows to answer (read with query_int(request, "limit", default, 1, most))."""
    schema = {"type": "integer", "minimum": 1, "maximum": most, "default": default}
    return Param("limit", schema=schema)


def id_param(name: str, description: str = "") -> Param:
    """A query parameter holding a catalog id (read with query_id)."""
    return Param(name, schema=ID_SCHEMA, description=description)


# Error statuses an operation may answer, and what each means to a client.
ERROR_STATUSES: dict[int, str] = {
    400: "Invalid request: the message names the field or parameter",
    401: "Not authenticated",
    403: "The caller's role is not enough",
    404: "Not found (also a camera the caller may not see)",
    409: "Conflicts with the current state",
    413: "Request body too large",
    415: "Unsupported Content-Type",
    422: "Understood but cannot be done (the message says why)",
    429: "Too many requests: retry after the Retry-After header",
    502: "The camera or device answered with an error",
    503: "Temporarily unavailable (the camera is not streaming, the service is stopping)",
    504: "The camera or plug-in did not answer in time",
}


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    handler: Handler
    summary: str
    tag: str
    # None: public (no authentication at all).
    role: Role | None
    request: JsonSchema | None = None
    response: JsonSchema | None = None
    status: int = 200
    params: tuple[Param, ...] = ()
    content_type: str = "application/json"
    # Statuses the handler answers beyond those the table implies (400 for a body or
    # query parameters, 413/415 for a body, 401/403 for a role, 404 for a path id): a
    # status alone (described by ERROR_STATUSES), or (status, when) to say when.
    errors: tuple[ErrorStatus, ...] = ()
    request_type: str = "application/json"

    @property
    def key(self) -> tuple[str, str]:
        return (self.method, self.path)


class ApiRegistry:
    def __init__(self) -> None:
        self.endpoints: dict[tuple[str, str], Endpoint] = {}
        self.schemas: dict[str, JsonSchema] = {}

    def route(
        self,
        method: str,
        path: str,
        *,
        summary: str,
        tag: str,
        role: Role | None = "viewer",
        request: JsonSchema | None = None,
        response: JsonSchema | None = None,
        status: int = 200,
        params: tuple[Param, ...] = (),
        content_type: str = "application/json",
        errors: tuple[ErrorStatus, ...] = (),
        request_type: str = "application/json",
    ) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self.add(
                Endpoint(
                    method.upper(),
                    path,
                    handler,
                    summary,
                    tag,
                    role,
                    request,
                    response,
                    status,
                    params,
                    content_type,
                    errors,
                    request_type,
                )
            )
            return handler

        return register

    def add(self, endpoint: Endpoint) -> None:
        if endpoint.key in self.endpoints:
            raise ValueError(f"endpoint registered twice: {endpoint.method} {endpoint.path}")
        codes = {e if isinstance(e, int) else e[0] for e in endpoint.errors}
        unknown = codes - set(ERROR_STATUSES)
        if unknown:
            raise ValueError(f"{endpoint.method} {endpoint.path}: undescribed statuses {unknown}")
        self.endpoints[endpoint.key] = endpoint

    def remove_prefix(self, prefix: str) -> None:
        for key in [k for k in self.endpoints if k[1].startswith(prefix)]:
            del self.endpoints[key]

    def schema(self, name: str, schema: JsonSchema) -> JsonSchema:
        """Register a named component schema and return a $ref to it."""
        self.schemas[name] = schema
        return {"$ref": f"#/components/schemas/{name}"}

    def lookup(self, method: str, canonical_path: str) -> Endpoint | None:
        return self.endpoints.get((method, canonical_path))

    def openapi(self, version: str) -> dict[str, Any]:
        paths: dict[str, dict[str, Any]] = {}
        for ep in sorted(self.endpoints.values(), key=lambda e: (e.path, e.method)):
            paths.setdefault(ep.path, {})[ep.method.lower()] = _operation(ep)
        components = {"Error": ERROR_SCHEMA, **self.schemas}
        # Pydantic puts nested models in a local "$defs" with refs "#/$defs/Name", which
        # do not resolve inside an OpenAPI document: they move to components/schemas.
        paths = _hoist_defs(paths, components)
        components = _hoist_defs(components, components)
        return {
            "openapi": "3.1.0",
            "info": {
                "title": "vms HTTP API",
                "version": version,
                "description": "Video management server. Every error is JSON "
                '{"error": {"code", "message"}}.',
            },
            "paths": paths,
            "components": {
                "schemas": components,
                "securitySchemes": {
                    "bearer": {"type": "http", "scheme": "bearer"},
                    "session": {"type": "apiKey", "in": "cookie", "name": "vms_session"},
                },
            },
        }


ERROR_SCHEMA: JsonSchema = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
        }
    },
}
_ERROR_REF = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
_PATH_PARAM = re.compile(r"{(\w+)(?::[^}]*)?}")


_DEFS_REF = "#/$defs/"


def _hoist_defs(node: Any, components: dict[str, JsonSchema]) -> Any:
    """A copy of ``node`` with every ``$defs`` moved into ``components`` and refs to them
    rewritten; a name defined twice with different schemas is an error, not a guess."""
    if isinstance(node, list):
        return [_hoist_defs(item, components) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "$defs":
            for name, schema in value.items():
                hoisted = _hoist_defs(schema, components)
                if components.setdefault(name, hoisted) != hoisted:
                    raise ValueError(f"two different schemas are both named {name!r}")
        elif key == "$ref" and isinstance(value, str) and value.startswith(_DEFS_REF):
            out[key] = "#/components/schemas/" + value[len(_DEFS_REF) :]
        else:
            out[key] = _hoist_defs(value, components)
    return out


def _error(status: int, when: str | None = None) -> dict[str, Any]:
    return {"description": when or ERROR_STATUSES[status], **_ERROR_REF}


def _operation(ep: Endpoint) -> dict[str, Any]:
    declared = {p.name: p for p in ep.params if p.where == "path"}
    path_names = _PATH_PARAM.findall(ep.path)
    params = [
        {
            "name": n,
            "in": "path",
            "required": True,
            "schema": declared[n].schema if n in declared else {"type": "string"},
            **({"description": declared[n].description} if n in declared else {}),
        }
        for n in path_names
    ]
    others = [p for p in ep.params if p.where != "path"]
    params += [
        {
            "name": p.name,
            "in": p.where,
            "required": p.required,
            "schema": p.schema,
            **({"description": p.description} if p.description else {}),
        }
        for p in others
    ]
    success: dict[str, Any] = {"description": "OK"}
    if ep.response is not None:
        success["content"] = {ep.content_type: {"schema": ep.response}}
    said = {e[0]: e[1] for e in ep.errors if isinstance(e, tuple)}
    statuses = {e if isinstance(e, int) else e[0] for e in ep.errors}
    if ep.request is not None:
        statuses |= {400, 413, 415}
    if others:
        statuses.add(400)
    if ep.role is not None:
        statuses |= {401, 403}
    if path_names:
        statuses.add(404)
    responses: dict[str, Any] = {str(ep.status): success}
    responses.update({str(code): _error(code, said.get(code)) for code in sorted(statuses)})
    plain_path = _PATH_PARAM.sub(r"\1", ep.path).strip("/")
    operation_id = re.sub(r"[^A-Za-z0-9]+", "_", f"{ep.method.lower()}_{plain_path}")
    op: dict[str, Any] = {
        "summary": ep.summary,
        "tags": [ep.tag],
        "operationId": operation_id,
        "responses": responses,
        "security": [] if ep.role is None else [{"bearer": []}, {"session": []}],
    }
    if ep.role is not None:
        op["x-vms-role"] = ep.role
    if params:
        op["parameters"] = params
    if ep.request is not None:
        op["requestBody"] = {
            "required": True,
            "content": {ep.request_type: {"schema": ep.request}},
        }
    return op


def mount(registry: ApiRegistry, app: web.Application) -> None:
    for ep in registry.endpoints.values():
        app.router.add_route(ep.method, ep.path, ep.handler)
