"""Four busy threads started at start-up: in-process, API p50 224 ms, the catalog index
70 s behind, shutdown over 30 s."""

from pathlib import Path

from tests.plugin_host.hostile.harness import Vms, attack, hostile_source
from vms_core.simulator.simulator import Simulator

BURNER = hostile_source(
    "burner",
    """
    import threading

    def burn():
        while True:
            sum(range(10000))

    @hookimpl
    def vms_on_event(event):
        if event.type == "hostile.go":
            for _ in range(4):
                threading.Thread(target=burn, daemon=True).start()
    """,
)


async def go(vms: Vms) -> None:
    async with vms.http.post(vms.url + "/api/events", json={"type": "hostile.go"}) as r:
        assert r.status == 201


async def test_busy_threads_cost_their_runner_a_restart_not_the_server_its_speed(
    tmp_path: Path, cameras_sim: Simulator
) -> None:
    outcome = await attack(
        tmp_path,
        cameras_sim,
        "burner",
        BURNER,
        go,
        host_toml="max_cpu_percent = 20\ncpu_window_seconds = 3\n",
    )
    reason = outcome.plugin["health"]["last_restart_reason"]
    assert "% of a core over" in reason and "its limit is 20 %" in reason, reason
    assert outcome.plugin["health"]["cpu_seconds"] >= 0
