"""Typed application keys for the services route handlers use.

New routes take what they need from ``request.app[KEY]`` instead of the whole server
(``server_of``), so a handler's dependencies are named in its code and a test can build
an application with just those services.
"""

from __future__ import annotations

from aiohttp import web

from vms_core.alarms import AlarmService
from vms_core.events.bus import EventBus
from vms_core.events.search import EventSearch
from vms_core.exports import ExportService

ALARMS: web.AppKey[AlarmService] = web.AppKey("vms.alarms", AlarmService)
EVENT_BUS: web.AppKey[EventBus] = web.AppKey("vms.event_bus", EventBus)
EVENT_SEARCH: web.AppKey[EventSearch] = web.AppKey("vms.event_search", EventSearch)
EXPORTS: web.AppKey[ExportService] = web.AppKey("vms.exports", ExportService)
