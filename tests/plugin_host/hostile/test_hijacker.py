"""Patching the core's /api/health handler through gc: in-process, the hijack survived
uninstall and reload."""

from pathlib import Path

from tests.plugin_host.hostile.harness import Vms, attack, hostile_source
from vms_core.simulator.simulator import Simulator

HIJACKER = hostile_source(
    "hijack",
    """
    import gc

    @hookimpl
    def vms_on_event(ctx, event):
        if event.type != "hostile.go":
            return
        patched = 0
        for obj in gc.get_objects():
            if callable(obj) and getattr(obj, "__name__", "") == "health":
                try:
                    obj.__code__ = (lambda request: None).__code__
                    patched += 1
                except (AttributeError, TypeError, ValueError):
                    pass
        ctx.kv.set("patched", patched)
        raise RuntimeError(f"patched {patched} health handlers")
    """,
)


async def go(vms: Vms) -> None:
    async with vms.http.post(vms.url + "/api/events", json={"type": "hostile.go"}) as r:
        assert r.status == 201


async def test_a_plugin_cannot_reach_the_servers_handlers(
    tmp_path: Path, cameras_sim: Simulator
) -> None:
    outcome = await attack(
        tmp_path,
        cameras_sim,
        "hijack",
        HIJACKER,
        go,
        host_toml="max_consecutive_failures = 1\n",
    )
    # It found no handler of the server in its own process; /api/health answered
    # normally throughout (checked by the attack) and after uninstall and reload.
    assert "patched 0 health handlers" in outcome.plugin["health"]["last_restart_reason"]
