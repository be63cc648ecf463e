"""How a test sets a hostile plug-in off: an event through the API, or a route."""

from __future__ import annotations

import asyncio

from tests.plugin_host.hostile.harness import Vms


async def publish_event(vms: Vms) -> None:
    """An event every plug-in receives in ``vms_on_event``."""
    async with vms.http.post(vms.url + "/api/events", json={"type": "hostile.go"}) as r:
        assert r.status == 201, await r.text()


def call_route(name: str, path: str) -> object:
    """Call the plug-in's route in the background (it may never answer)."""

    async def trigger(vms: Vms) -> None:
        async def call() -> None:
            async with vms.http.get(f"{vms.url}/api/plugins/{name}{path}") as r:
                await r.read()

        task = asyncio.create_task(call())
        vms.background = task  # type: ignore[attr-defined]

    return trigger
