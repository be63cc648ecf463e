"""`vms db upgrade`: upgrade the catalog schema."""

from __future__ import annotations

import argparse
from typing import Any

from vms_core.commands import Handler
from vms_core.commands.settings import config_path, load_or_exit
from vms_core.db import shown_url, upgrade_schema


def register(sub: Any, common: argparse.ArgumentParser) -> dict[str, Handler]:
    db = sub.add_parser("db", parents=[common], help="catalog maintenance")
    db_sub = db.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    db_sub.add_parser("upgrade", parents=[common], help="upgrade the catalog schema")
    return {"db": cmd_db}


def cmd_db(args: argparse.Namespace) -> int:
    settings = load_or_exit(config_path(args))
    upgrade_schema(settings.database_url)
    print(f"catalog upgraded: {shown_url(settings.database_url)}")
    return 0
