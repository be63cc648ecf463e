"""Simulated cameras and plug-in helpers for the server-level plug-in tests."""

from __future__ import annotations

import json
import re
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from vms_sdk.permissions import CAPABILITIES

from tests.loops import sim_config
from tests.simulator.conftest import small_camera
from vms_core.simulator.simulator import Simulator

REPO = Path(__file__).resolve().parents[2]
# Main St, Hartford: camera 1, and camera 2 ~445 m north of it.
SPOTS = [(41.76580, -72.67340), (41.76980, -72.67340)]


@pytest.fixture
async def cameras_sim() -> AsyncIterator[Simulator]:
    """Two small simulated cameras (320x180 main, 160x90 sub, 1 s GOP)."""
    sim = Simulator(
        sim_config(
            cameras=[small_camera(1, ptz=False), small_camera(2)],
            discovery_port=0,
            discovery_multicast=False,
        )
    )
    await sim.start()
    try:
        yield sim
    finally:
        await sim.stop()


def camera_tables(sim: Simulator) -> str:
    """``[[cameras]]`` for every simulated camera, placed at :data:`SPOTS`."""
    out = []
    for info, (lat, lon) in zip(sim.cameras, SPOTS, strict=False):
        out.append(
            f"""
[[cameras]]
name = "{info.name}"
rtsp_url = "{info.rtsp_main_url}"
sub_rtsp_url = "{info.rtsp_sub_url}"
username = "{info.username}"
password = "{info.password}"
lat = {lat}
lon = {lon}
"""
        )
    return "".join(out)


def tutorial_files(doc: str) -> dict[str, str]:
    """The files of the tutorial in docs/plugins.md, keyed by the path each code block
    names in its first line (``# pyproject.toml``, ``# vms_plugin_x/__init__.py``)."""
    files = {}
    for block in re.findall(r"```(?:toml|python)\n(.*?)```", doc, re.S):
        first, _, rest = block.partition("\n")
        match = re.fullmatch(r"# ([\w./-]+\.(?:toml|py))", first.strip())
        if match:
            files[match.group(1)] = rest
    return files


def grants(*names: str, capabilities: tuple[str, ...] | None = None) -> str:
    """``[plugins.<name>]`` tables granting each of ``names`` (every capability unless
    ``capabilities`` says which)."""
    caps = sorted(CAPABILITIES) if capabilities is None else list(capabilities)
    return "".join(f"\n[plugins.{n}]\ngrant = {json.dumps(caps)}\n" for n in names)


async def plugin_kv(server: Any, plugin: str) -> dict[str, Any]:
    """What a plug-in keeps in its key-value store, as the server holds it."""
    record = server.plugins.manager.get(plugin)
    assert record is not None and record.kv is not None
    return dict(record.kv.items())


def write_plugin(folder: Path, name: str, source: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.py"
    path.write_text(textwrap.dedent(source))
    return folder
