"""Database engines and schema upgrades.

The server talks to the catalog through an async engine (aiosqlite or psycopg), so a query
never blocks the event loop; alembic migrations run on a synchronous engine at start.
Alembic is imported only when the catalog is not at the newest revision: it costs the
server process about 12 MB for the rest of its life, and most starts need none of it.
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
import logging
import os
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import create_engine, event, pool, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"
# Set to a file path, the server appends a line per catalog statement to it (wall time and
# the statement's first words): bench/record.py counts the catalog's load from it.
STATEMENT_LOG_ENV = "VMS_CATALOG_STATEMENT_LOG"


log = logging.getLogger(__name__)


def sync_url(url: str) -> str:
    """The URL alembic and other synchronous tools use."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    elif parsed.get_backend_name() == "sqlite":
        parsed = parsed.set(drivername="sqlite")
    return parsed.render_as_string(hide_password=False)


def shown_url(url: str) -> str:
    """The catalog's URL fit to print or log: its password masked."""
    return make_url(url).render_as_string(hide_password=True)


def async_url(url: str) -> str:
    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    elif parsed.get_backend_name() == "sqlite":
        parsed = parsed.set(drivername="sqlite+aiosqlite")
    return parsed.render_as_string(hide_password=False)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def configure_sync_engine(engine: Engine) -> Engine:
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def ensure_sqlite_dir(url: str) -> None:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)


def alembic_config(url: str) -> AlembicConfig:
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", sync_url(url).replace("%", "%%"))
    return cfg


def upgrade_schema(url: str, revision: str = "head") -> None:
    """Bring the catalog up to ``revision`` (blocking; run it in a thread from async code)."""
    ensure_sqlite_dir(url)
    if revision == "head":
        newest = head_revision()
        if newest is not None and catalog_revision(url) == newest:
            return
    from alembic import command

    command.upgrade(alembic_config(url), revision)


def head_revision() -> str | None:
    """The newest migration's revision id, read from the files in migrations/versions
    without importing alembic; None unless they form a history with one head (alembic
    then decides)."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (MIGRATIONS_DIR / "versions").glob("*.py"):
        found = _literal_assignments(path, ("revision", "down_revision"))
        if found is None or not isinstance(found.get("revision"), str):
            return None
        revisions.add(found["revision"])
        down = found.get("down_revision")
        if isinstance(down, str):
            parents.add(down)
        elif isinstance(down, tuple):  # a merge of two branches
            parents.update(str(d) for d in down)
        elif down is not None:
            return None
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


def _literal_assignments(path: Path, names: tuple[str, ...]) -> dict[str, Any] | None:
    """The values of the module-level assignments to ``names`` in ``path``; None if one is
    not a literal."""
    found: dict[str, Any] = {}
    for node in ast.parse(path.read_text(encoding="utf-8"), str(path)).body:
        target: ast.expr
        if isinstance(node, ast.AnnAssign) and node.value is not None:
            target, value = node.target, node.value
        elif isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        else:
            continue
        if isinstance(target, ast.Name) and target.id in names:
            try:
                found[target.id] = ast.literal_eval(value)
            except ValueError:
                return None
    return found


def catalog_revision(url: str) -> str | None:
    """The catalog's alembic revision, or None when it has none (a new catalog) or cannot
    be read (alembic then reports why)."""
    engine = configure_sync_engine(create_engine(sync_url(url), poolclass=pool.NullPool))
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT version_num FROM alembic_version")).all()
    except DBAPIError:  # no such table (a new catalog), or the database cannot be reached
        return None
    finally:
        engine.dispose()
    return str(rows[0][0]) if len(rows) == 1 else None


class StatementLog:
    """Appends ``<unix time>\t<statement head>`` per statement executed (executemany counts
    once: it is one call to the driver)."""

    def __init__(self, path: str) -> None:
        self._file = open(path, "a", buffering=1, encoding="utf-8")  # noqa: SIM115 (lives with the engine)
        self._lock = threading.Lock()

    def __call__(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        head = " ".join(statement.split()[:4])[:80]
        with self._lock:
            self._file.write(f"{time.time():.3f}\t{head}\n")


# How long closing the catalog waits for sessions still rolling back (a full disk is slow).
CLEANUP_SECONDS = 10.0


def _retrieved(task: asyncio.Future[None]) -> None:
    # Whoever awaited it got its error; if they were cancelled first, nobody did.
    if not task.cancelled() and task.exception() is not None:
        log.debug(
            "catalog session cleanup failed after its caller was cancelled: %s", task.exception()
        )


class Database:
    """The catalog connection the server uses: one async engine, short sessions."""

    def __init__(self, url: str) -> None:
        ensure_sqlite_dir(url)
        self.url = url
        self.engine: AsyncEngine = create_async_engine(async_url(url), pool_pre_ping=True)
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        log_path = os.environ.get(STATEMENT_LOG_ENV)
        if log_path:
            event.listen(self.engine.sync_engine, "before_cursor_execute", StatementLog(log_path))
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)
        self._cleanups: set[asyncio.Future[None]] = set()

    @contextlib.asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session that commits on success and rolls back on error.

        The commit (or rollback) and the close run to completion even when the task using the
        session is cancelled meanwhile (a service stopping). Cut short, they leave a connection
        half-returned to the pool: the commit hands its connection back, and the pool's reset
        (a rollback) is then interrupted, which SQLAlchemy reports as an error and answers by
        terminating the connection in a task nobody waits for."""
        session = self.sessionmaker()
        try:
            yield session
        except BaseException:
            await self._finish(session, commit=False)
            raise
        await self._finish(session, commit=True)

    async def _finish(self, session: AsyncSession, *, commit: bool) -> None:
        """Commit or roll back, then close ``session``, one step after the other, shielded
        from cancellation: if the caller is cancelled, the steps still finish (``close``
        waits for them), and the cancellation goes on. A failed commit reaches the caller."""

        async def finish() -> None:
            try:
                if commit:
                    await session.commit()
                else:
                    await session.rollback()
            finally:
                await session.close()

        task = asyncio.ensure_future(finish())
        self._cleanups.add(task)
        task.add_done_callback(self._cleanups.discard)
        task.add_done_callback(_retrieved)
        await asyncio.shield(task)

    async def close(self) -> None:
        """Wait for sessions still finishing (their callers were cancelled), then close."""
        if self._cleanups:
            await asyncio.wait(list(self._cleanups), timeout=CLEANUP_SECONDS)
        await self.engine.dispose()
