"""Typed application keys for the services route handlers use.

New routes take what they need from ``request.app[KEY]`` instead of the whole server
(``server_of``), so a handler's dependencies are named in its code and a test can build
an application with just those services.
"""

from __future__ import annotations

from aiohttp import web

from vms_core.cameras import CameraService
from vms_core.events.density import EventDensity
from vms_core.views import ViewService

CAMERAS: web.AppKey[CameraService] = web.AppKey("vms.cameras", CameraService)
EVENT_DENSITY: web.AppKey[EventDensity] = web.AppKey("vms.event_density", EventDensity)
VIEWS: web.AppKey[ViewService] = web.AppKey("vms.views", ViewService)
