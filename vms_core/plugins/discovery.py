"""Finding plug-ins: the ``vms.plugins`` entry-point group and plug-in folders.

Discovery only lists candidates; nothing is imported until the manager has checked
that the candidate is enabled, so a disabled plug-in's code never runs.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

ENTRY_POINT_GROUP = "vms.plugins"
FOLDER_MODULE_PREFIX = "vms_folder_plugins"


@dataclass(frozen=True)
class PluginCandidate:
    """A plug-in found but not yet imported.

    :ivar hint: the name it is expected to have (entry-point name, file or folder stem);
        used to skip disabled plug-ins before importing them.
    :ivar source: where it came from, for operators.
    :ivar load: imports it and returns the object to register with pluggy.
    """

    hint: str
    source: str
    load: Callable[[], object]


def entry_point_candidates() -> Iterator[PluginCandidate]:
    """Candidates from installed distributions' ``vms.plugins`` entry points."""
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        dist = f" from {ep.dist.name} {ep.dist.version}" if ep.dist is not None else ""
        yield PluginCandidate(ep.name, f"entry point {ep.value}{dist}", ep.load)


def folder_candidates(folders: Iterable[Path]) -> Iterator[PluginCandidate]:
    """Candidates from folders: each ``*.py`` file or package directory is one plug-in."""
    for folder in folders:
        if not folder.is_dir():
            continue
        for path in sorted(folder.iterdir()):
            if path.name.startswith(("_", ".")):
                continue
            if path.is_file() and path.suffix == ".py":
                yield PluginCandidate(path.stem, str(path), _path_loader(path.stem, path))
            elif path.is_dir() and (path / "__init__.py").is_file():
                yield PluginCandidate(path.name, str(path), _path_loader(path.name, path))


def _path_loader(stem: str, path: Path) -> Callable[[], object]:
    def load() -> ModuleType:
        return import_path(stem, path)

    return load


def import_path(stem: str, path: Path) -> ModuleType:
    """Import a plug-in file or package by path, fresh each time (so reload sees edits)."""
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
