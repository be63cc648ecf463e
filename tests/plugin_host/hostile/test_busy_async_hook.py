"""A tight loop in an async hook: in-process, the API was dead and SIGTERM ignored."""

from pathlib import Path

from tests.plugin_host.hostile.harness import attack, hostile_source
from tests.plugin_host.hostile.triggers import publish_event
from vms_core.simulator.simulator import Simulator

SPINNER = hostile_source(
    "spinner",
    """
    @hookimpl
    async def vms_on_event(event):
        if event.type == "hostile.go":
            while True:  # never yields
                pass
    """,
)


async def test_a_spinning_async_hook_is_ended_and_sigterm_still_stops_the_server(
    tmp_path: Path, cameras_sim: Simulator
) -> None:
    outcome = await attack(tmp_path, cameras_sim, "spinner", SPINNER, publish_event)
    assert "missed its heartbeat" in outcome.plugin["health"]["last_restart_reason"]
