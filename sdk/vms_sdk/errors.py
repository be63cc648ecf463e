"""Exceptions a plug-in raises or the host raises about a plug-in."""

from __future__ import annotations


class ConfigError(ValueError):
    """Raised by ``vms_configure`` when the plug-in's settings are wrong.

    ``key`` names the offending setting inside the plug-in's own ``[plugins.<name>]``
    table (for example ``"webhook_secret"``); the host reports it to the operator as
    ``plugins.<name>.<key>`` and refuses to start the plug-in.
    """

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}")
        self.key = key
        self.message = message


class IncompatiblePluginError(RuntimeError):
    """The plug-in was written for a hook contract (API version) this host cannot honour."""
