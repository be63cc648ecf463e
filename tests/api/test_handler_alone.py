"""A route handler is a module-level function that takes its services from typed app keys:
it runs in an application holding only those, over real HTTP, without a VmsServer."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from vms_core.api.keys import AUDIT
from vms_core.api.routes.audit import audit
from vms_core.audit import AuditLog
from vms_core.db import Database, upgrade_schema


async def test_the_audit_handler_serves_from_its_service_alone(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'catalog.db'}"
    upgrade_schema(url)
    db = Database(url)
    log = AuditLog(db)
    await log.record("auth.login", username="ana", remote="10.0.0.7")
    await log.record("auth.login", username="bo", success=False)
    await log.record("user.create", username="ana", target="user:bo")

    app = web.Application()
    app[AUDIT] = log
    app.router.add_get("/api/audit", audit)
    async with TestClient(TestServer(app)) as client:
        response = await client.get("/api/audit", params={"action": "auth."})
        assert response.status == 200
        entries = await response.json()
    await db.close()
    assert [(e["username"], e["action"], e["success"]) for e in entries] == [
        ("bo", "auth.login", False),  # newest first
        ("ana", "auth.login", True),
    ]
    assert entries[1]["remote"] == "10.0.0.7" and entries[1]["time"].endswith("Z")
