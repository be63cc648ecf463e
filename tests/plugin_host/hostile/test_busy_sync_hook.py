"""A tight loop in a sync hook: in-process, its abandoned threads burned CPU until the
server restarted, even after uninstall and reload."""

from pathlib import Path

from tests.plugin_host.hostile.harness import Vms, attack, hostile_source
from tests.plugin_host.hostile.triggers import publish_event
from vms_core.simulator.simulator import Simulator

SPINNER = hostile_source(
    "syncspin",
    """
    @hookimpl
    def vms_on_event(event):
        if event.type.startswith("hostile."):
            while True:  # a worker thread that never returns
                pass
    """,
)


async def three_events(vms: Vms) -> None:
    for n in range(4):  # two stuck threads, then every call is refused as busy
        async with vms.http.post(vms.url + "/api/events", json={"type": f"hostile.{n}"}) as r:
            assert r.status == 201


async def test_spinning_threads_end_with_their_runner(
    tmp_path: Path, cameras_sim: Simulator
) -> None:
    outcome = await attack(
        tmp_path,
        cameras_sim,
        "syncspin",
        SPINNER,
        three_events,
        host_toml="max_consecutive_failures = 3\ncall_timeout_seconds = 0.5\n",
    )
    reason = outcome.plugin["health"]["last_restart_reason"]
    assert "calls failed in a row" in reason or "of a core" in reason, reason
    assert publish_event  # the single-event trigger is the other tests'
