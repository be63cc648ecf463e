"""Plug-ins' key-value state (``context.kv_*``) in the catalog, one row per key."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import delete, select

from vms_core.db.engine import Database
from vms_core.db.models import PluginState as PluginStateRow


class PluginStateStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def load(self, plugin: str) -> Mapping[str, Any]:
        async with self.db.session() as session:
            rows = await session.scalars(
                select(PluginStateRow).where(PluginStateRow.plugin == plugin)
            )
            return {row.key: row.value for row in rows}

    async def set(self, plugin: str, key: str, value: Any) -> None:
        async with self.db.session() as session:
            row = await session.get(PluginStateRow, (plugin, key))
            if row is None:
                session.add(PluginStateRow(plugin=plugin, key=key, value=value))
            else:
                row.value = value

    async def delete(self, plugin: str, key: str) -> None:
        async with self.db.session() as session:
            await session.execute(
                delete(PluginStateRow).where(
                    PluginStateRow.plugin == plugin, PluginStateRow.key == key
                )
            )
