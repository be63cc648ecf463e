"""`vms discover [--json] [--range CIDR ...] [--timeout S]`: find ONVIF cameras.

Runs a WS-Discovery scan from this machine (no server needed): a multicast Probe out of
every suitable interface, plus unicast Probes to each address of the given ranges for
cameras on other subnets. Prints what answered within the timeout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

from vms_core.commands import Handler
from vms_core.onvif.discovery import DISCOVERY_PORT, DiscoveryError, ScanResult, scan


def register(sub: Any, common: argparse.ArgumentParser) -> dict[str, Handler]:
    parser = sub.add_parser("discover", parents=[common], help="find ONVIF cameras (WS-Discovery)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument(
        "--range",
        action="append",
        default=[],
        metavar="CIDR",
        help="also probe every address of this range by unicast (repeatable)",
    )
    parser.add_argument(
        "--timeout", type=float, default=3.0, metavar="S", help="how long to listen (default 3)"
    )
    parser.add_argument(
        "--port", type=int, default=DISCOVERY_PORT, help="UDP port of unicast probes"
    )
    parser.add_argument("--no-multicast", action="store_true", help="unicast to --range only")
    parser.add_argument(
        "--interface",
        action="append",
        default=None,
        metavar="ADDRESS",
        help="multicast only from this local IPv4 address (default: every suitable one)",
    )
    return {"discover": cmd_discover}


def cmd_discover(args: argparse.Namespace) -> int:
    if not 0 < args.timeout <= 60:
        print("discover: --timeout must be in (0, 60] seconds", file=sys.stderr)
        return 2
    try:
        result = asyncio.run(
            scan(
                multicast=not args.no_multicast,
                interfaces=args.interface,
                targets=args.range,
                port=args.port,
                timeout=args.timeout,
            )
        )
    except DiscoveryError as err:
        print(f"discover: {err}", file=sys.stderr)
        return 2
    print(json.dumps(result.to_json(), indent=2) if args.json else format_table(result))
    return 0


def format_table(result: ScanResult) -> str:
    lines = [f"{'NAME':<24} {'HARDWARE':<20} {'ADDRESS':<16} ONVIF URL"]
    for device in result.devices:
        lines.append(
            f"{device.name[:24]:<24} {device.hardware[:20]:<20} {device.address:<16} "
            f"{' '.join(device.xaddrs)}"
        )
    lines.append(
        f"{len(result.devices)} camera(s) in {result.seconds:.1f} s"
        + (f" from {', '.join(result.interfaces)}" if result.interfaces else "")
        + (f", {result.unicast_targets} unicast target(s)" if result.unicast_targets else "")
        + (f"; {len(result.rejected)} reply(ies) refused" if result.rejected else "")
    )
    return "\n".join(lines)
