"""Keeping ids unique beyond the catalog: data outside it (recordings on disk under a
camera's id) can outlive the row, so the next id must also pass the ids that data uses."""

from __future__ import annotations

from sqlalchemy import text

from vms_core.db.engine import Database

# Only tables whose counters this module may lift; the name goes into SQL text.
_TABLES = frozenset({"cameras"})


async def skip_ids_through(db: Database, table: str, used: int) -> None:
    """Make every id ``table`` hands out from now on greater than ``used``."""
    if table not in _TABLES:
        raise ValueError(f"no id counter for {table!r}")
    if used <= 0:
        return
    async with db.session() as session:
        if db.engine.dialect.name == "sqlite":
            # AUTOINCREMENT tables (vms_core.db.models.NEVER_REUSED) count in sqlite_sequence.
            current = await session.scalar(
                text("SELECT seq FROM sqlite_sequence WHERE name = :t"), {"t": table}
            )
            if current is None:
                await session.execute(
                    text("INSERT INTO sqlite_sequence (name, seq) VALUES (:t, :n)"),
                    {"t": table, "n": used},
                )
            elif current < used:
                await session.execute(
                    text("UPDATE sqlite_sequence SET seq = :n WHERE name = :t"),
                    {"t": table, "n": used},
                )
        else:
            # nextval() may skip one id; gaps are harmless, reuse is not.
            await session.execute(
                text(
                    "SELECT setval(pg_get_serial_sequence(:t, 'id'), "
                    "GREATEST(:n, nextval(pg_get_serial_sequence(:t, 'id'))))"
                ),
                {"t": table, "n": used},
            )
