"""Finding plug-ins: the ``vms.plugins`` entry-point group and plug-in folders.

Discovery only lists candidates; nothing is imported in the server: each candidate is
loaded in its own runner (``vms_sdk.runtime``), and only once the manager has checked
that it is enabled, so a disabled plug-in's code never runs.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

ENTRY_POINT_GROUP = "vms.plugins"
BUILTIN_DISTRIBUTIONS = frozenset(
    {"vms-plugin-gunshot", "vms-plugin-notify-chat", "vms-plugin-lpr", "vms-plugin-analytics"}
)


@dataclass(frozen=True)
class PluginCandidate:
    """A plug-in found but not yet imported.

    :ivar hint: the name it is expected to have (entry-point name, file or folder stem);
        used to skip disabled plug-ins before importing them.
    :ivar source: where it came from, for operators.
    :ivar kind: ``entry_point`` or ``path`` (a file or package in a plug-in folder).
    :ivar target: the entry point's value, or the file or package name in ``folder``.
    :ivar folder: the plug-in folder (``path`` candidates).
    :ivar builtin: one of the server's own plug-in distributions: it gets the capabilities
        its manifest requests unless the operator's ``grant`` says otherwise.
    """

    hint: str
    source: str
    kind: Literal["entry_point", "path"]
    target: str
    folder: Path | None = None
    builtin: bool = False


def entry_point_candidates() -> Iterator[PluginCandidate]:
    """Candidates from installed distributions' ``vms.plugins`` entry points."""
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        dist = f" from {ep.dist.name} {ep.dist.version}" if ep.dist is not None else ""
        builtin = ep.dist is not None and ep.dist.name in BUILTIN_DISTRIBUTIONS
        source = f"entry point {ep.value}{dist}"
        yield PluginCandidate(ep.name, source, "entry_point", ep.value, builtin=builtin)


def folder_candidates(folders: Iterable[Path]) -> Iterator[PluginCandidate]:
    """Candidates from folders: each ``*.py`` file or package directory is one plug-in."""
    for folder in folders:
        if not folder.is_dir():
            continue
        for path in sorted(folder.iterdir()):
            if path.name.startswith(("_", ".")):
                continue
            if path.is_file() and path.suffix == ".py":
                yield PluginCandidate(path.stem, str(path), "path", path.name, folder)
            elif path.is_dir() and (path / "__init__.py").is_file():
                yield PluginCandidate(path.name, str(path), "path", path.name, folder)
