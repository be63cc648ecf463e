"""`vms check-config`: validate a configuration file."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from vms_core.commands import Handler
from vms_core.commands.settings import config_path
from vms_core.config import ConfigError, load_config


def register(sub: Any, common: argparse.ArgumentParser) -> dict[str, Handler]:
    check = sub.add_parser("check-config", parents=[common], help="validate a configuration file")
    check.add_argument("path", nargs="?", type=Path, help="file to check (default --config)")
    return {"check-config": cmd_check_config}


def cmd_check_config(args: argparse.Namespace) -> int:
    path = args.path or config_path(args)
    try:
        settings = load_config(path)
    except ConfigError as exc:
        print(exc.report(), file=sys.stderr)
        return 2
    print(
        f"{path}: OK ({len(settings.cameras)} cameras, {len(settings.plugins)} plug-in "
        f"tables, {len(settings.rules)} rules)"
    )
    return 0
