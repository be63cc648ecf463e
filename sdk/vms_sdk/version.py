"""Version of the hook contract between the host and plug-ins.

``API_VERSION`` follows semantic versioning, ``"MAJOR.MINOR"``:

* a **minor** bump adds something (a new hook, a new optional field, a new context
  method); plug-ins written for an older minor keep working unchanged;
* a **major** bump removes or changes something; plug-ins must be updated.

A plug-in declares the version it was written against in ``PluginInfo.api_version``.
The host accepts it when the majors are equal and the plug-in's minor is not newer
than the host's.
"""

from __future__ import annotations

from vms_sdk.errors import IncompatiblePluginError

API_VERSION = "1.2"


def _parse(version: str) -> tuple[int, int]:
    parts = version.strip().split(".")
    if len(parts) not in (1, 2) or not all(p.isdigit() for p in parts):
        raise IncompatiblePluginError(
            f"api_version {version!r} is not of the form 'MAJOR.MINOR' (e.g. {API_VERSION!r})"
        )
    major = int(parts[0])
    minor = int(parts[1]) if len(parts) == 2 else 0
    return major, minor


def check_api_compatible(plugin_api: str, host_api: str = API_VERSION) -> None:
    """Raise :class:`IncompatiblePluginError` unless ``plugin_api`` can run on ``host_api``.

    :param plugin_api: the ``api_version`` the plug-in declares.
    :param host_api: the host's contract version (defaults to this SDK's ``API_VERSION``).
    :raises IncompatiblePluginError: with a message that says which side must be upgraded.
    """
    p_major, p_minor = _parse(plugin_api)
    h_major, h_minor = _parse(host_api)
    if p_major != h_major:
        raise IncompatiblePluginError(
            f"plug-in targets API {plugin_api}, host provides API {host_api}: "
            f"major versions differ ({p_major} != {h_major}); "
            f"use a plug-in release built for API {h_major}.x"
        )
    if p_minor > h_minor:
        raise IncompatiblePluginError(
            f"plug-in targets API {plugin_api}, newer than the host's API {host_api}; "
            f"upgrade the server (or use an older plug-in release)"
        )
