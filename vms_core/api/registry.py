"""One table of endpoints: it mounts the routes, tells the auth middleware which role each
needs, and generates the OpenAPI document, so the three cannot disagree."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from aiohttp import web

Role = Literal["viewer", "operator", "admin"]
ROLE_RANK: dict[str, int] = {"viewer": 0, "operator": 1, "admin": 2}
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
JsonSchema = dict[str, Any]


@dataclass(frozen=True)
class Param:
    name: str
    where: Literal["query", "path", "header"] = "query"
    schema: JsonSchema = field(default_factory=lambda: {"type": "string"})
    description: str = ""
    required: bool = False


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
    # Further error answers this endpoint gives: (status, when).
    errors: tuple[tuple[int, str], ...] = ()

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
        errors: tuple[tuple[int, str], ...] = (),
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
                )
            )
            return handler

        return register

    def add(self, endpoint: Endpoint) -> None:
        if endpoint.key in self.endpoints:
            raise ValueError(f"endpoint registered twice: {endpoint.method} {endpoint.path}")
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
                "schemas": {"Error": ERROR_SCHEMA, **self.schemas},
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


def _operation(ep: Endpoint) -> dict[str, Any]:
    params = [
        {"name": n, "in": "path", "required": True, "schema": {"type": "string"}}
        for n in _PATH_PARAM.findall(ep.path)
    ]
    params += [
        {
            "name": p.name,
            "in": p.where,
            "required": p.required or p.where == "path",
            "schema": p.schema,
            **({"description": p.description} if p.description else {}),
        }
        for p in ep.params
    ]
    success: dict[str, Any] = {"description": "OK"}
    if ep.response is not None:
        success["content"] = {ep.content_type: {"schema": ep.response}}
    responses: dict[str, Any] = {str(ep.status): success}
    if ep.request is not None:
        responses["400"] = {"description": "Invalid request", **_ERROR_REF}
    if ep.role is not None:
        responses["401"] = {"description": "Not authenticated", **_ERROR_REF}
        responses["403"] = {"description": f"Needs role {ep.role}", **_ERROR_REF}
    if params:
        responses["404"] = {"description": "Not found", **_ERROR_REF}
    for status, when in ep.errors:
        responses[str(status)] = {"description": when, **_ERROR_REF}
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
            "content": {"application/json": {"schema": ep.request}},
        }
    return op


def mount(registry: ApiRegistry, app: web.Application) -> None:
    for ep in registry.endpoints.values():
        app.router.add_route(ep.method, ep.path, ep.handler)
