"""Fixtures every test may use: a real PostgreSQL server, and a running vms server."""

from __future__ import annotations

import asyncio
import io
import os
import shutil
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.loops import ENV as RUN_DIR_ENV
from tests.pgserver import free_port, throwaway_postgresql
from vms_core.config import parse_config
from vms_core.server import VmsServer

pytest_plugins = ["tests.error_logs", "tests.slow_first"]


PLUGIN_WORK_DIR = pytest.StashKey[Path]()


@pytest.hookimpl(trylast=True)  # after pytest's tmp_path plugin is configured
def pytest_configure(config: pytest.Config) -> None:
    # One folder for run-wide data (tests/loops.py): named by the controller before xdist
    # starts its workers, which inherit the environment.
    if RUN_DIR_ENV not in os.environ and not os.environ.get("PYTEST_XDIST_WORKER"):
        base = config._tmp_path_factory.getbasetemp()  # type: ignore[attr-defined]
        os.environ[RUN_DIR_ENV] = str(base / "run")
    # Plug-in runners run as another user, who cannot pass through pytest's private
    # temporary folders (pytest makes them 0700 at every session start): their working
    # folders go to a folder of the run that user can reach.
    if "VMS_PLUGIN_WORK_DIR" not in os.environ and not os.environ.get("PYTEST_XDIST_WORKER"):
        work = Path(tempfile.mkdtemp(prefix="vms-test-plugins-"))
        work.chmod(0o711)
        os.environ["VMS_PLUGIN_WORK_DIR"] = str(work)
        config.stash[PLUGIN_WORK_DIR] = work


def pytest_unconfigure(config: pytest.Config) -> None:
    # The run's plug-in folder is outside pytest's own temporary folders, which pytest
    # rotates: removed here, or every run left one behind.
    work = config.stash.get(PLUGIN_WORK_DIR, None)
    if work is not None:
        shutil.rmtree(work, ignore_errors=True)


REPO = Path(__file__).resolve().parents[1]
__all__ = ["free_port"]  # imported from here by tests


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A throw-away PostgreSQL server on loopback, for this test session only."""
    with throwaway_postgresql() as url:
        yield url


def fresh_pg_database(pg_url: str) -> str:
    """A new empty database on the session's server, so tests do not share state."""
    import psycopg

    name = f"t{time.time_ns()}"
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return pg_url.rsplit("/", 1)[0] + f"/{name}"


def write_config(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


BASE_CONFIG = """
[server]
host = "127.0.0.1"
port = 0
data_dir = "data"
[storage]
recordings_dir = "recordings"
"""


class RunningServer:
    def __init__(self, server: VmsServer, admin_password: str) -> None:
        self.server = server
        self.url = server.url
        self.admin_password = admin_password

    async def token(self, username: str, role: str, cameras: list[int] | None = None) -> str:
        """Create a user with ``role`` and return a bearer token for it."""
        from vms_core.accounts import store as accounts

        async with self.server.db.session() as session:
            user = await accounts.create_user(
                session, username, "password-" + username, role, cameras
            )
            _row, token = await accounts.create_token(session, user.id, "test")
        return token

    async def admin_token(self) -> str:
        from sqlalchemy import select

        from vms_core.accounts import store as accounts
        from vms_core.db.models import User

        async with self.server.db.session() as session:
            admin = await session.scalar(select(User).where(User.username == "admin"))
            assert admin is not None
            _row, token = await accounts.create_token(session, admin.id, "test-admin")
        return token


@pytest.fixture
async def make_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Callable[..., Any]]:
    """Start vms servers from config text; all are stopped at the end of the test.

    No installed plug-in is loaded unless the test names it (``VMS_PLUGINS``): each one
    is a process of its own, a cost only the tests that use plug-ins should pay.
    """
    if "VMS_PLUGINS" not in os.environ:
        monkeypatch.setenv("VMS_PLUGINS", "")
    started: list[VmsServer] = []

    async def start(
        extra: str = "",
        *,
        config_name: str = "vms.toml",
        database_url: str | None = None,
        before_start: Callable[[VmsServer], None] | None = None,
        record: bool = False,
        server_keys: str = "",
    ) -> RunningServer:
        """``server_keys``: TOML lines added to the ``[server]`` table."""
        text = BASE_CONFIG + extra
        if server_keys:
            text = text.replace("[server]\n", f"[server]\n{server_keys.strip()}\n", 1)
        if database_url:
            text = text.replace("[storage]", f'[database]\nurl = "{database_url}"\n[storage]')
        path = write_config(tmp_path / config_name, text)
        settings = parse_config(text, source=str(path), base_dir=tmp_path)
        server = VmsServer(settings, path, record=record)
        if before_start is not None:
            before_start(server)
        await server.start()
        started.append(server)
        return RunningServer(server, server.initial_admin_password or "")

    yield start
    for server in reversed(started):
        await stop_or_explain(server)


STOP_GUARD_S = 60.0  # a hang guard: a server stops in 1-5 s, under load in ~10


async def stop_or_explain(server: VmsServer) -> None:
    """``server.stop()``, failing with every task's stack if it hangs (instead of hanging
    the test run until the CI job's own timeout)."""
    try:
        async with asyncio.timeout(STOP_GUARD_S):
            await server.stop()
    except TimeoutError:
        stacks = io.StringIO()
        for task in asyncio.all_tasks():
            task.print_stack(file=stacks)
        raise AssertionError(
            f"server.stop() did not finish within {STOP_GUARD_S:g} s; tasks:\n{stacks.getvalue()}"
        ) from None


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """``browser`` and ``postgres`` follow from the fixtures a test uses, so they cannot be
    forgotten: ``-m "not browser"`` leaves out every test that starts Chromium."""
    for item in items:
        fixtures = getattr(item, "fixturenames", ())
        if "browser" in fixtures or "chromium" in fixtures:
            item.add_marker(pytest.mark.browser)
        if "pg_url" in fixtures:
            item.add_marker(pytest.mark.postgres)


SITE_HOURS = 2.0


@pytest.fixture(scope="session")
def recorded_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Two hours of five simulated cameras, recorded faster than real time and served by a
    server of its own (tests.playback.recorded): cam-a, cam-b, north and south steady,
    cam-drop down for 3 s every 10 s. Shared by every test of the run that reads
    recordings (playback, export); tests must not change its recordings."""
    from tests.playback.recorded import SITE_CAMERAS, RecordingSite

    site = RecordingSite(tmp_path_factory.mktemp("site"), SITE_CAMERAS, seconds=SITE_HOURS * 3600)
    site.start()
    try:
        yield site
    finally:
        site.stop()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
