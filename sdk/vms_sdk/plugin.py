"""Plug-ins as objects: the state lives on an instance, not in module globals.

Point your entry point at a class (``gunshot = "vms_plugin_gunshot:GunshotPlugin"``): the
host makes one instance per runner and calls its ``@hookimpl`` methods. :class:`Plugin`
does the common part of every plug-in: it answers ``vms_plugin_info`` from
:attr:`Plugin.info`, checks the settings in ``vms_configure`` with
:attr:`Plugin.settings_type` (a :class:`~vms_sdk.settings.PluginSettings`), and in
``vms_startup`` keeps the context and the checked settings, then calls :meth:`start`;
``vms_shutdown`` calls :meth:`stop`::

    class ShotAlert(Plugin[ShotSettings]):
        info = PluginInfo("shotalert", "0.2.0", requests=("events",))
        settings_type = ShotSettings

        async def start(self) -> None:
            self.alerts = 0

        @hookimpl
        def vms_routes(self) -> list[Route]:
            return [Route("POST", "/alerts", self.alert, public=True)]

A module with ``@hookimpl`` functions keeps working.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Generic, TypeVar

from vms_sdk.context import PluginContext
from vms_sdk.hookspecs import hookimpl
from vms_sdk.settings import PluginSettings
from vms_sdk.types import PluginInfo

S = TypeVar("S", bound=PluginSettings)


class NotStarted(RuntimeError):
    """A plug-in's context or settings used before ``vms_startup``."""


class Plugin(Generic[S]):
    """Base class of a plug-in object."""

    info: ClassVar[PluginInfo]
    settings_type: ClassVar[type[PluginSettings]] = PluginSettings

    def __init__(self) -> None:
        self._ctx: PluginContext | None = None
        self._settings: S | None = None

    @property
    def ctx(self) -> PluginContext:
        """The context (from ``vms_startup`` on)."""
        if self._ctx is None:
            raise NotStarted(f"plug-in {self.info.name} is not started")
        return self._ctx

    @property
    def settings(self) -> S:
        """The checked settings (from ``vms_startup`` on)."""
        if self._settings is None:
            raise NotStarted(f"plug-in {self.info.name} is not started")
        return self._settings

    @hookimpl
    def vms_plugin_info(self) -> PluginInfo:
        return self.info

    @hookimpl
    def vms_configure(self, config: Mapping[str, Any]) -> None:
        self.settings_type.parse(config)

    @hookimpl
    async def vms_startup(self, ctx: PluginContext) -> None:
        self._ctx = ctx
        self._settings = self.settings_type.parse(ctx.config)  # type: ignore[assignment]
        await self.start()

    @hookimpl
    async def vms_shutdown(self) -> None:
        if self._ctx is not None:
            await self.stop()

    async def start(self) -> None:
        """Open connections, start background work (``self.ctx`` and ``self.settings``
        are set). Runs on the plug-in's event loop."""

    async def stop(self) -> None:
        """Close connections, cancel background work."""
