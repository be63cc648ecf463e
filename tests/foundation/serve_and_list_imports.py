"""Run as ``python -m tests.foundation.serve_and_list_imports CONFIG``: serve CONFIG as
``vms serve`` does (the catalog upgraded apart, then the server), wait until every camera
records, then print one JSON line (the libraries the server process has imported, and
the shared objects each recorder worker has mapped) and stop as on SIGINT.

Like the ``vms`` script, this module imports ``vms_core.cli`` at its top: the recorder
workers are spawned and import the parent's ``__main__`` again, so they see what they would
see under ``vms serve``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sys
from pathlib import Path

import vms_core.cli  # noqa: F401 (what the `vms` script imports at its top)

# A hang guard: connecting and a first segment row take about 5 s.
RECORDING_GUARD_S = 60.0


def recorder_workers() -> list[int]:
    """This process's children that multiprocessing spawned."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            spawned = b"spawn_main" in (entry / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):  # gone meanwhile
            continue
        if parent == os.getpid() and spawned:
            found.append(int(entry.name))
    return found


def mapped_libraries(pid: int) -> list[str]:
    """The Python packages whose shared objects ``pid`` has mapped."""
    names = set()
    for line in Path(f"/proc/{pid}/maps").read_text().splitlines():
        path = line.split(maxsplit=5)[-1]
        if "/site-packages/" in path and ".so" in path:
            names.add(path.split("/site-packages/", 1)[-1].split("/", 1)[0])
    return sorted(names)


def main(config: Path) -> int:
    # Here, not at the top: the workers import this module too.
    from sqlalchemy import func, select

    from tests.eventually import eventually
    from vms_core.commands.running import run_until_signalled
    from vms_core.commands.serve import upgrade_catalog_apart
    from vms_core.commands.settings import load_or_exit
    from vms_core.db.models import Segment
    from vms_core.server import VmsServer

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    settings = load_or_exit(config)
    if not upgrade_catalog_apart(settings.database_url):
        return 1
    server = VmsServer(settings, config)

    async def report() -> None:
        cameras = len(server.settings.cameras)

        async def all_recording() -> bool:
            async with server.db.session() as session:
                recording = await session.scalar(
                    select(func.count(func.distinct(Segment.camera_id)))
                )
            assert recording == cameras, f"{recording} of {cameras} cameras recording"
            return True

        await eventually(all_recording, RECORDING_GUARD_S, 0.2, what="every camera recording")
        workers = recorder_workers()
        print(
            json.dumps(
                {
                    "modules": sorted({name.split(".")[0] for name in sys.modules}),
                    "workers": {str(pid): mapped_libraries(pid) for pid in workers},
                }
            ),
            flush=True,
        )
        os.kill(os.getpid(), signal.SIGINT)

    return asyncio.run(run_until_signalled(server, after_start=report))


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
