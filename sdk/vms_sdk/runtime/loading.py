"""Turning what an entry point or folder names into a registered plug-in.

An entry point may name a module (hooks are its ``@hookimpl`` functions), a class (the
host makes one instance, whose ``@hookimpl`` methods are the hooks and whose attributes
hold the plug-in's state), or a factory function returning such an object.
Implementations that pluggy would run differently from the host (``hookwrapper``,
``wrapper``, ``tryfirst``, ``trylast``) are refused with a clear message, as are
unknown hooks; hooks the SDK is retiring load with a warning.
"""

from __future__ import annotations

import importlib.util
import inspect
import sys
import warnings
from pathlib import Path
from types import ModuleType
from typing import Any

import pluggy

from vms_sdk import hookspecs

FOLDER_MODULE_PREFIX = "vms_folder_plugins"


class PluginRefused(Exception):
    """The plug-in cannot be registered; the message says why."""


def new_pluggy() -> pluggy.PluginManager:
    """A pluggy manager with the SDK's hook specifications."""
    pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    return pm


def plugin_object(loaded: object) -> object:
    """The object to register for what an entry point loaded: a module as it is, a class
    instantiated, a factory called."""
    if isinstance(loaded, ModuleType):
        return loaded
    if inspect.isclass(loaded):
        return loaded()
    if callable(loaded) and not hasattr(loaded, f"{hookspecs.PROJECT_NAME}_impl"):
        return loaded()
    return loaded


def register(pm: pluggy.PluginManager, plugin: object, name: str) -> list[str]:
    """Register ``plugin`` and check its implementations.

    :return: warnings for the operator (deprecated hooks).
    :raises PluginRefused: unknown hooks, or implementations the host cannot honour.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            pm.register(plugin, name=name)
        except Exception as exc:  # bad signature, or the same object twice
            raise PluginRefused(f"cannot register: {exc}") from None
    callers = pm.get_hookcallers(plugin) or []
    unknown = sorted(hc.name for hc in callers if hc.spec is None)
    if unknown:
        pm.unregister(plugin)
        raise PluginRefused(f"implements unknown hook(s) {', '.join(unknown)}")
    for caller in callers:
        for impl in caller.get_hookimpls():
            if impl.plugin is not plugin:
                continue
            odd = [
                flag
                for flag in ("hookwrapper", "wrapper", "tryfirst", "trylast")
                if getattr(impl, flag, False)
            ]
            if odd:
                pm.unregister(plugin)
                raise PluginRefused(
                    f"{caller.name}: @hookimpl({odd[0]}=True) is not supported: the host "
                    "calls each plug-in's implementation on its own, in no order relative "
                    "to other plug-ins; drop the option"
                )
    return [str(w.message) for w in caught if issubclass(w.category, DeprecationWarning)]


def import_path(path: Path) -> ModuleType:
    """Import a plug-in file or package folder by path, fresh each time."""
    stem = path.stem if path.is_file() else path.name
    module_name = f"{FOLDER_MODULE_PREFIX}.{stem}"
    for name in [m for m in sys.modules if m == module_name or m.startswith(module_name + ".")]:
        del sys.modules[name]
    if path.is_dir():
        spec = importlib.util.spec_from_file_location(
            module_name, path / "__init__.py", submodule_search_locations=[str(path)]
        )
    else:
        spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import plug-in from {path}")
    if FOLDER_MODULE_PREFIX not in sys.modules:
        parent = ModuleType(FOLDER_MODULE_PREFIX, "Plug-ins imported from plug-in folders.")
        parent.__path__ = []
        sys.modules[FOLDER_MODULE_PREFIX] = parent
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # before exec: dataclasses and relative imports need it
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[module_name]
        raise
    return module


def load_entry_point(target: str, hint: str) -> Any:
    """Load the ``vms.plugins`` entry point named ``hint`` whose value is ``target``."""
    import importlib.metadata

    for ep in importlib.metadata.entry_points(group="vms.plugins"):
        if ep.name == hint and ep.value == target:
            return ep.load()
    raise ImportError(f"no entry point {hint} = {target} in group vms.plugins")


def import_contained(load: Any) -> Any:
    """Call ``load()``; a ``SystemExit`` & co. in a plug-in's import becomes an ImportError."""
    try:
        return load()
    except Exception:
        raise
    except BaseException as exc:
        raise ImportError(f"{type(exc).__name__}: {exc}") from None
