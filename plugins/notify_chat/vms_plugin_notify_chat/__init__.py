"""vms-plugin-notify-chat: notifications to Slack, Mattermost, Rocket.Chat, Teams,
signed JSON webhooks and e-mail.

A rule's ``notify`` action (or another plug-in's ``ctx.notify``) names a channel; each
``[plugins.notify_chat.channels.<name>]`` table is one channel. See the README.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from vms_sdk import (
    API_VERSION,
    DeliveryResult,
    Notification,
    PluginContext,
    PluginInfo,
    Route,
    hookimpl,
)

from vms_plugin_notify_chat.plugin import NotifyChatPlugin
from vms_plugin_notify_chat.settings import parse_settings

__version__ = "0.1.0"

_plugin: NotifyChatPlugin | None = None


def _current() -> NotifyChatPlugin:
    if _plugin is None:
        raise RuntimeError("notify_chat plug-in not started")
    return _plugin


@hookimpl
def vms_plugin_info() -> PluginInfo:
    return PluginInfo(
        "notify_chat",
        __version__,
        API_VERSION,
        "Alerts to chat (Slack, Teams, ...) and e-mail",
        # A channel that fetches camera pictures, serves them to chat services on a public
        # route with random names, and talks to chat and mail servers.
        requests=("channel", "snapshots", "public_routes", "network"),
    )


@hookimpl
def vms_configure(config: Mapping[str, Any]) -> None:
    parse_settings(config)


@hookimpl
async def vms_startup(ctx: PluginContext) -> None:
    global _plugin
    _plugin = NotifyChatPlugin(ctx, parse_settings(ctx.config))
    if not _plugin.channels:
        ctx.logger.info("no channels configured")


@hookimpl
async def vms_shutdown() -> None:
    global _plugin
    if _plugin is not None:
        await _plugin.stop()
    _plugin = None


@hookimpl
def vms_routes() -> list[Route]:
    plugin = _current()
    return [
        # Delivery errors name the chat services: operators and admins only.
        Route("GET", "/status", plugin.status_route, role="operator"),
        # public: chat services fetch the picture without logging in; names are random.
        Route("GET", "/snapshots/{name}", plugin.snapshot_route, public=True),
    ]


@hookimpl
async def vms_notify(notification: Notification) -> DeliveryResult | None:
    return await _current().notify(notification)
