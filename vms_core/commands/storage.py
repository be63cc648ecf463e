"""`vms storage [--json]`: recording usage and retention's last pass, read from the catalog
(no running server needed)."""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

from vms_core.commands import Handler
from vms_core.commands.settings import config_path, load_or_exit


def register(sub: Any, common: argparse.ArgumentParser) -> dict[str, Handler]:
    parser = sub.add_parser(
        "storage", parents=[common], help="recording usage per camera and retention's last run"
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    return {"storage": cmd_storage}


def cmd_storage(args: argparse.Namespace) -> int:
    settings = load_or_exit(config_path(args))
    report = asyncio.run(_report(settings))
    print(json.dumps(report, indent=2) if args.json else format_report(report))
    return 0


async def _report(settings: Any) -> dict[str, Any]:
    from vms_core.db import Database, upgrade_schema
    from vms_core.storage.retention import read_last_run
    from vms_core.storage.usage import storage_report

    await asyncio.to_thread(upgrade_schema, settings.database_url)
    db = Database(settings.database_url)
    try:
        return await storage_report(
            db,
            settings.retention,
            settings.recordings_dir,
            read_last_run(settings.data_dir),
        )
    finally:
        await db.close()


def human(size: int | None) -> str:
    if size is None:
        return "-"
    value = float(size)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1024 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"


def format_report(report: dict[str, Any]) -> str:
    lines = [f"{'camera':<24} {'segments':>8} {'used':>10} {'locked':>10}  oldest"]
    for cam in report["cameras"]:
        lines.append(
            f"{cam['name']:<24} {cam['segments']:>8} {human(cam['bytes']):>10} "
            f"{human(cam['locked_bytes']):>10}  {cam['oldest'] or '-'}"
        )
    total = report["total"]
    lines.append(
        f"{'total':<24} {total['segments']:>8} {human(total['bytes']):>10} "
        f"{human(total['locked_bytes']):>10}"
    )
    disk, limits = report["disk"], report["limits"]
    lines.append("")
    lines.append(
        f"disk: {human(disk['free_bytes'])} free of {human(disk['total_bytes'])}; retention "
        f"keeps {human(disk.get('floor_bytes'))} free (min_free and room for open segments)"
    )
    lines.append(
        f"limits: max_days {limits['max_days']}, max_bytes {human(limits['max_bytes'])}, "
        f"min_free {human(limits['min_free_bytes'])}"
    )
    run = report["last_run"]
    if run is None:
        lines.append("retention: no run recorded yet")
    else:
        lines.append(
            f"retention: last run {run['started']} ({run['reason']}): "
            f"{run['segments_deleted']} segments, {human(run['bytes_freed'])} freed, "
            f"{len(run['errors'])} errors"
        )
        lines.extend(f"  error: {e}" for e in run["errors"])
        lines.extend(f"  limit not met: {u}" for u in run.get("unmet", []))
    return "\n".join(lines)
