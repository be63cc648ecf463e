"""The OpenAPI document tells the truth: every $ref resolves, and the statuses the table
implies for each operation are documented (schemathesis checks the rest against a server,
tests/api/test_schemathesis.py)."""

from __future__ import annotations

from typing import Any

from tests.conftest import bearer
from vms_core.api.registry import ApiRegistry
from vms_core.api.routes import register_all


def _document() -> dict[str, Any]:
    api = ApiRegistry()
    register_all(api)
    return api.openapi("test")


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for value in node.values() for r in _refs(value)]
    if isinstance(node, list):
        return [r for item in node for r in _refs(item)]
    return []


def _resolve(doc: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = doc
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        assert isinstance(node, dict) and part in node, f"{ref} does not resolve"
        node = node[part]
    return node


def test_every_ref_resolves() -> None:
    doc = _document()
    refs = _refs(doc)
    assert "#/components/schemas/RetentionLimits" in refs
    for ref in refs:
        _resolve(doc, ref)
    assert "$defs" not in str(doc)


def test_the_statuses_each_operation_can_answer_are_documented() -> None:
    doc = _document()
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            documented = set(op["responses"])
            where = f"{method.upper()} {path}"
            if "requestBody" in op:
                assert {"400", "413", "415"} <= documented, where
            if op.get("x-vms-role"):
                assert {"401", "403"} <= documented, where
            if "{" in path:
                assert "404" in documented, where
            if any(p["in"] == "query" for p in op.get("parameters", [])):
                assert "400" in documented, where
    ops = doc["paths"]
    assert "409" in ops["/api/users"]["post"]["responses"]
    assert "401" in ops["/api/auth/login"]["post"]["responses"]
    assert {"409", "502"} <= set(ops["/api/cameras/{id}/ptz"]["post"]["responses"])
    assert {"415", "422", "503"} <= set(ops["/api/cameras/{id}/whep"]["post"]["responses"])
    id_param = ops["/api/cameras/{id}"]["get"]["parameters"][0]
    assert id_param["schema"] == {"type": "integer", "minimum": 1, "maximum": 2**63 - 1}


async def test_the_served_document_is_the_table(make_server, http) -> None:
    srv = await make_server()
    async with http.get(srv.url + "/api/openapi.json", headers=bearer("unused")) as r:
        served = await r.json()
    for ref in _refs(served):
        _resolve(served, ref)
    assert served["paths"].keys() == srv.server.api.openapi("x")["paths"].keys()
