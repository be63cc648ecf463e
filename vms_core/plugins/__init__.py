"""The host side of the plug-in SDK: loading, isolation, dispatch, HTTP routes."""

from vms_sdk.policy import CallBudgets

from vms_core.plugins.discovery import ENTRY_POINT_GROUP, PluginCandidate
from vms_core.plugins.dispatch import AudioDispatcher, FrameDispatcher, LaneStats
from vms_core.plugins.http import PluginHttp
from vms_core.plugins.kv_store import HostKeyValueStore
from vms_core.plugins.manager import (
    PluginCallError,
    PluginManager,
    PluginRecord,
    PluginState,
    PluginStatus,
)
from vms_core.plugins.services import HostServices
from vms_core.plugins.supervision import PluginHealth, RunnerLimits

__all__ = [
    "ENTRY_POINT_GROUP",
    "AudioDispatcher",
    "CallBudgets",
    "FrameDispatcher",
    "HostKeyValueStore",
    "HostServices",
    "LaneStats",
    "PluginCallError",
    "PluginCandidate",
    "PluginHealth",
    "PluginHttp",
    "PluginManager",
    "PluginRecord",
    "PluginState",
    "PluginStatus",
    "RunnerLimits",
]
