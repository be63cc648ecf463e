"""The plug-ins' in-memory camera list follows each camera's state by reading that camera
alone: a state change of one camera reloaded every camera with its streams, for every
event, plug-ins or not (issue #16)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import event
from vms_sdk import Event

CAMERAS = "".join(
    f'[[cameras]]\nname = "list-{n}"\nrtsp_url = "rtsp://127.0.0.1:9/{n}"\nrecord = false\n'
    for n in range(8)
)


async def test_a_camera_event_rereads_that_camera_only(make_server: Callable[..., Any]) -> None:
    running = await make_server(CAMERAS)
    server = running.server
    services = server.plugins.services
    await services.refresh_cameras()
    ids = {c.name: c.id for c in await server.cameras.visible()}
    assert len(services.list_cameras()) == 8

    reads: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "FROM cameras" in statement:
            reads.append(" ".join(statement.split()))

    engine = server.db.engine.sync_engine
    await server.cameras.set_state(ids["list-3"], "lost", "gone")
    event.listen(engine, "before_cursor_execute", count)
    try:
        await server.events.publish(Event(type="camera.lost", camera_ids=(str(ids["list-3"]),)))
        await server.events.drain()
    finally:
        event.remove(engine, "before_cursor_execute", count)
    states = {c.name: c.state for c in services.list_cameras()}
    assert states["list-3"] == "lost" and len(states) == 8
    # That camera read by its id (the bus checks the event's camera ids exist, the plug-in
    # services reread it), never the whole table.
    assert reads and all("WHERE cameras.id =" in r or "WHERE cameras.id IN" in r for r in reads), (
        reads
    )
