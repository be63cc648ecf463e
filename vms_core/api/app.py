"""The aiohttp application factory: the HTTP API over the services it is given.

The application never sees the server object. ``ApiServices`` lists every service a route
may use; ``create_app`` puts each under its key (``vms_core.api.keys``), and handlers take
theirs from ``request.app``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aiohttp import web

from vms_core.api import keys
from vms_core.api.auth import auth_middleware
from vms_core.api.cors import CorsPolicy, cors_middleware
from vms_core.api.errors import error_middleware
from vms_core.api.registry import ApiRegistry, mount
from vms_core.api.routes import register_all
from vms_core.api.routes.webrtc import CROSS_ORIGIN_PATHS
from vms_core.web import add_web_routes

if TYPE_CHECKING:
    from vms_core.accounts.service import AccountService
    from vms_core.accounts.throttle import LoginThrottle
    from vms_core.alarms import AlarmService
    from vms_core.api.services import LiveView, PluginDirectory, RecordingIndex, StorageReport
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


@dataclass(frozen=True)
class ApiServices:
    """What the HTTP API may use of a server, and nothing else."""

    settings: Callable[[], Settings]
    version: str
    accounts: AccountService
    login_throttle: LoginThrottle
    audit: AuditLog
    cameras: CameraService
    camera_health: CameraHealth
    ptz: PtzControl
    snapshots: Snapshots
    discovery: DiscoveryScans
    events: EventBus
    event_search: EventSearch
    event_density: EventDensity
    alarms: AlarmService
    bookmarks: BookmarkService
    views: ViewService
    recordings: RecordingIndex
    playback: PlaybackCatalog
    exports: ExportService
    storage: StorageReport
    live_view: LiveView
    plugins: PluginDirectory
    reload_config: Callable[[str], Awaitable[ReloadReport]]


def create_app(services: ApiServices, api: ApiRegistry | None = None) -> web.Application:
    """The application: every route of the endpoint table ``api`` (a new one by default),
    the web client, and the middlewares (CORS, errors as JSON, authentication)."""
    api = api or ApiRegistry()
    server_settings = services.settings().server
    cors = CorsPolicy(server_settings.cors_origins, CROSS_ORIGIN_PATHS, server_settings.public_url)
    app = web.Application(
        client_max_size=server_settings.max_request_bytes,
        middlewares=[
            cors_middleware(cors),
            error_middleware,
            auth_middleware(api, services.accounts, services.plugins.is_public),
        ],
    )
    app[keys.SETTINGS] = services.settings
    app[keys.VERSION] = services.version
    app[keys.API_TABLE] = api
    app[keys.ACCOUNTS] = services.accounts
    app[keys.LOGIN_THROTTLE] = services.login_throttle
    app[keys.AUDIT] = services.audit
    app[keys.CAMERAS] = services.cameras
    app[keys.CAMERA_HEALTH] = services.camera_health
    app[keys.PTZ] = services.ptz
    app[keys.SNAPSHOTS] = services.snapshots
    app[keys.DISCOVERY] = services.discovery
    app[keys.EVENT_BUS] = services.events
    app[keys.EVENT_SEARCH] = services.event_search
    app[keys.EVENT_DENSITY] = services.event_density
    app[keys.ALARMS] = services.alarms
    app[keys.BOOKMARKS] = services.bookmarks
    app[keys.VIEWS] = services.views
    app[keys.RECORDINGS] = services.recordings
    app[keys.PLAYBACK] = services.playback
    app[keys.EXPORTS] = services.exports
    app[keys.STORAGE] = services.storage
    app[keys.LIVE_VIEW] = services.live_view
    app[keys.PLUGINS] = services.plugins
    app[keys.RELOAD_CONFIG] = services.reload_config
    register_all(api)
    mount(api, app)
    add_web_routes(app)
    return app
