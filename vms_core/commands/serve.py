"""`vms serve` and `vms demo`: run the server in the foreground (the demo with simulated
cameras already added).

The server (and for the demo, the simulator) is imported when the command runs: the other
commands parse the same command line and should not pay for loading it.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import multiprocessing
import sys
from typing import Any

from vms_core.commands import Handler
from vms_core.commands.settings import config_path, load_or_exit


def register(sub: Any, common: argparse.ArgumentParser) -> dict[str, Handler]:
    sub.add_parser("serve", parents=[common], help="run the server")
    sub.add_parser(
        "demo", parents=[common], help="run the server with simulated cameras already added"
    )
    return {"serve": cmd_serve, "demo": cmd_demo}


def cmd_serve(args: argparse.Namespace) -> int:
    from vms_core.commands.running import run_until_signalled
    from vms_core.server import VmsServer

    path = config_path(args)
    settings = load_or_exit(path)
    if not upgrade_catalog_apart(settings.database_url):
        return 1

    async def serve() -> int:
        return await run_until_signalled(VmsServer(settings, path))

    return asyncio.run(serve())


def upgrade_catalog_apart(url: str) -> bool:
    """Upgrade a catalog that is behind in a process of its own, so that alembic (about
    10 MB) never enters the server's (which then finds the catalog current). False when
    the upgrade failed; its error is on stderr."""
    from vms_core.db.engine import catalog_revision, head_revision

    newest = head_revision()
    if newest is not None and catalog_revision(url) == newest:
        return True
    child = multiprocessing.get_context("spawn").Process(
        target=_upgrade_catalog, args=(url, logging.getLogger().level), name="vms-db-upgrade"
    )
    child.start()
    child.join()
    if child.exitcode != 0:
        print(f"vms: the catalog upgrade failed (exit code {child.exitcode})", file=sys.stderr)
    return child.exitcode == 0


def _upgrade_catalog(url: str, log_level: int) -> None:
    from vms_core.db import upgrade_schema

    # The log format of vms_core.cli, which this module may not import.
    logging.basicConfig(
        level=log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    upgrade_schema(url)


def cmd_demo(args: argparse.Namespace) -> int:
    from vms_core.commands.demo import run_demo

    path = config_path(args)
    settings = load_or_exit(path)
    return asyncio.run(run_demo(settings, path))
