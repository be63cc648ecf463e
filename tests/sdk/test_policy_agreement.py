"""PluginTestHost and the server's host apply the same calling policy: the same budget for
each kind of call, the same two threads with the same busy refusal, and vms_shutdown
only after the calls already running. Each property is checked under both hosts with one
probe plug-in; the server runs it in its own runner process."""

from __future__ import annotations

import asyncio
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from vms_sdk import Event, Notification
from vms_sdk.policy import MAX_THREADS, CallBudgets, CallFailed, budget_for
from vms_sdk.runtime.loading import import_path
from vms_sdk.testing import PluginTestHost

from tests.eventually import eventually
from tests.plugins.conftest import MemoryServices, granted, started
from vms_core.config import parse_config
from vms_core.plugins import PluginManager
from vms_core.plugins.host import call_budgets

PROBE = """
    import asyncio
    import threading
    import time

    from vms_sdk import DeliveryResult, PluginInfo, hookimpl

    LOCK = threading.Lock()

    def note(ctx, what):
        with LOCK:
            ctx.kv.set("order", ctx.kv.get("order", []) + [what])

    @hookimpl
    def vms_plugin_info():
        return PluginInfo("probe", "1.0.0", requests=("events",))

    @hookimpl
    async def vms_on_event(event):
        if event.type == "slow":
            await asyncio.sleep(60)  # far over the event budget

    @hookimpl
    def vms_notify(ctx, notification):
        note(ctx, "block start")
        time.sleep(float(notification.text))  # holds one of the plug-in's threads
        note(ctx, "block end")
        return DeliveryResult(notification.channel, True)

    @hookimpl
    def vms_shutdown(ctx):
        note(ctx, "shutdown")
"""
# Short budgets, the same for both hosts: an overrun shows within a second.
BUDGETS = CallBudgets(event=0.3, notify=5.0, shutdown=5.0)


@pytest.fixture
def probe_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "plugins"
    folder.mkdir()
    (folder / "probe.py").write_text(textwrap.dedent(PROBE))
    return folder


@pytest.fixture
def probe_module(probe_folder: Path) -> ModuleType:
    return import_path(probe_folder / "probe.py")


@pytest.fixture
async def server_probe(
    services: MemoryServices, probe_folder: Path
) -> AsyncIterator[PluginManager]:
    manager = PluginManager(
        services,
        granted("probe"),
        [probe_folder],
        use_entry_points=False,
        budgets=BUDGETS,
        failure_threshold=100,
    )
    yield await started(manager)


@pytest.fixture
def services() -> MemoryServices:
    return MemoryServices()


def test_both_hosts_start_from_the_same_budgets() -> None:
    """The test host's default budgets are the server's default budgets, hook by hook."""
    server = call_budgets(parse_config(""))
    test_host = PluginTestHost(object()).budgets
    assert test_host == server == CallBudgets()
    assert budget_for(test_host, "vms_on_event") == 2.0
    assert budget_for(test_host, "vms_analyze_frame") == 5.0
    assert PluginTestHost(object()).max_threads == MAX_THREADS == 2


async def test_an_overrun_is_a_timeout_at_the_same_budget_in_both(
    probe_module: ModuleType, server_probe: PluginManager
) -> None:
    async with PluginTestHost(probe_module, budgets=BUDGETS) as host:
        with pytest.raises(TimeoutError, match=r"0\.3 s budget"):
            await host.emit_event(Event("slow"))

    assert server_probe.dispatch_event(Event("slow")) == 1
    await server_probe.wait_idle()
    probe = server_probe.get("probe")
    assert probe is not None
    assert probe.health.timeouts == 1
    assert "0.3 s budget" in (probe.health.last_error or "")


async def test_a_third_sync_call_is_refused_busy_in_both(
    probe_module: ModuleType, server_probe: PluginManager, services: MemoryServices
) -> None:
    block = Notification("chat", "hold", "1.0")
    async with PluginTestHost(probe_module, budgets=BUDGETS) as host:
        held = [asyncio.create_task(host.deliver(block)) for _ in range(MAX_THREADS)]
        await eventually(
            lambda: host.kv.get("order", []).count("block start") == MAX_THREADS,
            5,
            0.01,
            what="both threads busy",
        )
        with pytest.raises(CallFailed) as refused:
            await host.deliver(block)
        assert refused.value.kind == "busy"
        await asyncio.gather(*held)

    held = [asyncio.create_task(server_probe.deliver(block)) for _ in range(MAX_THREADS)]
    await eventually(
        lambda: services.kv.get("probe", {}).get("order", []).count("block start") == 2,
        5,
        0.01,
        what="both of the runner's threads busy",
    )
    [third] = await server_probe.deliver(block)
    assert not third.delivered and "worker threads still busy" in third.detail
    probe = server_probe.get("probe")
    assert probe is not None and probe.health.busy == 1
    await asyncio.gather(*held)


async def test_shutdown_comes_after_the_calls_already_running_in_both(
    probe_module: ModuleType, server_probe: PluginManager, services: MemoryServices
) -> None:
    expected = ["block start", "block end", "shutdown"]
    block = Notification("chat", "hold", "0.5")

    host = await PluginTestHost(probe_module, budgets=BUDGETS).start()
    running = asyncio.create_task(host.deliver(block))
    await eventually(lambda: host.kv.get("order"), 5, 0.01, what="the call started")
    await host.stop()
    await running
    assert host.kv.get("order") == expected

    def order() -> Any:
        return services.kv.get("probe", {}).get("order")

    running = asyncio.create_task(server_probe.deliver(block))
    await eventually(order, 5, 0.01, what="the call started in the runner")
    await server_probe.stop()
    await running
    assert order() == expected
