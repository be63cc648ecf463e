"""Saved views of the video wall: a name, a layout, and the camera in each tile.

A user's own views are theirs alone; an admin may share a view with everyone (it then has
no owner, and only admins change it). A tile names a camera by id. What a user is given
back never names a camera they may not see (nor one since removed): that tile is empty,
so one view can serve users who see different cameras.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from vms_core.accounts import Principal
from vms_core.db.engine import Database
from vms_core.db.models import Camera, SavedView
from vms_core.timeutil import now_us

LAYOUTS = (1, 4, 9, 16)


class ViewError(ValueError):
    """A request the service refuses; ``status`` is the HTTP answer it maps to."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class ViewSpec:
    name: str
    layout: int
    tiles: list[int | None]


@dataclass(frozen=True)
class View:
    id: int
    name: str
    shared: bool
    layout: int
    tiles: list[int | None]
    created_by: str
    updated_us: int
    editable: bool  # by the user it was read for


class ViewService:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def list(self, who: Principal) -> list[View]:
        """The user's own views and the shared ones, by name."""
        async with self.db.session() as session:
            rows = list(
                await session.scalars(
                    select(SavedView)
                    .where(or_(SavedView.owner_id == who.user_id, SavedView.owner_id.is_(None)))
                    .order_by(SavedView.name, SavedView.id)
                )
            )
            known = await _camera_ids(session)
        return [_view(row, who, known) for row in rows]

    async def create(self, who: Principal, spec: ViewSpec, shared: bool) -> View:
        if shared and not who.has_role("admin"):
            raise ViewError(403, "shared: only admins share views")
        owner = None if shared else who.user_id
        async with self.db.session() as session:
            known = await _camera_ids(session)
            _check(spec, who, known)
            await _name_free(session, owner, spec.name)
            now = now_us()
            row = SavedView(
                name=spec.name,
                owner_id=owner,
                layout=spec.layout,
                tiles=list(spec.tiles),
                created_by=who.username,
                created_us=now,
                updated_us=now,
            )
            session.add(row)
            await session.flush()
            return _view(row, who, known)

    async def update(self, who: Principal, view_id: int, spec: ViewSpec) -> View:
        async with self.db.session() as session:
            row = await _editable(session, who, view_id)
            known = await _camera_ids(session)
            _check(spec, who, known)
            if spec.name != row.name:
                await _name_free(session, row.owner_id, spec.name)
            row.name, row.layout, row.tiles = spec.name, spec.layout, list(spec.tiles)
            row.updated_us = now_us()
            return _view(row, who, known)

    async def delete(self, who: Principal, view_id: int) -> None:
        async with self.db.session() as session:
            row = await _editable(session, who, view_id)
            await session.delete(row)


async def _camera_ids(session: AsyncSession) -> set[int]:
    return set(await session.scalars(select(Camera.id)))


def _check(spec: ViewSpec, who: Principal, known: set[int]) -> None:
    if not spec.name.strip():
        raise ViewError(400, "name: must not be blank")
    if spec.layout not in LAYOUTS:
        raise ViewError(400, f"layout: expected one of {', '.join(map(str, LAYOUTS))}")
    if len(spec.tiles) != spec.layout:
        raise ViewError(400, f"tiles: {spec.layout} tiles in this layout, {len(spec.tiles)} given")
    for index, camera_id in enumerate(spec.tiles):
        if camera_id is not None and (camera_id not in known or not who.can_see(camera_id)):
            raise ViewError(400, f"tiles[{index}]: no camera {camera_id}")


async def _name_free(session: AsyncSession, owner: int | None, name: str) -> None:
    taken = await session.scalar(
        select(SavedView.id).where(
            SavedView.name == name,
            SavedView.owner_id.is_(None) if owner is None else SavedView.owner_id == owner,
        )
    )
    if taken is not None:
        kind = "shared view" if owner is None else "view of yours"
        raise ViewError(409, f'name: there is already a {kind} named "{name}"')


async def _editable(session: AsyncSession, who: Principal, view_id: int) -> SavedView:
    row = await session.get(SavedView, view_id)
    if row is None or (row.owner_id is not None and row.owner_id != who.user_id):
        raise ViewError(404, f"no view {view_id}")
    if row.owner_id is None and not who.has_role("admin"):
        raise ViewError(403, f"view {view_id} is shared: only admins change it")
    return row


def _view(row: SavedView, who: Principal, known: set[int]) -> View:
    tiles = [
        c if c is not None and c in known and who.can_see(c) else None for c in row.tiles or []
    ]
    shared = row.owner_id is None
    return View(
        id=row.id,
        name=row.name,
        shared=shared,
        layout=row.layout,
        tiles=tiles,
        created_by=row.created_by,
        updated_us=row.updated_us,
        editable=not shared or who.has_role("admin"),
    )
