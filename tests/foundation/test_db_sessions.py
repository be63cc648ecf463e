"""Catalog sessions cut short by a stopping service: the server's stop waits for their
rollback and close instead of pulling the connection from under them (which SQLAlchemy
reports as an error, "Exception during reset or similar")."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

from sqlalchemy import text

from vms_core.db import Database, shown_url


async def test_closing_the_catalog_waits_for_a_cancelled_sessions_cleanup(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'catalog.db'}")
    async with db.session() as session:
        await session.execute(text("CREATE TABLE t (x INTEGER)"))
    entered = asyncio.Event()

    async def writer() -> None:
        async with db.session() as session:
            await session.execute(text("INSERT INTO t VALUES (1)"))
            entered.set()
            await asyncio.sleep(30)  # a service's work, cancelled by its stop

    task = asyncio.create_task(writer())
    await asyncio.wait_for(entered.wait(), 10)
    task.cancel()
    await asyncio.sleep(0)  # it is rolling back now
    task.cancel()  # and cancelled again (a stop that gave up waiting): the rollback goes on
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await db.close()  # at once, as the server's stop does
    # Nothing of the session is left running for the loop's end to cancel mid-rollback.
    assert [t for t in asyncio.all_tasks() if t is not asyncio.current_task()] == []
    # The insert was rolled back, not left half-done; the error-log fixture fails this test
    # if SQLAlchemy logged the reset it could not finish.
    again = Database(db.url)
    try:
        async with again.session() as session:
            assert (await session.execute(text("SELECT count(*) FROM t"))).scalar() == 0
    finally:
        await again.close()


def test_a_catalog_url_is_printed_without_its_password() -> None:
    shown = shown_url("postgresql://vms:s3cret-pw@db.example:5432/vms")
    assert "s3cret-pw" not in shown
    assert shown.startswith("postgresql://vms:***@db.example:5432/vms")
