"""A recording server carries only what it uses: the libraries of live view (aiortc),
ONVIF (onvif-zeep-async, zeep), schema upgrades (alembic), frames (numpy) and pictures
(Pillow) are imported on first use (a first start's schema upgrade runs in a process of
its own), and the recorder workers do not load the server's configuration models. Each
is megabytes for the life of the process (memory is bench/record.py --whole-server's
goal); their first use is tested where they are used (tests/webrtc, tests/live,
tests/onvif, tests/foundation/test_migrations.py, ...)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.recording.helpers import camera_toml, sim_camera, simulator_config
from vms_core.simulator.simulator import Simulator

NAMES = ["lean-1", "lean-2"]
# Not imported by a server that records RTSP cameras with no viewer, plug-in or ONVIF camera.
ON_FIRST_USE = {"aiortc", "aioice", "onvif", "zeep", "alembic", "numpy", "PIL"}
# Not loaded by a recorder worker: the configuration's models (pydantic), numpy.
NOT_IN_WORKERS = {"pydantic_core", "numpy"}
# A hang guard: the child starts, records and stops in about 10 s.
CHILD_GUARD_S = 120


@pytest.fixture
async def simulator() -> AsyncIterator[Simulator]:
    sim = Simulator(simulator_config([sim_camera(n) for n in NAMES]))
    await sim.start()
    yield sim
    await sim.stop()


async def test_a_recording_server_imports_only_what_it_uses(
    simulator: Simulator, tmp_path: Path
) -> None:
    urls = {i.name: i.rtsp_main_url for i in simulator.cameras}
    database = f"sqlite:///{tmp_path / 'data' / 'vms.db'}"
    config = tmp_path / "vms.toml"
    config.write_text(
        f'[server]\nhost = "127.0.0.1"\nport = 0\ndata_dir = "{tmp_path / "data"}"\n'
        f'[database]\nurl = "{database}"\n'
        f'[storage]\nrecordings_dir = "{tmp_path / "recordings"}"\nsegment_seconds = 2\n'
        "[onvif]\nlisten_for_hello = false\n"
        + "".join(camera_toml(n, urls[n], f"pw-{n}") for n in NAMES)
    )
    # Not subprocess.run: the simulated cameras are served by this test's event loop.
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.foundation.serve_and_list_imports",
        str(config),
        cwd=REPO,
        env={**os.environ, "VMS_PLUGINS": ""},  # no plug-in, as make_server
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(CHILD_GUARD_S):
        out, err = await child.communicate()
    stdout, stderr = out.decode(), err.decode()
    assert child.returncode == 0, stderr[-3000:]
    assert " ERROR " not in stderr, stderr[-3000:]
    report = json.loads(next(line for line in stdout.splitlines() if line.startswith("{")))

    assert sorted(ON_FIRST_USE & set(report["modules"])) == []
    assert report["workers"], "no recorder worker found"
    for pid, libraries in report["workers"].items():
        assert sorted(NOT_IN_WORKERS & set(libraries)) == [], f"worker {pid}"
