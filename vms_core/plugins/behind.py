"""Telling the operator when a plug-in skips a camera's frames.

The frame dispatcher judges, per plug-in and camera, whether the camera gets what the
plug-in's subscription asks for (:mod:`vms_core.plugins.dispatch`). When a camera falls
behind, this turns that into what an operator sees: a warning in the plug-in's health
(``GET /api/plugins``, ``vms plugins``), a WARNING log line and an event
(``camera.analysis_behind``, then ``camera.analysis_restored`` when it catches up), so a
camera that is not really analysed never looks as if it were.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from vms_sdk import Event, Severity

from vms_core.plugins.dispatch import CameraFigures
from vms_core.plugins.manager import PluginManager

log = logging.getLogger("vms.plugins")

BEHIND_EVENT = "camera.analysis_behind"
RESTORED_EVENT = "camera.analysis_restored"


class BehindReporter:
    """The dispatcher's ``on_behind`` listener (called on the event loop)."""

    def __init__(
        self, manager: PluginManager, publish: Callable[[Event], Awaitable[object]]
    ) -> None:
        self._manager = manager
        self._publish = publish
        self._tasks: set[asyncio.Task[None]] = set()

    def __call__(self, plugin: str, figures: CameraFigures) -> None:
        analysed, skipped = figures.window.rates()
        camera = figures.camera_id
        data = {
            "plugin": plugin,
            "wanted_fps": round(figures.wanted_fps, 3),
            "analysed_fps": round(analysed, 3),
            "skipped_fps": round(skipped, 3),
        }
        if figures.behind:
            message = (
                f"camera {camera}: analysed {analysed:.2f} of {figures.wanted_fps:.2f} "
                f"frames/s wanted, {skipped:.2f}/s skipped (the plug-in cannot keep up)"
            )
            log.warning("plug-in %s falls behind on %s", plugin, message)
        else:
            message = None
            log.info("plug-in %s analyses camera %s at its rate again", plugin, camera)
        self._manager.camera_warning(plugin, camera, message)
        event = Event(
            BEHIND_EVENT if figures.behind else RESTORED_EVENT,
            datetime.now(UTC),
            (camera,),
            severity=Severity.MEDIUM if figures.behind else Severity.INFO,
            source=f"plugin-host:{plugin}",
            data=data,
        )
        task = asyncio.create_task(self._send(event), name=f"vms-behind-{plugin}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send(self, event: Event) -> None:
        try:
            await self._publish(event)
        except (OSError, ValueError) as exc:  # a store that refuses must not stop frames
            log.warning("could not publish %s for camera %s: %s", event.type, event.camera_ids, exc)

    async def drain(self) -> None:
        """Wait for the events still being published."""
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
