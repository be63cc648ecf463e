"""time.sleep(30) in an async hook: in-process, the whole API froze for 30 s at a time."""

from pathlib import Path

from tests.plugin_host.hostile.harness import attack, hostile_source
from tests.plugin_host.hostile.triggers import publish_event
from vms_core.simulator.simulator import Simulator

SLEEPER = hostile_source(
    "sleepy",
    """
    import time

    @hookimpl
    async def vms_on_event(event):
        if event.type == "hostile.go":
            time.sleep(30)  # blocks the event loop it runs on: now its runner's
    """,
)


async def test_a_blocking_async_hook_blocks_only_its_runner(
    tmp_path: Path, cameras_sim: Simulator
) -> None:
    outcome = await attack(tmp_path, cameras_sim, "sleepy", SLEEPER, publish_event)
    assert "missed its heartbeat" in outcome.plugin["health"]["last_restart_reason"]
