"""Typed application keys for the services route handlers use.

New routes take what they need from ``request.app[KEY]`` instead of the whole server
(``server_of``), so a handler's dependencies are named in its code and a test can build
an application with just those services.
"""

from __future__ import annotations

from aiohttp import web

from vms_core.alarms import AlarmService
from vms_core.cameras import CameraService
from vms_core.events.bus import EventBus
from vms_core.events.density import EventDensity
from vms_core.events.search import EventSearch
from vms_core.exports import ExportService
from vms_core.views import ViewService

ALARMS: web.AppKey[AlarmService] = web.AppKey("vms.alarms", AlarmService)
CAMERAS: web.AppKey[CameraService] = web.AppKey("vms.cameras", CameraService)
EVENT_BUS: web.AppKey[EventBus] = web.AppKey("vms.event_bus", EventBus)
EVENT_DENSITY: web.AppKey[EventDensity] = web.AppKey("vms.event_density", EventDensity)
EVENT_SEARCH: web.AppKey[EventSearch] = web.AppKey("vms.event_search", EventSearch)
EXPORTS: web.AppKey[ExportService] = web.AppKey("vms.exports", ExportService)
VIEWS: web.AppKey[ViewService] = web.AppKey("vms.views", ViewService)
