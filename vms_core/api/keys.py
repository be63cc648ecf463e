"""Typed application keys: what a route handler may use of the server, one service each.

A handler takes what it needs from ``request.app[KEY]``, so its dependencies are named in
its code, and a test can build an application with just those services
(``vms_core.api.app.create_app`` fills every key from ``ApiServices``). The services'
modules are imported for type checking only: the HTTP layer loads none of them itself
(live view's WebRTC stack, for one, loads on first use).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from vms_core.accounts.service import AccountService
    from vms_core.accounts.throttle import LoginThrottle
    from vms_core.alarms import AlarmService
    from vms_core.api.registry import ApiRegistry
    from vms_core.api.services import (
        LiveView,
        PluginDirectory,
        RecordingIndex,
        StorageReport,
    )
    from vms_core.audit import AuditLog
    from vms_core.bookmarks import BookmarkService
    from vms_core.cameras import CameraService
    from vms_core.cameras.health import CameraHealth
    from vms_core.cameras.ptz import PtzControl
    from vms_core.cameras.snapshot import Snapshots
    from vms_core.config import Settings
    from vms_core.events.bus import EventBus
    from vms_core.events.density import EventDensity
    from vms_core.events.search import EventSearch
    from vms_core.exports import ExportService
    from vms_core.onvif.scans import DiscoveryScans
    from vms_core.playback.catalog import PlaybackCatalog
    from vms_core.reload import ReloadReport
    from vms_core.views import ViewService

ACCOUNTS: web.AppKey[AccountService] = web.AppKey("vms.accounts")
ALARMS: web.AppKey[AlarmService] = web.AppKey("vms.alarms")
API_TABLE: web.AppKey[ApiRegistry] = web.AppKey("vms.api_table")
AUDIT: web.AppKey[AuditLog] = web.AppKey("vms.audit")
BOOKMARKS: web.AppKey[BookmarkService] = web.AppKey("vms.bookmarks")
CAMERAS: web.AppKey[CameraService] = web.AppKey("vms.cameras")
CAMERA_HEALTH: web.AppKey[CameraHealth] = web.AppKey("vms.camera_health")
DISCOVERY: web.AppKey[DiscoveryScans] = web.AppKey("vms.discovery")
EVENT_BUS: web.AppKey[EventBus] = web.AppKey("vms.event_bus")
EVENT_DENSITY: web.AppKey[EventDensity] = web.AppKey("vms.event_density")
EVENT_SEARCH: web.AppKey[EventSearch] = web.AppKey("vms.event_search")
EXPORTS: web.AppKey[ExportService] = web.AppKey("vms.exports")
LIVE_VIEW: web.AppKey[LiveView] = web.AppKey("vms.live_view")
LOGIN_THROTTLE: web.AppKey[LoginThrottle] = web.AppKey("vms.login_throttle")
PLAYBACK: web.AppKey[PlaybackCatalog] = web.AppKey("vms.playback")
PLUGINS: web.AppKey[PluginDirectory] = web.AppKey("vms.plugins")
PTZ: web.AppKey[PtzControl] = web.AppKey("vms.ptz")
RECORDINGS: web.AppKey[RecordingIndex] = web.AppKey("vms.recordings")
# Re-reads vms.toml and applies it, on behalf of the named user.
RELOAD_CONFIG: web.AppKey[Callable[[str], Awaitable[ReloadReport]]] = web.AppKey("vms.reload")
# The settings in force now (a reload replaces them).
SETTINGS: web.AppKey[Callable[[], Settings]] = web.AppKey("vms.settings")
SNAPSHOTS: web.AppKey[Snapshots] = web.AppKey("vms.snapshots")
STORAGE: web.AppKey[StorageReport] = web.AppKey("vms.storage")
VERSION: web.AppKey[str] = web.AppKey("vms.version", str)
VIEWS: web.AppKey[ViewService] = web.AppKey("vms.views")
