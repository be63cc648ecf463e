"""vms-plugin-gunshot: gunshot alerts by webhook and from camera microphones.

See the README for the webhook payload, the settings and the detector's measured
behaviour. The hooks below only delegate to :class:`~vms_plugin_gunshot.plugin.GunshotPlugin`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from vms_sdk import (
    API_VERSION,
    AudioChunk,
    AudioSubscription,
    PluginContext,
    PluginInfo,
    Route,
    hookimpl,
)

from vms_plugin_gunshot.plugin import GunshotPlugin
from vms_plugin_gunshot.settings import parse_settings

__version__ = "0.1.0"
AUDIO_RATE = 16000
# An incident: its event, locked evidence on nearby cameras, PTZ presets turned to it,
# notifications; alerts arrive on a public (signed) webhook and from microphones.
REQUESTS = ("events", "bookmarks", "evidence_locks", "ptz", "notify", "audio", "public_routes")

_plugin: GunshotPlugin | None = None


def _current() -> GunshotPlugin:
    if _plugin is None:
        raise RuntimeError("gunshot plug-in not started")
    return _plugin


@hookimpl
def vms_plugin_info() -> PluginInfo:
    return PluginInfo(
        "gunshot",
        __version__,
        API_VERSION,
        "Gunshot alerts: detection webhook and microphones",
        requests=REQUESTS,
    )


@hookimpl
def vms_configure(config: Mapping[str, Any]) -> None:
    parse_settings(config)


@hookimpl
async def vms_startup(ctx: PluginContext) -> None:
    global _plugin
    _plugin = GunshotPlugin(ctx, parse_settings(ctx.config))
    if _plugin.settings.secret is None:
        ctx.logger.warning("no secret set: the alert webhook refuses every request")


@hookimpl
async def vms_shutdown() -> None:
    global _plugin
    if _plugin is not None:
        await _plugin.stop()
    _plugin = None


@hookimpl
def vms_routes() -> list[Route]:
    plugin = _current()
    # public: the detection system cannot log in; the HMAC signature authenticates it.
    return [
        Route("POST", "/alerts", plugin.handle_alert, public=True),
        # Refused webhook calls are security information: operators and admins only.
        Route("GET", "/status", plugin.status, role="operator"),
    ]


@hookimpl
def vms_audio_subscriptions() -> list[AudioSubscription]:
    settings = _current().settings
    if not settings.audio_detection:
        return []
    return [AudioSubscription(settings.audio_cameras, AUDIO_RATE, chunk_seconds=0.5)]


@hookimpl
def vms_analyze_audio(chunk: AudioChunk) -> None:
    _current().analyze_audio(chunk)
