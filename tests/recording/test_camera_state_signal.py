"""CameraService.state_changed: every change of a camera's stored state is heard at once,
and a report that changes nothing is not."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from vms_core.cameras import CameraService, CameraState
from vms_core.db import Database, upgrade_schema
from vms_core.db.models import Camera
from vms_core.secrets import SecretBox


async def test_a_state_change_is_signalled_once_and_a_repeat_not_at_all(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'catalog.db'}"
    upgrade_schema(url)
    db = Database(url)
    async with db.session() as session:
        session.add(Camera(name="gate", created_us=0, updated_us=0))
    async with db.session() as session:
        camera_id = (await session.scalars(select(Camera.id))).one()
    cameras = CameraService(db, SecretBox(tmp_path / "secret.key"))
    heard: list[CameraState] = []
    cameras.state_changed.connect(heard.append, "test")

    assert await cameras.set_state(camera_id, "streaming")
    assert not await cameras.set_state(camera_id, "streaming")  # a repeat: nothing new
    assert await cameras.set_state(camera_id, "lost", "no video for 5 s")
    assert not await cameras.set_state(camera_id + 1, "lost")  # no such camera
    await db.close()
    assert heard == [
        CameraState(camera_id, "streaming", ""),
        CameraState(camera_id, "lost", "no video for 5 s"),
    ]
