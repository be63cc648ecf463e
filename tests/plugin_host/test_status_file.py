"""The plug-ins' live status file (read by `vms plugins list`) on a disk that refuses
writes: the server says so and goes on; stopping it does not fail."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import Any

import pytest

from tests.eventually import eventually
from vms_core.plugins.host import status_path
from vms_core.server import VmsServer


async def test_a_full_disk_under_the_status_file_is_said_and_survived(
    make_server: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    def full_disk(server: VmsServer) -> None:
        # Writing through this name meets ENOSPC, as on a full data disk.
        temporary = status_path(server.settings).with_suffix(".tmp")
        temporary.parent.mkdir(parents=True, exist_ok=True)
        os.symlink("/dev/full", temporary)

    running = await make_server(before_start=full_disk)
    path = status_path(running.server.settings)

    def warned() -> bool:
        return any(
            r.levelno == logging.WARNING and "cannot be written" in r.getMessage()
            for r in caplog.records
        )

    await eventually(warned, 30, 0.05, what="the status file's failure said")
    # The failed write left nothing behind; the next one (5 s later) writes the file.
    assert not path.with_suffix(".tmp").exists()
    await eventually(path.exists, 30, 0.1, what="the status file written again")
    await running.server.stop()  # raised OSError from the status task before
