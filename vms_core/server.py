"""The server process: owns the configuration, the catalog and every service, and the
HTTP application that exposes them."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from aiohttp import web
from vms_sdk import Camera as SdkCamera

from vms_core import __version__
from vms_core.accounts.service import AccountService
from vms_core.accounts.sessions import SessionStore
from vms_core.accounts.throttle import LoginThrottle
from vms_core.accounts.usage import TokenUsage
from vms_core.alarms import AlarmService, CameraPictures
from vms_core.api.app import ApiServices, create_app
from vms_core.api.auth import sdk_caller
from vms_core.api.registry import ApiRegistry
from vms_core.audit import AuditLog
from vms_core.bookmarks import BookmarkService
from vms_core.cameras import CameraService, sdk_camera
from vms_core.cameras.manager import CameraManager
from vms_core.cameras.snapshot import SnapshotError
from vms_core.config import ConfigError, Settings, load_config
from vms_core.db import Database, upgrade_schema
from vms_core.db.ids import skip_ids_through
from vms_core.events import EventBus, RuleEngine
from vms_core.events.density import EventDensity
from vms_core.events.search import EventSearch
from vms_core.exports import ExportService
from vms_core.live import LiveSources
from vms_core.playback.catalog import PlaybackCatalog
from vms_core.plugins.host import PluginHost
from vms_core.plugins.kv import PluginStateStore
from vms_core.plugins.parts import PluginHostParts
from vms_core.recording import RecordingService, url_with_credentials
from vms_core.reload import ReloadReport, compare
from vms_core.secrets import SecretBox
from vms_core.storage import RetentionService
from vms_core.storage.catalog import RecordingIndex
from vms_core.tasks import cancel_and_wait
from vms_core.views import ViewService
from vms_core.webrtc import LiveView, webrtc_options

log = logging.getLogger(__name__)

DAY_US = 86_400_000_000
MINUTE_US = 60_000_000

# How often writes kept off the request path (token last-used times, sessions and audit
# entries the catalog refused) are written.
DEFERRED_WRITE_SECONDS = 60.0


class VmsServer:
    def __init__(
        self,
        settings: Settings,
        config_path: Path | None = None,
        *,
        record: bool = True,
        demo: bool = False,
    ) -> None:
        """``demo``: run as `vms demo` (its automatic locks last ``[demo]
        automatic_lock_minutes``)."""
        self.settings = settings
        self.demo = demo
        self.config_path = config_path
        self.version = __version__
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.db = Database(settings.database_url)
        self.secrets = SecretBox(settings.data_dir / "secret.key")
        self.audit = AuditLog(self.db)
        self.token_usage = TokenUsage(self.db)
        self.sessions = SessionStore(self.db)
        self.login_throttle = LoginThrottle()
        self.accounts = AccountService(
            self.db,
            self.sessions,
            self.token_usage,
            default_cameras=lambda: self.settings.users.default_cameras,
        )
        self._deferred_writer: asyncio.Task[None] | None = None
        self.cameras = CameraService(self.db, self.secrets)
        self.bookmarks = BookmarkService(self.db, self.audit, self._automatic_lock_us)
        self.events = EventBus(self.db)
        self.event_density = EventDensity(self.db)
        self.views = ViewService(self.db)
        self.event_search = EventSearch(self.db)
        self.rules = RuleEngine(
            lambda: self.settings.rules,
            self.bookmarks,
            self.sdk_cameras,
            notify=lambda notification: self.plugins.notify(notification),
            ptz_goto=self.ptz_goto_preset,
        )
        self.events.subscribe("rules", self.rules.on_event)
        self.alarms = AlarmService(
            self.db,
            self.audit,
            self.events,
            lambda: self.settings.alarms,
            CameraPictures(self.db, settings.recordings_dir, self._live_picture),
            settings.data_dir / "thumbnails",
        )
        self.events.subscribe("alarms", self.alarms.on_event)
        self.recording: RecordingService | None = None
        if record:
            self.recording = RecordingService(
                self.db,
                self.cameras,
                self.events,
                settings.recordings_dir,
                settings.storage.segment_seconds,
            )
        self.retention = RetentionService(
            self.db,
            lambda: self.settings.retention,
            settings.recordings_dir,
            settings.data_dir,
            before_pass=self.bookmarks.expire_locks,
        )
        if self.recording is not None:
            retention = self.retention
            self.recording.segment_closed.connect(
                lambda segment: retention.segment_closed(
                    segment.camera_id, segment.bytes, (segment.end_us - segment.start_us) / 1e6
                ),
                "retention",
            )
            self.recording.write_failed.connect(lambda _camera: retention.wake(), "retention")
            self.recording.write_failure_hint = self._retention_hint
            self.retention.pass_finished.connect(self.recording.retention_ran, "recording")
        self.exports = ExportService(
            self.db, self.audit, settings.data_dir, settings.recordings_dir, self.version
        )
        self.live = LiveSources(self._live_url)
        self.webrtc = LiveView(self.live, self.audit, webrtc_options(settings.webrtc))
        # ONVIF health and streams, PTZ, snapshots, discovery scans (vms_core.cameras).
        self.camera_manager = CameraManager(self.cameras, self.events, self.live, settings.onvif)
        self.plugins = PluginHost(
            PluginHostParts(
                settings=lambda: self.settings,
                public_url=lambda: self.settings.server.public_url or self.url,
                cameras=self.cameras,
                events=self.events,
                bookmarks=self.bookmarks,
                snapshots=self.camera_manager.snapshots,
                ptz_goto_preset=self.ptz_goto_preset,
                plugin_state=PluginStateStore(self.db),
                audit=self.audit,
                live=self.live,
                segments_closed=(
                    self.recording.segment_closed if self.recording is not None else None
                ),
                caller_of=sdk_caller,
            )
        )
        self.api = ApiRegistry()
        self.app: web.Application = create_app(self._api_services(), self.api)
        self.plugins.http.add_routes(self.app.router)  # routes of any depth under a plug-in
        self._runner: web.AppRunner | None = None
        self.url = ""
        self.local_url = ""
        # Printed once by the CLI, never stored.
        self.initial_admin_password: str | None = None
        self._reload_lock = asyncio.Lock()

    def _api_services(self) -> ApiServices:
        recording = self.recording
        return ApiServices(
            settings=lambda: self.settings,
            version=self.version,
            accounts=self.accounts,
            login_throttle=self.login_throttle,
            audit=self.audit,
            cameras=self.cameras,
            camera_health=self.camera_manager.health,
            ptz=self.camera_manager.ptz,
            snapshots=self.camera_manager.snapshots,
            discovery=self.camera_manager.scans,
            events=self.events,
            event_search=self.event_search,
            event_density=self.event_density,
            alarms=self.alarms,
            bookmarks=self.bookmarks,
            views=self.views,
            recordings=RecordingIndex(
                self.db, recording.live_segments if recording is not None else lambda _: ()
            ),
            playback=PlaybackCatalog(self.db, self.settings.recordings_dir),
            exports=self.exports,
            storage=self.retention,
            live_view=self.webrtc,
            plugins=self.plugins,
            reload_config=self.reload_config,
        )

    async def start(self) -> None:
        """Upgrade the catalog, prepare services, then listen."""
        await asyncio.to_thread(upgrade_schema, self.settings.database_url)
        self.initial_admin_password = await self.accounts.ensure_first_admin()
        await self.alarms.start()
        # Recordings stay on disk under a removed camera's id: no new camera may take it.
        on_disk = await asyncio.to_thread(highest_camera_dir, self.settings.recordings_dir)
        await skip_ids_through(self.db, "cameras", on_disk)
        if self.recording is not None:
            await self.recording.start()
            # Retention runs wherever recording does (a server started with record=False
            # leaves the recordings alone).
            self.retention.start()
        await self.cameras.sync_from_config(self.settings)
        self._deferred_writer = asyncio.create_task(
            self._write_deferred_periodically(), name="deferred-catalog-writes"
        )
        await self.exports.start()
        await self.camera_manager.start()
        self._runner = web.AppRunner(self.app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.settings.server.host, self.settings.server.port)
        await site.start()
        port = self._bound_port(site)
        host = self.settings.server.host
        shown = f"[{host}]" if ":" in host else host
        self.local_url = f"http://{shown}:{port}"  # where we listen, whatever public_url says
        self.url = self.settings.server.public_url or self.local_url
        # After listening, so plug-ins see their public URL and can be called back at once.
        await self.plugins.start()

    @staticmethod
    def _bound_port(site: web.TCPSite) -> int:
        server = site._server  # aiohttp keeps the asyncio server here
        sockets = getattr(server, "sockets", None) or []
        return int(sockets[0].getsockname()[1]) if sockets else 0

    def _retention_hint(self) -> str:
        """Why retention does not make room, for a camera that cannot write."""
        run = self.retention.last_run
        if run is not None and any(
            u.startswith(("min_free_bytes", "total max_bytes")) for u in run.unmet
        ):
            return "retention cannot free space: the remaining recordings are locked or open"
        return ""

    async def ptz_goto_preset(self, camera_id: str, preset: str) -> None:
        """Move a PTZ camera (id or name) to a preset (token or name); ValueError for an
        unknown camera or preset or a camera without PTZ."""
        await self.camera_manager.ptz.goto_preset(camera_id, preset)

    def _automatic_lock_us(self) -> int | None:
        if self.demo:
            return int(self.settings.demo.automatic_lock_minutes * MINUTE_US)
        days = self.settings.evidence.automatic_lock_days
        return int(days * DAY_US) if days > 0 else None

    async def _live_picture(self, camera_id: int) -> bytes | None:
        try:
            return await self.camera_manager.snapshots.jpeg(camera_id)
        except SnapshotError as err:
            log.info("no live picture of camera %d: %s", camera_id, err.message)
            return None

    async def sdk_cameras(self) -> list[SdkCamera]:
        return [sdk_camera(c) for c in await self.cameras.visible()]

    async def _live_url(self, camera_id: int, stream: str) -> str | None:
        camera = await self.cameras.get(camera_id)
        if camera is None or not camera.enabled:
            return None
        source = next((s for s in camera.streams if s.role == stream), None)
        if source is None:
            return None
        password = await self.cameras.password(camera.id)
        return url_with_credentials(source.url, camera.username, password)

    async def stop(self) -> None:
        self.events.close_live()
        await self.cameras.settle()  # a camera change under way reaches every listener
        await self.alarms.stop()  # thumbnails use the live feeds stopped below
        await self.plugins.stop()
        await self.camera_manager.stop()
        await self.webrtc.stop()
        await self.live.stop()
        await self.retention.stop()
        await self.exports.stop()
        if self.recording is not None:
            await self.recording.stop()
        await self.events.drain()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        deferred_writer, self._deferred_writer = self._deferred_writer, None
        await cancel_and_wait(deferred_writer)
        await self.flush_deferred()
        await self.db.close()

    async def flush_deferred(self) -> None:
        """Write what was kept off the request path: token last-used times, and the
        sessions and audit entries the catalog refused. Each part logs its own failure
        and keeps its data for the next try."""
        await self.token_usage.flush()
        await self.sessions.flush()
        await self.audit.flush()

    async def _write_deferred_periodically(self) -> None:
        while True:
            await asyncio.sleep(DEFERRED_WRITE_SECONDS)
            await self.flush_deferred()

    async def reload_config(self, username: str = "system") -> ReloadReport:
        """Re-read vms.toml and apply camera, rule, retention and plug-in changes without a
        restart.

        An invalid file changes nothing and raises ConfigError. A change to a section read
        only at start (``RESTART_SECTIONS``) is reported, not applied.
        """
        if self.config_path is None:
            raise ConfigError("<none>", ["the server was started without a config file"])
        async with self._reload_lock:
            try:
                new = await asyncio.to_thread(load_config, self.config_path)
            except ConfigError as exc:
                await self.audit.record(
                    "config.reload",
                    username=username,
                    success=False,
                    detail={"problems": exc.problems},
                )
                raise
            changes = await self.cameras.sync_from_config(new)
            report = compare(self.settings, new, changes)
            self.settings = new
            await self.plugins.reload(new)
            await self.audit.record(
                "config.reload", username=username, detail=report.audit_detail()
            )
            if report.restart_needed:
                log.warning(
                    "config sections %s changed; they apply after a restart",
                    ", ".join(report.restart_needed),
                )
            return report


def highest_camera_dir(recordings: Path) -> int:
    """The highest camera id that has a folder of recordings (segments live under
    ``<recordings>/<camera id>/``), 0 if none."""
    try:
        names = [p.name for p in recordings.iterdir() if p.is_dir()]
    except FileNotFoundError:
        return 0
    ids = [int(n) for n in names if n.isascii() and n.isdigit() and len(n) <= 18]
    return max(ids, default=0)
