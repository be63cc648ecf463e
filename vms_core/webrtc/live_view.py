"""LiveView: the WHEP service as the server holds it, with the WebRTC stack (aiortc,
aioice, their codecs: about 11 MB) loaded when the first viewer asks, not at start. A
recording server nobody watches never pays for it."""

from __future__ import annotations

import asyncio
import importlib
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from vms_core.audit import AuditLog
from vms_core.live import LiveSources
from vms_core.webrtc.whep import Answer, Viewer, WebRtcOptions

if TYPE_CHECKING:
    from vms_core.webrtc.quota import LiveQuota
    from vms_core.webrtc.service import WebRtcService

log = logging.getLogger(__name__)

SERVICE_MODULE = "vms_core.webrtc.service"


class LiveView:
    def __init__(self, live: LiveSources, audit: AuditLog, options: WebRtcOptions) -> None:
        self.live = live
        self.audit = audit
        self.options = options
        self._service: WebRtcService | None = None

    @property
    def loaded(self) -> bool:
        """The WebRTC stack is loaded (someone asked for a live view since the start)."""
        return self._service is not None

    def service(self) -> WebRtcService:
        """The WHEP service, loading the WebRTC stack on first use."""
        if self._service is None:
            # Imported here, not at the top: this is what defers the WebRTC stack.
            from vms_core.webrtc.service import WebRtcService

            self._service = WebRtcService(self.live, self.audit, self.options)
            log.debug("WebRTC stack loaded for the first live view")
        return self._service

    async def open(self, camera_id: int, stream: str, offer_sdp: str, viewer: Viewer) -> Answer:
        """Negotiate a viewer's session; WhepError says why not."""
        if self._service is None:
            # Loading the stack takes a fifth of a second of CPU: in a thread, not on the
            # event loop every other request and camera event waits on.
            await asyncio.to_thread(importlib.import_module, SERVICE_MODULE)
        return await self.service().open(camera_id, stream, offer_sdp, viewer)

    async def close(self, session_id: str, reason: str) -> bool:
        return self._service is not None and await self._service.close(session_id, reason)

    @property
    def sessions(self) -> Mapping[str, Any]:
        """The live sessions by id (none before the first)."""
        return self._service.sessions if self._service is not None else {}

    @property
    def quota(self) -> LiveQuota:
        """The viewers' session slots (loads the WebRTC stack, as the first viewer does)."""
        return self.service().quota

    def is_live(self, session_id: str) -> bool:
        return session_id in self.sessions

    def owner(self, session_id: str) -> tuple[int, int] | None:
        """(user id, camera id) of a live session, or of one that ended a moment ago."""
        service = self._service
        if service is None:
            return None
        live = service.sessions.get(session_id)
        if live is not None:
            return live.user_id, live.camera_id
        ended = service.ended(session_id)
        return None if ended is None else (ended.user_id, ended.camera_id)

    async def end_user_sessions(
        self, user_id: int, reason: str, keep_cameras: frozenset[int] | None = None
    ) -> int:
        """End ``user_id``'s live views (all, or those on cameras not in ``keep_cameras``)."""
        if self._service is None:
            return 0  # no view was ever opened, so none is being negotiated either
        return await self._service.end_user_sessions(user_id, reason, keep_cameras)

    def viewers(self, camera_id: int) -> int:
        return self._service.viewers(camera_id) if self._service is not None else 0

    async def stop(self) -> None:
        if self._service is not None:
            await self._service.stop()
