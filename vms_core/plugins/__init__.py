"""The host side of the plug-in SDK: loading, isolation, dispatch, HTTP routes."""

from vms_core.plugins.context import HostKeyValueStore, HostPluginContext
from vms_core.plugins.discovery import ENTRY_POINT_GROUP, PluginCandidate
from vms_core.plugins.dispatch import AudioDispatcher, FrameDispatcher, LaneStats
from vms_core.plugins.http import PluginHttp
from vms_core.plugins.isolation import PluginCallError, PluginHealth, PluginRunner
from vms_core.plugins.manager import (
    CallBudgets,
    PluginManager,
    PluginRecord,
    PluginState,
    PluginStatus,
)
from vms_core.plugins.services import HostServices

__all__ = [
    "ENTRY_POINT_GROUP",
    "AudioDispatcher",
    "CallBudgets",
    "FrameDispatcher",
    "HostKeyValueStore",
    "HostPluginContext",
    "HostServices",
    "LaneStats",
    "PluginCallError",
    "PluginCandidate",
    "PluginHealth",
    "PluginHttp",
    "PluginManager",
    "PluginRecord",
    "PluginRunner",
    "PluginState",
    "PluginStatus",
]
