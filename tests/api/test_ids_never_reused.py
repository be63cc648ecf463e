"""Ids are never handed out twice, on SQLite and PostgreSQL: data keyed by a deleted
camera's (or user's) id must not move to the next one. An upgraded catalog keeps its rows."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, insert, select, text
from sqlalchemy.orm import Session

from tests.conftest import bearer, fresh_pg_database
from vms_core.db.engine import configure_sync_engine, sync_url, upgrade_schema
from vms_core.db.models import (
    NEVER_REUSED,
    ApiToken,
    AuditEntry,
    Base,
    Bookmark,
    Camera,
    Event,
    SavedView,
    Segment,
    User,
)

QUIET = """
[onvif]
listen_for_hello = false
events = false
"""


def _url(backend: str, tmp_path: Path, pg_url: str) -> str:
    return f"sqlite:///{tmp_path / 'c.db'}" if backend == "sqlite" else fresh_pg_database(pg_url)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def test_a_deleted_cameras_and_users_id_is_not_given_to_the_next(
    make_server, http, backend: str, tmp_path: Path, pg_url: str
) -> None:
    url = None if backend == "sqlite" else fresh_pg_database(pg_url)
    srv = await make_server(QUIET, database_url=url)
    admin = await srv.admin_token()
    ids = {}
    for kind, path, first, second in [
        (
            "camera",
            "/api/cameras",
            {"name": "a", "rtsp_url": "rtsp://127.0.0.1:1/a", "enabled": False},
            {"name": "b", "rtsp_url": "rtsp://127.0.0.1:1/b", "enabled": False},
        ),
        (
            "user",
            "/api/users",
            {"username": "first", "password": "long-enough"},
            {"username": "second", "password": "long-enough"},
        ),
        ("token", "/api/tokens", {"name": "first"}, {"name": "second"}),
    ]:
        async with http.post(srv.url + path, json=first, headers=bearer(admin)) as r:
            assert r.status == 201, await r.text()
            old = (await r.json())["id"]
        async with http.delete(f"{srv.url}{path}/{old}", headers=bearer(admin)) as r:
            assert r.status in (200, 204), await r.text()
        async with http.post(srv.url + path, json=second, headers=bearer(admin)) as r:
            assert r.status == 201, await r.text()
            new = (await r.json())["id"]
        ids[kind] = (old, new)
    assert all(new > old for old, new in ids.values()), ids


def test_every_table_with_referenced_ids_never_reuses_them(
    backend: str, tmp_path: Path, pg_url: str
) -> None:
    url = _url(backend, tmp_path, pg_url)
    upgrade_schema(url)
    engine = configure_sync_engine(create_engine(sync_url(url)))
    never_reused = [t for t in Base.metadata.sorted_tables if t.kwargs == NEVER_REUSED]
    assert {t.name for t in never_reused} == {
        "alarms",
        "cameras",
        "segments",
        "events",
        "bookmarks",
        "users",
        "api_tokens",
        "audit_log",
        "saved_views",
    }
    rows = {
        Camera: lambda i: Camera(name=f"c{i}", created_us=0, updated_us=0),
        User: lambda i: User(username=f"u{i}", password_hash="x", role="viewer", created_us=0),
        Event: lambda i: Event(uid=f"e{i}", type="t.t", time_us=0),
        AuditEntry: lambda i: AuditEntry(time_us=0, action="a"),
    }
    try:
        with Session(engine) as session:
            camera = Camera(name="keep", created_us=0, updated_us=0)
            user = User(username="keep", password_hash="x", role="viewer", created_us=0)
            session.add_all([camera, user])
            session.flush()
            rows[Segment] = lambda i: Segment(camera_id=camera.id, start_us=i, path=f"p{i}")
            rows[Bookmark] = lambda i: Bookmark(
                camera_id=camera.id, start_us=0, end_us=1, created_us=0
            )
            rows[ApiToken] = lambda i: ApiToken(
                user_id=user.id, name="t", token_hash=f"h{i}", prefix="p", created_us=0
            )
            rows[SavedView] = lambda i: SavedView(
                name=f"v{i}", owner_id=user.id, layout=1, tiles=[None], created_us=0, updated_us=0
            )
            for model, make in rows.items():
                first = make(1)
                session.add(first)
                session.flush()
                old = first.id
                session.delete(first)
                session.flush()
                second = make(2)
                session.add(second)
                session.flush()
                assert second.id > old, model.__tablename__
            session.commit()
    finally:
        engine.dispose()


def test_an_upgraded_sqlite_catalog_keeps_its_rows_and_skips_ids_events_still_name(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade_schema(url, "0001")
    engine = configure_sync_engine(create_engine(sync_url(url)))
    try:
        with engine.begin() as conn:
            for i in (1, 2, 3):
                conn.execute(insert(Camera).values(id=i, name=f"c{i}", created_us=0, updated_us=0))
                conn.execute(insert(Segment).values(camera_id=i, start_us=i, path=f"p{i}", bytes=1))
                conn.execute(
                    insert(Bookmark).values(camera_id=i, start_us=0, end_us=1, created_us=0)
                )
            # Camera 5 was deleted before the upgrade; an event still names it.
            conn.execute(insert(Event).values(uid="e", type="t.t", time_us=0, camera_ids=[3, 5]))
        upgrade_schema(url)
        with engine.begin() as conn:
            counts = [
                conn.scalar(select(func.count()).select_from(t))
                for t in (Camera, Segment, Bookmark, Event)
            ]
            assert counts == [3, 3, 3, 1]
            assert conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall() == []
            conn.execute(text("DELETE FROM cameras WHERE id = 3"))
            # Foreign keys are on again after the upgrade: the cascade still works.
            assert conn.scalar(select(func.count()).select_from(Segment)) == 2
            conn.execute(insert(Camera).values(name="new", created_us=0, updated_us=0))
            assert conn.scalar(select(Camera.id).where(Camera.name == "new")) == 6
    finally:
        engine.dispose()


async def test_a_new_camera_does_not_take_the_id_of_recordings_left_on_disk(
    make_server, http, backend: str, tmp_path: Path, pg_url: str
) -> None:
    # Camera 7 was removed; its recordings stay on disk under its id (as the API says).
    (tmp_path / "recordings" / "7" / "2025-01-01").mkdir(parents=True)
    url = None if backend == "sqlite" else fresh_pg_database(pg_url)
    srv = await make_server(QUIET, database_url=url)
    admin = await srv.admin_token()
    async with http.post(
        srv.url + "/api/cameras",
        json={"name": "new", "rtsp_url": "rtsp://127.0.0.1:1/new", "enabled": False},
        headers=bearer(admin),
    ) as r:
        assert r.status == 201, await r.text()
        assert (await r.json())["id"] > 7
