"""``vms simulate``: run simulated ONVIF cameras until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sys
from pathlib import Path

from vms_core.simulator.camera import SimulatedCameraInfo
from vms_core.simulator.config import (
    SimulatorConfig,
    SimulatorConfigError,
    default_cameras,
    load_config,
)
from vms_core.simulator.simulator import Simulator


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vms simulate", description="Run simulated ONVIF cameras (RTSP, snapshots, PTZ)."
    )
    parser.add_argument("--cameras", type=int, default=None, help="number of cameras (default 1)")
    parser.add_argument("--host", default=None, help="address to bind (default 127.0.0.1)")
    parser.add_argument(
        "--base-port", type=int, default=None, help="ONVIF port of camera 1 (default: any free)"
    )
    parser.add_argument("--rtsp-port", type=int, default=None, help="RTSP port (default: any)")
    parser.add_argument("--config", type=Path, default=None, help="TOML file of cameras")
    parser.add_argument(
        "--no-media", action="store_true", help="ONVIF and discovery only, no RTSP media"
    )
    parser.add_argument(
        "--cache-dir",
        type=Path,
        default=None,
        help="where encoded media loops are kept (default ~/.cache/vms/simulator)",
    )
    parser.add_argument(
        "--json", action="store_true", help="one JSON object per camera per line on stdout"
    )
    return parser


def resolve_config(args: argparse.Namespace) -> SimulatorConfig:
    config = load_config(args.config) if args.config else SimulatorConfig()
    updates: dict[str, object] = {}
    if args.host is not None:
        updates["host"] = args.host
    if args.base_port is not None:
        updates["base_port"] = args.base_port
    if args.rtsp_port is not None:
        updates["rtsp_port"] = args.rtsp_port
    if args.no_media:
        updates["media"] = False
    if args.cache_dir is not None:
        updates["cache_dir"] = args.cache_dir
    elif config.cache_dir is None:
        updates["cache_dir"] = default_cache_dir()
    if args.cameras is not None:
        # Configured cameras come first; more are filled in with the defaults.
        extra = default_cameras(args.cameras)[len(config.cameras) :]
        updates["cameras"] = [*config.cameras, *extra][: args.cameras]
    elif not config.cameras:
        updates["cameras"] = default_cameras(1)
    return SimulatorConfig.model_validate({**config.model_dump(), **updates})


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "vms" / "simulator"


def describe(info: SimulatedCameraInfo) -> str:
    lines = [
        f"{info.name} ({info.manufacturer} {info.model}{', PTZ' if info.ptz else ''})",
        f"  ONVIF     {info.onvif_url}",
        f"  login     {info.username} / {info.password}",
        f"  RTSP main {info.rtsp_main_url}",
        f"  RTSP sub  {info.rtsp_sub_url}",
        f"  snapshot  {info.snapshot_url}",
    ]
    return "\n".join(lines)


async def serve(config: SimulatorConfig, as_json: bool) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    simulator = Simulator(config)
    if config.media:
        print(
            f"vms simulate: starting {len(config.cameras)} camera(s); media loops are encoded "
            f"on first use and cached in {config.cache_dir}",
            file=sys.stderr,
            flush=True,
        )
    await simulator.start()
    try:
        for info in simulator.cameras:
            print(json.dumps(info.to_json()) if as_json else describe(info) + "\n", flush=True)
        await stop.wait()
    finally:
        await simulator.stop()


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    if args.cameras is not None and args.cameras < 1:
        print("vms simulate: --cameras must be at least 1", file=sys.stderr)
        return 2
    try:
        config = resolve_config(args)
    except SimulatorConfigError as err:
        print(f"vms simulate: {err}", file=sys.stderr)
        return 2
    except ValueError as err:  # pydantic ValidationError from command-line values
        print(f"vms simulate: {err}", file=sys.stderr)
        return 2
    try:
        asyncio.run(serve(config, args.json))
    except OSError as err:
        print(f"vms simulate: {err}", file=sys.stderr)
        return 1
    return 0
