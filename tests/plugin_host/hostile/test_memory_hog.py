"""Allocating 3 GB: in-process, the server grew from 1.2 to 4.3 GB and kept it."""

from pathlib import Path

from tests.plugin_host.hostile.harness import Vms, attack, hostile_source
from vms_core.simulator.simulator import Simulator

HOG = hostile_source(
    "hog",
    """
    HELD = []

    @hookimpl
    def vms_on_event(event):
        if event.type == "hostile.go":
            HELD.append(bytearray(3 * 1024**3))  # 3 GB, past its 300 MB limit
    """,
)


async def go(vms: Vms) -> None:
    async with vms.http.post(vms.url + "/api/events", json={"type": "hostile.go"}) as r:
        assert r.status == 201


async def test_a_memory_hog_is_stopped_at_its_limit(tmp_path: Path, cameras_sim: Simulator) -> None:
    outcome = await attack(tmp_path, cameras_sim, "hog", HOG, go, plugin_toml="memory_mb = 300\n")
    reason = outcome.plugin["health"]["last_restart_reason"]
    assert "exceeded its memory limit of 300 MB" in reason, reason
