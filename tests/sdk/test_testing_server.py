"""vms_sdk.testing.server: a third party's end-to-end test, as its docs show it: a real
`vms serve` with a simulated camera, a plug-in from a folder, its route and its state."""

from __future__ import annotations

from pathlib import Path

import pytest
from vms_sdk.testing.server import VmsTestServer

from tests.loops import shared_loop_cache
from tests.plugins.conftest import readable_dir

HELLO = """
from vms_sdk import HttpResponse, PluginInfo, Route, hookimpl

@hookimpl
def vms_plugin_info():
    return PluginInfo("hello", "1.0.0", requests=("events",))

@hookimpl
def vms_routes(ctx):
    def cameras(request):
        return HttpResponse(json=[c.name for c in ctx.list_cameras()])
    return [Route("GET", "/cameras", cameras)]
"""


@pytest.mark.slow(seconds=50)
async def test_a_plugin_end_to_end_against_a_real_server(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    folder = readable_dir(tmp_path_factory.mktemp("folder"))
    (folder / "hello.py").write_text(HELLO)
    async with VmsTestServer(
        ["hello"],
        grants={"hello": ["events"]},
        plugin_dirs=[folder],
        cameras=1,
        media_cache=shared_loop_cache(),  # the run's encoded loops, as the other tests use
    ) as vms:
        listed = await vms.plugin("hello")
        assert listed is not None and listed["state"] == "running", vms.log[-2000:]
        assert listed["permissions"]["granted"] == ["events"]
        status, names = await vms.request("GET", "/api/plugins/hello/cameras")
        assert (status, names) == (200, [vms.cameras[0].name])
    assert not Path(vms.workdir).exists()
