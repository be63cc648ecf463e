"""RecordingCatalog on both catalogs: a flush writes every camera's changes in one upsert
(and one bitrate update), and a row that cannot be written is dropped alone."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, event, select

from tests.conftest import fresh_pg_database
from vms_core.db import Database, upgrade_schema
from vms_core.db.models import Camera, Segment, Stream
from vms_core.recording_catalog import RecordingCatalog

S = 1_000_000


@pytest.fixture(
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
)
async def db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'catalog.db'}"
    else:
        url = fresh_pg_database(request.getfixturevalue("pg_url"))
    upgrade_schema(url)
    database = Database(url)
    yield database
    await database.close()


async def add_cameras(db: Database, *names: str) -> dict[str, int]:
    async with db.session() as session:
        for name in names:
            camera = Camera(name=name, created_us=0, updated_us=0)
            camera.streams.append(Stream(role="main", url=f"rtsp://127.0.0.1:9/{name}"))
            session.add(camera)
    async with db.session() as session:
        return {c.name: c.id for c in await session.scalars(select(Camera))}


async def segment_rows(db: Database) -> dict[str, tuple[int | None, int]]:
    async with db.session() as session:
        rows = await session.execute(select(Segment.path, Segment.end_us, Segment.bytes))
        return {p: (e, b) for p, e, b in rows}


async def test_one_flush_writes_every_cameras_changes(db: Database) -> None:
    ids = await add_cameras(db, "a", "b", "c")
    catalog = RecordingCatalog(db)
    writes: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if not statement.lstrip().upper().startswith("SELECT"):
            writes.append(statement.split()[0])

    event.listen(db.engine.sync_engine, "before_cursor_execute", count)
    for n, name in enumerate(ids):
        catalog.opened(ids[name], f"/r/{name}/1.mp4", 100 * S + n, "h264")
    result = await catalog.flush(set(ids.values()))
    assert result is not None and result.written == 3 and result.closed == []
    assert writes == ["INSERT"]
    assert await segment_rows(db) == {f"/r/{n}/1.mp4": (None, 0) for n in ids}

    writes.clear()
    catalog.progress("/r/a/1.mp4", 101 * S, 1000)
    catalog.progress("/r/b/1.mp4", 101 * S, 2000)
    catalog.closed(ids["c"], "/r/c/1.mp4", 100 * S + 2, 110 * S + 2, 1_250_000)
    result = await catalog.flush(set(ids.values()))
    assert result is not None and [s.path for s in result.closed] == ["/r/c/1.mp4"]
    assert sorted(writes) == ["INSERT", "UPDATE"]  # the upsert, and c's bitrate
    rows = await segment_rows(db)
    assert rows["/r/a/1.mp4"] == (None, 1000) and rows["/r/b/1.mp4"] == (None, 2000)
    assert rows["/r/c/1.mp4"] == (110 * S + 2, 1_250_000)
    async with db.session() as session:
        bitrate = await session.scalar(select(Stream.bitrate).where(Stream.camera_id == ids["c"]))
    assert bitrate == 1_000_000
    # The closed segment left memory; the open ones stay the live edge.
    assert [s.path for s in catalog.live(ids["c"])] == []
    assert [(s.end_us, s.bytes) for s in catalog.live(ids["a"])] == [(101 * S, 1000)]
    event.remove(db.engine.sync_engine, "before_cursor_execute", count)


async def test_a_row_that_cannot_be_written_is_dropped_alone(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    ids = await add_cameras(db, "kept", "gone")
    catalog = RecordingCatalog(db)
    catalog.opened(ids["kept"], "/r/kept/1.mp4", 100 * S, "h264")
    catalog.opened(ids["gone"], "/r/gone/1.mp4", 100 * S, "h264")
    # The camera goes between the recorder's report and the flush (the caller still
    # listed it): its row can never be inserted, the other one must be.
    async with db.session() as session:
        await session.execute(delete(Camera).where(Camera.id == ids["gone"]))
    with caplog.at_level(logging.WARNING, "vms_core.recording_catalog"):
        result = await catalog.flush(set(ids.values()))
    assert result is not None and result.written == 1
    assert set(await segment_rows(db)) == {"/r/kept/1.mp4"}
    assert "/r/gone/1.mp4" in caplog.text and catalog.live(ids["gone"]) == []
    # Nothing is retried for it later.
    catalog.progress("/r/kept/1.mp4", 101 * S, 10)
    result = await catalog.flush(set(ids.values()))
    assert result is not None and result.written == 1
