"""Reading files and memory: in-process, a plug-in read secret.key and the catalog,
another plug-in's HMAC secret through gc, and /etc/shadow."""

from pathlib import Path
from typing import Any

from tests.plugin_host.hostile.harness import attack, hostile_source
from tests.plugin_host.hostile.triggers import publish_event
from vms_core.simulator.simulator import Simulator

# Reads on every event, and fails once it has nothing more to read: it is restarted.
SNOOPER = hostile_source(
    "snoop",
    """
    @hookimpl
    def vms_on_event(ctx, event):
        if event.type == "hostile.go":
            found = probe(ctx)
            ctx.logger.warning("snooped: %s", found)
            raise RuntimeError("nothing worth stealing")
    """,
)


def restarted(found: dict[str, Any]) -> bool:
    return bool(found["health"]["errors"]) or found["health"]["restarts"] >= 1


async def test_nothing_secret_is_readable_from_a_plugin(
    tmp_path: Path, cameras_sim: Simulator
) -> None:
    outcome = await attack(
        tmp_path,
        cameras_sim,
        "snoop",
        SNOOPER,
        publish_event,
        host_toml="max_consecutive_failures = 1\n",
        settled=restarted,
    )
    assert "nothing worth stealing" in (outcome.plugin["reason"] or "")
    assert "victim-hmac-secret" not in outcome.log.split("snooped:", 1)[-1]
