"""alarms, event kinds, expiring locks, users who see every camera

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 22:25:00.000000

Issue #19. Events get a ``kind`` (motion, system, detection: the existing rows are
classified by their type here, the same way ``vms_core.events.kinds`` does) and indexes
for the events page's keyset paging and filters; ``ix_events_time`` is replaced by
``(time_us, id)``, the order pages are walked in. High-severity events enter the alarm
queue (``alarms``, ``alarm_notes``). Automatic evidence locks may expire
(``bookmarks.lock_expires_us``). A user may see every camera, those added later too
(``users.all_cameras``).

New NOT NULL columns on existing tables carry a server default (plain strings: an SQL
expression would make SQLite rebuild the table) so that filled tables take them; every
change here is an ADD COLUMN or an index, which SQLite does in place, keeping the tables'
AUTOINCREMENT.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("kind", sa.String(length=16), nullable=False, server_default="detection")
        )
        batch_op.drop_index("ix_events_time")
        batch_op.create_index("ix_events_time_id", ["time_us", "id"], unique=False)
        batch_op.create_index("ix_events_kind_time", ["kind", "time_us"], unique=False)
        batch_op.create_index("ix_events_severity_time", ["severity", "time_us"], unique=False)
    op.execute("UPDATE events SET kind = 'motion' WHERE type LIKE 'motion.%'")
    op.execute("UPDATE events SET kind = 'system' WHERE type LIKE 'camera.%'")

    op.create_table(
        "alarms",
        sa.Column("id", _ID, nullable=False),
        sa.Column("event_id", _ID, nullable=False),
        sa.Column("time_us", sa.BigInteger(), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("assignee", sa.String(length=64), nullable=True),
        sa.Column("acknowledged_by", sa.String(length=64), nullable=True),
        sa.Column("acknowledged_us", sa.BigInteger(), nullable=True),
        sa.Column("closed_by", sa.String(length=64), nullable=True),
        sa.Column("closed_us", sa.BigInteger(), nullable=True),
        sa.Column("created_us", sa.BigInteger(), nullable=False),
        sa.Column("updated_us", sa.BigInteger(), nullable=False),
        sa.Column("thumbnail", sa.String(length=16), nullable=False),
        sa.Column("thumbnail_note", sa.String(length=256), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"], ["events.id"], name=op.f("fk_alarms_event_id_events"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alarms")),
        sa.UniqueConstraint("event_id", name=op.f("uq_alarms_event_id")),
    )
    with op.batch_alter_table("alarms", schema=None) as batch_op:
        batch_op.create_index("ix_alarms_state_time", ["state", "time_us", "id"], unique=False)

    op.create_table(
        "alarm_notes",
        sa.Column("id", _ID, nullable=False),
        sa.Column("alarm_id", _ID, nullable=False),
        sa.Column("time_us", sa.BigInteger(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["alarm_id"],
            ["alarms.id"],
            name=op.f("fk_alarm_notes_alarm_id_alarms"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alarm_notes")),
    )
    with op.batch_alter_table("alarm_notes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_alarm_notes_alarm_id"), ["alarm_id"], unique=False)

    with op.batch_alter_table("bookmarks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("lock_expires_us", sa.BigInteger(), nullable=True))

    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(
            # A plain string default: an expression (sa.false()) would make SQLite rebuild
            # the table, and the rebuild would drop its AUTOINCREMENT (ids never reused).
            sa.Column("all_cameras", sa.Boolean(), nullable=False, server_default="0")
        )


def downgrade() -> None:
    # Dropping a column rebuilds the table on SQLite; env.py turns foreign keys off
    # meanwhile, so rows pointing at users and events do not cascade away with it.
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("all_cameras")
    with op.batch_alter_table("bookmarks", schema=None) as batch_op:
        batch_op.drop_column("lock_expires_us")
    with op.batch_alter_table("alarm_notes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alarm_notes_alarm_id"))
    op.drop_table("alarm_notes")
    with op.batch_alter_table("alarms", schema=None) as batch_op:
        batch_op.drop_index("ix_alarms_state_time")
    op.drop_table("alarms")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index("ix_events_severity_time")
        batch_op.drop_index("ix_events_kind_time")
        batch_op.drop_index("ix_events_time_id")
        batch_op.create_index("ix_events_time", ["time_us"], unique=False)
        batch_op.drop_column("kind")
