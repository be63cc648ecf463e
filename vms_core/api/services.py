"""The narrow interfaces route handlers use where a whole service would be too much: what
live view, the plug-ins and the recordings look like from the HTTP side."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from aiohttp import web

if TYPE_CHECKING:
    from vms_core.storage.catalog import RecordedSegment
    from vms_core.webrtc.whep import Answer, Viewer


class LiveView(Protocol):
    """WHEP sessions (``vms_core.webrtc.LiveView``)."""

    async def open(self, camera_id: int, stream: str, offer_sdp: str, viewer: Viewer) -> Answer:
        """Negotiate a session; WhepError (4xx/5xx) says why not."""

    async def close(self, session_id: str, reason: str) -> bool: ...

    def owner(self, session_id: str) -> tuple[int, int] | None:
        """(user id, camera id) of a live session or one that ended a moment ago."""

    def is_live(self, session_id: str) -> bool: ...

    async def end_user_sessions(
        self, user_id: int, reason: str, keep_cameras: frozenset[int] | None = None
    ) -> int: ...


class PluginDirectory(Protocol):
    """The plug-ins as the API shows them, and their own routes."""

    def describe(self) -> list[dict[str, Any]]:
        """Every plug-in found, with its state, health, runner figures and frame lanes."""

    def describe_one(self, name: str) -> dict[str, Any] | None:
        """One plug-in as ``describe`` shows it, or None when there is none of that name."""

    async def restart(self, name: str) -> dict[str, Any]:
        """Restart one plug-in (counters reset) and describe it; ``KeyError`` when there is
        none of that name, ``PluginNotRestartable`` when it cannot run now."""

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Serve a request under /api/plugins/<name>/."""

    def is_public(self, method: str, path: str) -> bool:
        """A plug-in declared this route public (it checks its own signature)."""


class RecordingIndex(Protocol):
    """What is recorded of a camera: the catalog, completed by what the recorders reported
    and the catalog does not show yet."""

    async def segments(self, camera_id: int, start_us: int, end_us: int) -> list[RecordedSegment]:
        """Segments overlapping [start, end), oldest first."""

    async def first_recording_us(self, camera_id: int) -> int | None: ...


class StorageReport(Protocol):
    async def report(self) -> dict[str, Any]:
        """Usage per camera and in total, free disk, limits and retention's last pass."""
