"""Catalog sessions cut short by a stopping service: the server's stop waits for their
rollback and close instead of pulling the connection from under them (which SQLAlchemy
reports as an error, "Exception during reset or similar")."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

from sqlalchemy import text

from tests.cancelling import cancel_at_every_turn
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


async def test_a_session_cancelled_at_any_step_of_its_commit_leaves_nothing_behind(
    tmp_path: Path,
) -> None:
    """The commit hands its connection back to the pool, whose reset is a rollback: a
    cancellation landing there made SQLAlchemy log "Exception during reset or similar" (the
    error-log fixture fails the test on it) and terminate the connection in a task nobody
    awaited. Cancel after every number of loop turns until a session gets to finish."""
    db = Database(f"sqlite:///{tmp_path / 'catalog.db'}")
    async with db.session() as session:
        await session.execute(text("CREATE TABLE t (x INTEGER)"))

    async def writer(value: int) -> None:
        async with db.session() as session:
            await session.execute(text("INSERT INTO t VALUES (:x)"), {"x": value})

    finished_at = await cancel_at_every_turn(writer, most=500)
    assert finished_at > 5, "the cancellations never reached the commit"
    await db.close()
    assert [t for t in asyncio.all_tasks() if t is not asyncio.current_task()] == []
    again = Database(db.url)
    try:
        async with again.session() as session:
            written = {x for (x,) in await session.execute(text("SELECT x FROM t"))}
    finally:
        await again.close()
    # Cut short in its body, a session wrote nothing; cut short in its commit, it committed
    # (the commit goes on); the catalog reads back whole either way.
    assert finished_at in written
    assert written <= set(range(finished_at + 1))
