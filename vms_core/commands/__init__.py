"""`vms` subcommands that live in their own modules.

Each module in :data:`COMMAND_MODULES` has
``register(sub, common) -> dict[str, Callable[[argparse.Namespace], int]]``: it adds its
parser(s) to ``sub`` (pass ``parents=[common]`` so ``--config`` works after the command)
and returns the handlers by command name. ``vms_core.cli`` collects them, so adding a
command touches this list and its own module only.
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable
from typing import Any

Handler = Callable[[argparse.Namespace], int]

# Module names under vms_core.commands, one per concern, in the order `vms --help` lists
# them (`vms simulate` is the simulator's own command line: vms_core.cli adds it).
COMMAND_MODULES: tuple[str, ...] = (
    "serve",
    "check",
    "db",
    "users",
    "storage",
    "plugins",
    "discover",
    "cameras",
    "export",
)


def register_all(
    sub: Any, common: argparse.ArgumentParser, names: tuple[str, ...] = COMMAND_MODULES
) -> dict[str, Handler]:
    """Add the parsers of the command modules ``names``; their handlers by command name."""
    handlers: dict[str, Handler] = {}
    for name in names:
        module = importlib.import_module(f"vms_core.commands.{name}")
        handlers.update(module.register(sub, common))
    return handlers
