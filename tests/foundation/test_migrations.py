"""The alembic migrations and the ORM models describe the same schema, on both databases."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect

from tests.conftest import fresh_pg_database
from vms_core.db.engine import (
    alembic_config,
    catalog_revision,
    head_revision,
    sync_url,
    upgrade_schema,
)
from vms_core.db.models import Base


def _diff(url: str) -> list[object]:
    engine = create_engine(sync_url(url))
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            return list(compare_metadata(ctx, Base.metadata))
    finally:
        engine.dispose()


def _check(url: str) -> None:
    upgrade_schema(url)
    assert _diff(url) == []
    engine = create_engine(sync_url(url))
    try:
        tables = set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert set(Base.metadata.tables) <= tables


def test_sqlite_migrations_match_models(tmp_path: Path) -> None:
    _check(f"sqlite:///{tmp_path / 'catalog.db'}")


def test_postgresql_migrations_match_models(pg_url: str) -> None:
    _check(fresh_pg_database(pg_url))


def test_diff_detects_a_model_change(tmp_path: Path) -> None:
    """The comparison is not vacuous: a schema that lacks a table shows up."""
    url = f"sqlite:///{tmp_path / 'catalog.db'}"
    upgrade_schema(url)
    engine = create_engine(sync_url(url))
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE plugin_state")
    engine.dispose()
    diff = _diff(url)
    assert any("plugin_state" in repr(d) for d in diff)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_upgrade_is_idempotent(backend: str, tmp_path: Path, pg_url: str) -> None:
    url = f"sqlite:///{tmp_path / 'c.db'}" if backend == "sqlite" else fresh_pg_database(pg_url)
    upgrade_schema(url)
    upgrade_schema(url)
    assert _diff(url) == []


def test_the_newest_revision_read_from_the_files_is_alembics(tmp_path: Path) -> None:
    """A catalog at ``head_revision()`` is not handed to alembic at start (importing it
    costs the server memory for good), so it must be the head alembic itself finds."""
    script = ScriptDirectory.from_config(alembic_config(f"sqlite:///{tmp_path / 'c.db'}"))
    assert head_revision() == script.get_current_head()


def test_a_catalog_one_revision_behind_is_upgraded(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'c.db'}"
    script = ScriptDirectory.from_config(alembic_config(url))
    head = script.get_revision("head")
    assert head is not None and isinstance(head.down_revision, str)
    upgrade_schema(url, head.down_revision)
    assert catalog_revision(url) == head.down_revision
    upgrade_schema(url)
    assert catalog_revision(url) == head_revision()
    assert _diff(url) == []
