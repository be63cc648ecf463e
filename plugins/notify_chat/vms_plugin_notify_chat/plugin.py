"""``NotifyChatPlugin``: the plug-in object, its configured channels and what they share.

The host makes one instance per runner (the entry point names the class). Everything
runs on the event loop (``vms_notify`` and the routes are ``async``), so no locks are
needed.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from concurrent.futures import ThreadPoolExecutor

from vms_sdk import (
    API_VERSION,
    DeliveryResult,
    HttpRequest,
    HttpResponse,
    Notification,
    PluginInfo,
    Route,
    hookimpl,
)
from vms_sdk.plugin import Plugin

from vms_plugin_notify_chat.channel import Channel
from vms_plugin_notify_chat.message import Message, build_message, web_base
from vms_plugin_notify_chat.senders import sender_for
from vms_plugin_notify_chat.settings import ChannelSettings, NotifySettings
from vms_plugin_notify_chat.snapshots import SnapshotStore

_SNAPSHOT_SHARE_S = 60.0  # channels notified about the same thing share one picture
Picture = tuple[bytes | None, str | None]


VERSION = "0.2.0"


class NotifyChatPlugin(Plugin[NotifySettings]):
    info = PluginInfo(
        "notify_chat",
        VERSION,
        API_VERSION,
        "Alerts to chat (Slack, Teams, ...) and e-mail",
        # A channel that fetches camera pictures, serves them to chat services on a public
        # route with random names, and talks to chat and mail servers.
        requests=("channel", "snapshots", "public_routes", "network"),
    )
    settings_type = NotifySettings
    web: str  # from start()
    snapshots: SnapshotStore

    def __init__(self) -> None:
        super().__init__()
        self.channels: dict[str, Channel] = {}
        self._pictures: dict[tuple[str, str], tuple[float, asyncio.Task[Picture]]] = {}
        # Our own thread for snapshot files: the loop's shared default executor may be
        # busy with the host's work, and an alert must not wait for it.
        self._io = ThreadPoolExecutor(1, thread_name_prefix="notify_chat-io")

    async def start(self) -> None:
        ctx, settings = self.ctx, self.settings
        self.web = web_base(ctx, settings.web_url)
        self.snapshots = SnapshotStore(
            ctx.data_dir / "snapshots", ctx.public_url, settings.snapshot_keep_hours
        )
        self.channels = {
            name: Channel(cs, sender_for(cs), self.prepare, ctx.logger)
            for name, cs in settings.channels.items()
        }
        if not self.channels:
            ctx.logger.info("no channels configured")

    @hookimpl
    def vms_routes(self) -> list[Route]:
        return [
            # Delivery errors name the chat services: operators and admins only.
            Route("GET", "/status", self.status_route, role="operator"),
            # public: chat services fetch the picture without logging in; names are random.
            Route("GET", "/snapshots/{name}", self.snapshot_route, public=True),
        ]

    @hookimpl
    async def vms_notify(self, notification: Notification) -> DeliveryResult | None:
        return await self.notify(notification)

    async def notify(self, notification: Notification) -> DeliveryResult | None:
        channel = self.channels.get(notification.channel)
        if channel is None:
            return None  # another plug-in's channel
        return await channel.offer(notification)

    async def prepare(self, notification: Notification, channel: ChannelSettings) -> Message:
        """The message for ``channel``, with its snapshot when it wants one."""
        message = build_message(self.ctx, notification, self.web)
        if not channel.snapshot or message.snapshot_camera is None:
            return message
        try:
            jpeg, url = await asyncio.wait_for(
                asyncio.shield(self._picture(notification)), channel.snapshot_timeout_s
            )
        except TimeoutError:
            self.ctx.logger.warning(
                "no snapshot of camera %s within %.1f s; sending without",
                message.snapshot_camera,
                channel.snapshot_timeout_s,
            )
            return message
        return dataclasses.replace(message, snapshot=jpeg, snapshot_url=url)

    def _picture(self, notification: Notification) -> asyncio.Task[Picture]:
        """One snapshot fetch (and one saved file) per notification, shared by channels."""
        camera = notification.camera_ids[0]
        event = notification.event.id if notification.event is not None else notification.title
        now = time.monotonic()
        self._pictures = {k: v for k, v in self._pictures.items() if now - v[0] < _SNAPSHOT_SHARE_S}
        known = self._pictures.get((event, camera))
        if known is not None:
            return known[1]
        task = asyncio.create_task(self._fetch_picture(camera, notification.snapshot))
        self._pictures[(event, camera)] = (now, task)
        return task

    async def _fetch_picture(self, camera_id: str, given: bytes | None) -> Picture:
        jpeg = given
        if jpeg is None:
            try:
                jpeg = await self.ctx.snapshot(camera_id)
            except Exception as exc:
                self.ctx.logger.warning("snapshot of camera %s failed: %s", camera_id, exc)
                return None, None
        if not jpeg:
            return None, None
        loop = asyncio.get_running_loop()
        url = await loop.run_in_executor(self._io, self.snapshots.save, jpeg)
        return jpeg, url

    # ----------------------------------------------------------------- routes

    async def snapshot_route(self, request: HttpRequest) -> HttpResponse:
        loop = asyncio.get_running_loop()
        name = request.params.get("name", "")
        jpeg = await loop.run_in_executor(self._io, self.snapshots.load, name)
        if jpeg is None:
            return HttpResponse(
                404, json={"error": {"code": "not_found", "message": "no such snapshot"}}
            )
        return HttpResponse(
            body=jpeg,
            content_type="image/jpeg",
            headers={"Cache-Control": "private, max-age=86400"},
        )

    def status_route(self, request: HttpRequest) -> HttpResponse:
        return HttpResponse(json={"channels": {n: c.status() for n, c in self.channels.items()}})

    async def stop(self) -> None:
        for _, task in self._pictures.values():
            task.cancel()
        await asyncio.gather(*(c.stop() for c in self.channels.values()))
        self._io.shutdown(wait=False)
