"""user ids are never reused

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-06 22:00:00.000000

Export jobs now belong to a user id (issue #15, item 10). On SQLite an INTEGER PRIMARY KEY
without AUTOINCREMENT hands the highest id out again once that row is deleted, so a user
created after the last one was deleted would have inherited their exports. The users table
is rebuilt with AUTOINCREMENT (rows, ids and the foreign keys pointing at them unchanged).
PostgreSQL's sequences never reuse a value: nothing to do there.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    # Rebuilding the referenced table must not cascade-delete sessions, tokens or
    # permissions: SQLite checks foreign keys on DROP TABLE unless they are off.
    op.execute("PRAGMA foreign_keys=OFF")
    with op.batch_alter_table(
        "users", recreate="always", table_kwargs={"sqlite_autoincrement": True}
    ):
        pass
    op.execute("PRAGMA foreign_keys=ON")


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.execute("PRAGMA foreign_keys=OFF")
    with op.batch_alter_table(
        "users", recreate="always", table_kwargs={"sqlite_autoincrement": False}
    ):
        pass
    op.execute("PRAGMA foreign_keys=ON")
