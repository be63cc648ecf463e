"""The configuration file a command reads, and loading it or exiting with its problems."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

# The configuration (pydantic models) is imported when a command loads it, not with this
# module: vms_core.cli imports it, and spawned recorder workers import vms_core.cli again
# (the `vms` script is their parent's __main__), each of them for nothing.
if TYPE_CHECKING:
    from vms_core.config import Settings


def config_parent() -> argparse.ArgumentParser:
    """A parent parser with ``--config``, for every command and subcommand."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument(
        "--config",
        type=Path,
        default=argparse.SUPPRESS,
        help="configuration file (default ./vms.toml)",
    )
    return parent


def config_path(args: argparse.Namespace) -> Path:
    return Path(getattr(args, "config", None) or "vms.toml")


def load_or_exit(path: Path) -> Settings:
    from vms_core.config import ConfigError, load_config

    try:
        return load_config(path)
    except ConfigError as exc:
        print(exc.report(), file=sys.stderr)
        raise SystemExit(2) from None
