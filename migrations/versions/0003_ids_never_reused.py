"""ids are never reused: SQLite tables whose ids are referenced become AUTOINCREMENT

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30 12:00:00

SQLite hands the highest id out again after that row is deleted, unless the table is
AUTOINCREMENT; PostgreSQL's sequences never do, so there this changes nothing. SQLite can
only change that by rebuilding each table (batch mode copies the rows and their ids; env.py
turns foreign keys off meanwhile so dropping the old copy cascades nowhere, and checks them
afterwards). The cameras' counter then starts past any camera id an event still names, so a
camera deleted before this upgrade does not hand its id, and its events, to the next one.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# users became AUTOINCREMENT in 0002.
TABLES = ("cameras", "api_tokens", "events", "bookmarks", "audit_log", "segments")


def _rebuild(autoincrement: bool) -> None:
    for table in TABLES:
        with op.batch_alter_table(
            table, recreate="always", table_kwargs={"sqlite_autoincrement": autoincrement}
        ):
            pass


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return
    _rebuild(True)
    named = bind.scalar(
        sa.text(
            "SELECT max(CAST(j.value AS INTEGER)) FROM events, json_each(events.camera_ids) AS j"
            " WHERE j.type = 'integer'"
        )
    )
    if named:
        # The rebuild's copy set each counter to the table's highest id; lift the cameras'.
        bind.execute(sa.text("DELETE FROM sqlite_sequence WHERE name = 'cameras'"))
        bind.execute(
            sa.text(
                "INSERT INTO sqlite_sequence (name, seq) "
                "SELECT 'cameras', max(:named, coalesce((SELECT max(id) FROM cameras), 0))"
            ),
            {"named": int(named)},
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _rebuild(False)
