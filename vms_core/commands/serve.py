"""`vms serve` and `vms demo`: run the server in the foreground (the demo with simulated
cameras already added).

The server (and for the demo, the simulator) is imported when the command runs: the other
commands parse the same command line and should not pay for loading it.
"""

from __future__ import annotations

import argparse
import asyncio
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

    async def serve() -> int:
        return await run_until_signalled(VmsServer(settings, path))

    return asyncio.run(serve())


def cmd_demo(args: argparse.Namespace) -> int:
    from vms_core.commands.demo import run_demo

    path = config_path(args)
    settings = load_or_exit(path)
    return asyncio.run(run_demo(settings, path))
