"""saved wall views

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06 23:00:00.000000

Issue #19 (the video wall): named views, a layout and a camera per tile, a user's own
(``owner_id``) or shared by an admin (``owner_id`` NULL). A new table only; on SQLite it is
AUTOINCREMENT like the others whose ids are referenced (0003): a browser remembers the
view it shows by id.

The alarms half of issue #19 adds a migration on its own branch: whichever merges second
points its ``down_revision`` at the other.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "saved_views",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=True),
        sa.Column("layout", sa.Integer(), nullable=False),
        sa.Column("tiles", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_us", sa.BigInteger(), nullable=False),
        sa.Column("updated_us", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["users.id"],
            name=op.f("fk_saved_views_owner_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_saved_views")),
        sa.UniqueConstraint("owner_id", "name", name=op.f("uq_saved_views_owner_id")),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_saved_views_owner_id"), "saved_views", ["owner_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_saved_views_owner_id"), table_name="saved_views")
    op.drop_table("saved_views")
