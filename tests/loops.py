"""Folders shared by the whole test run, across xdist workers.

``tests/conftest.py`` names one folder under pytest's base temp before any worker starts
(``VMS_TEST_RUN_DIR``, inherited by the workers). The simulator's encoded loops are cached
there: the cache (``vms_core.simulator.media.cache``) is content-addressed and written by
atomic rename, so each distinct loop is encoded once per run. Other run-wide data (the
recorded site) is built there once, under a lock.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from vms_core.simulator.config import CameraConfig, SimulatorConfig

ENV = "VMS_TEST_RUN_DIR"


def shared_run_dir() -> Path:
    """The run's shared folder (outside pytest: one under the system's temp folder)."""
    folder = os.environ.get(ENV) or os.path.join(tempfile.gettempdir(), "vms-test-run")
    path = Path(folder)
    path.mkdir(parents=True, exist_ok=True)
    return path


def shared_loop_cache() -> Path:
    """The run's loop cache."""
    return shared_run_dir() / "loop-cache"


@contextmanager
def run_lock(name: str) -> Iterator[None]:
    """An exclusive lock, across workers, for building run-wide data once."""
    with (shared_run_dir() / f"{name}.lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def sim_config(cameras: list[CameraConfig], **fields: Any) -> SimulatorConfig:
    """A ``SimulatorConfig`` that takes its loops from the run's shared cache."""
    fields.setdefault("cache_dir", shared_loop_cache())
    return SimulatorConfig(cameras=cameras, **fields)
