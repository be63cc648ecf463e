"""A throw-away PostgreSQL server on loopback (the ``pg_url`` fixture, bench/record.py)."""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pg_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if found:
        return found[-1]
    path = shutil.which(name)
    if not path:
        raise RuntimeError(f"PostgreSQL's {name} is not installed (make setup installs it)")
    return path


@contextlib.contextmanager
def throwaway_postgresql(fsync: bool = False) -> Iterator[str]:
    """Start a PostgreSQL server in a temporary folder; yields its URL (database ``vms``,
    user ``vms``, trust auth on 127.0.0.1) and removes everything afterwards.

    PostgreSQL refuses to run as root, so as root it runs as the `postgres` user.
    """
    base = Path(tempfile.mkdtemp(prefix="vms-pg-"))
    data, sockdir = base / "data", base / "sock"
    sockdir.mkdir()
    run_as: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(base, "postgres")
        shutil.chown(sockdir, "postgres")
        run_as = ["runuser", "-u", "postgres", "--"]
    port = free_port()
    initdb = [_pg_bin("initdb"), "-D", str(data), "-U", "vms", "-A", "trust", "--no-sync"]
    subprocess.run([*run_as, *initdb, "-E", "UTF8"], check=True, capture_output=True)
    options = (
        f"-p {port} -k {sockdir} -c listen_addresses=127.0.0.1 -c fsync={'on' if fsync else 'off'}"
    )
    subprocess.run(
        [
            *run_as,
            _pg_bin("pg_ctl"),
            "-D",
            str(data),
            "-w",
            "-l",
            str(base / "log"),
            "-o",
            options,
            "start",
        ],
        check=True,
        capture_output=True,
    )
    try:
        subprocess.run(
            [*run_as, _pg_bin("createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "vms", "vms"],
            check=True,
            capture_output=True,
        )
        yield f"postgresql://vms@127.0.0.1:{port}/vms"
    finally:
        subprocess.run(
            [*run_as, _pg_bin("pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
            capture_output=True,
        )
        shutil.rmtree(base, ignore_errors=True)
