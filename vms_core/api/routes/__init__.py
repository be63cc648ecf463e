"""HTTP routes, one module per concern; each registers its endpoints in the table."""

from __future__ import annotations

from vms_core.api.registry import ApiRegistry
from vms_core.api.routes import (
    alarms,
    audit,
    auth,
    bookmarks,
    cameras,
    config,
    discovery,
    events,
    exports,
    playback,
    plugins,
    recordings,
    storage,
    system,
    timeline,
    users,
    views,
    webrtc,
)


def register_all(api: ApiRegistry) -> None:
    for module in (system, auth, users, cameras, events, alarms, bookmarks, audit, config):
        module.register(api)
    for module in (recordings, storage):
        module.register(api)
    plugins.register(api)
    playback.register(api)
    exports.register(api)
    webrtc.register(api)
    discovery.register(api)
    timeline.register(api)
    views.register(api)
