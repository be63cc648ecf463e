"""The `vms` command: parse the command line and hand it to the command's module
(``vms_core.commands``)."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from vms_core import __version__
from vms_core.commands import COMMAND_MODULES as COMMAND_ORDER
from vms_core.commands import register_all
from vms_core.commands.settings import config_parent

# Libraries that report routine work at INFO (aioice: every ICE candidate pair of every
# live view); their INFO lines are DEBUG noise for an operator reading the log.
CHATTY_LOGGERS = ("aioice", "aiortc")
# Listed before `vms simulate` in `vms --help`; the other command modules come after it.
FIRST_COMMANDS = ("serve", "check", "db", "users")


def build_parser() -> argparse.ArgumentParser:
    common = config_parent()
    parser = argparse.ArgumentParser(
        prog="vms", description="Video management server", parents=[common]
    )
    parser.add_argument("--version", action="version", version=f"vms {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    handlers = register_all(sub, common, FIRST_COMMANDS)
    simulate = sub.add_parser("simulate", help="run simulated ONVIF cameras", add_help=False)
    simulate.add_argument("args", nargs=argparse.REMAINDER)
    rest = tuple(name for name in COMMAND_ORDER if name not in FIRST_COMMANDS)
    handlers.update(register_all(sub, common, rest))
    parser.set_defaults(_handlers=handlers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # `vms simulate` owns its own options.
    if argv and argv[0] == "simulate":
        from vms_core.simulator.cli import main as simulate_main

        return simulate_main(argv[1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if not args.verbose:
        for name in CHATTY_LOGGERS:
            logging.getLogger(name).setLevel(logging.WARNING)
    if args.command is None:
        parser.print_help()
        return 2
    return int(args._handlers[args.command](args))


if __name__ == "__main__":
    raise SystemExit(main())
