"""A camera added to the catalog is announced to every listener even when the caller that
added it is cancelled meanwhile (`vms demo` stopping while it adds cameras): a listener cut
short never heard of a camera that is in the catalog (the plug-ins' camera list missed it)."""

from __future__ import annotations

from pathlib import Path

from tests.cancelling import cancel_at_every_turn
from vms_core.cameras import CameraChange, CameraService
from vms_core.config.settings import CameraSettings
from vms_core.db import Database, upgrade_schema
from vms_core.secrets import SecretBox


async def test_a_camera_added_by_a_cancelled_caller_is_still_announced(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'catalog.db'}"
    upgrade_schema(url)
    db = Database(url)
    cameras = CameraService(db, SecretBox(tmp_path / "secret.key"))
    known: set[int] = set()

    async def listener(change: CameraChange) -> None:
        row = await cameras.get(change.camera_id)  # as the plug-in host's listener does
        if row is not None:
            known.add(row.id)

    cameras.changed.connect(listener, "test")

    async def add(turns: int) -> None:
        await cameras.add(CameraSettings(name=f"cam-{turns}", rtsp_url="rtsp://127.0.0.1:9/x"))

    # Cancel the caller after 0, 1, 2, ... loop turns, until an add finishes before it.
    finished_at = await cancel_at_every_turn(add, most=2000)
    assert finished_at > 5
    # Adds whose callers were cancelled may still be under way: the server's stop waits for
    # them this way, before it stops the listeners and closes the catalog.
    await cameras.settle()
    in_catalog = {c.id for c in await cameras.visible()}
    assert in_catalog, "no add got as far as the catalog"
    assert known == in_catalog
    await db.close()
