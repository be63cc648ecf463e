"""Fixtures every test may use: a real PostgreSQL server, and a running vms server."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.pgserver import free_port, throwaway_postgresql
from vms_core.config import parse_config
from vms_core.server import VmsServer

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
        from vms_core.api import accounts

        async with self.server.db.session() as session:
            user = await accounts.create_user(
                session, username, "password-" + username, role, cameras
            )
            _row, token = await accounts.create_token(session, user.id, "test")
        return token

    async def admin_token(self) -> str:
        from sqlalchemy import select

        from vms_core.api import accounts
        from vms_core.db.models import User

        async with self.server.db.session() as session:
            admin = await session.scalar(select(User).where(User.username == "admin"))
            assert admin is not None
            _row, token = await accounts.create_token(session, admin.id, "test-admin")
        return token


@pytest.fixture
async def make_server(tmp_path: Path) -> AsyncIterator[Callable[..., Any]]:
    """Start vms servers from config text; all are stopped at the end of the test."""
    started: list[VmsServer] = []

    async def start(
        extra: str = "",
        *,
        config_name: str = "vms.toml",
        database_url: str | None = None,
        before_start: Callable[[VmsServer], None] | None = None,
        record: bool = False,
    ) -> RunningServer:
        text = BASE_CONFIG + extra
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
        await server.stop()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
