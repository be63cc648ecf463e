"""``vms export verify PACKAGE``: check an evidence package (folder or zip) offline."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from vms_core.exports.verify import verify_package


def register(sub: Any, common: argparse.ArgumentParser) -> dict[str, Any]:
    export = sub.add_parser("export", parents=[common], help="evidence packages")
    actions = export.add_subparsers(dest="export_command", metavar="ACTION", required=True)
    verify = actions.add_parser(
        "verify",
        parents=[common],
        help="check a package's signature and the SHA-256 of every file",
    )
    verify.add_argument("package", type=Path, help="the package folder or zip")
    verify.add_argument(
        "--fingerprint",
        help="the key fingerprint the package must be signed with (SHA256:...), as the "
        "agency publishes it; without it, any key the package carries is accepted",
    )
    verify.add_argument("--json", action="store_true", help="print the report as JSON")
    return {"export": cmd_export}


def cmd_export(args: argparse.Namespace) -> int:
    report = verify_package(args.package, args.fingerprint)
    if args.json:
        print(
            json.dumps(
                {
                    "ok": report.ok,
                    "problems": report.problems,
                    "fingerprint": report.fingerprint,
                    "checked": report.checked,
                },
                indent=2,
            )
        )
    else:
        for name in report.checked:
            print(f"ok      {name}")
        for problem in report.problems:
            print(f"FAILED  {problem}")
        key = report.fingerprint or "unknown"
        if report.ok:
            print(f"package verifies: signed by key {key}")
        else:
            print(f"package does NOT verify ({len(report.problems)} problem(s)); key {key}")
    return 0 if report.ok else 1
