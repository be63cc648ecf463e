"""`vms cameras list|add|login|remove`: manage cameras through the running server's API.

They talk to the server (not to the catalog directly) so that a change takes effect at
once: the server fills in ONVIF profiles, starts or stops recording and reports health.
The server URL is ``--server`` or ``$VMS_URL`` (default: ``[server]`` of the config);
the token is ``--token`` or ``$VMS_TOKEN`` (an admin's API token, ``POST /api/tokens``).
The password of ``add`` and ``login`` is read from ``--password``, ``$VMS_CAMERA_PASSWORD``
or a prompt. ``login`` corrects the credentials of a camera that refused them (state
``unauthorized``); the server checks them again at once.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import os
import sys
from typing import Any

import aiohttp

from vms_core.commands import Handler
from vms_core.commands.settings import config_path, load_or_exit


class CommandError(Exception):
    pass


def register(sub: Any, common: argparse.ArgumentParser) -> dict[str, Handler]:
    parser = sub.add_parser("cameras", parents=[common], help="list, add or remove cameras")
    actions = parser.add_subparsers(dest="cameras_command", metavar="ACTION", required=True)
    conn = argparse.ArgumentParser(add_help=False)
    conn.add_argument("--server", help="server URL (default $VMS_URL or the config's [server])")
    conn.add_argument("--token", help="admin API token (default $VMS_TOKEN)")
    conn.add_argument("--json", action="store_true", help="print JSON")

    actions.add_parser("list", parents=[common, conn], help="list cameras and their state")

    add = actions.add_parser("add", parents=[common, conn], help="add a camera")
    add.add_argument("name", nargs="?", help="camera name (default: from its address)")
    source = add.add_mutually_exclusive_group(required=True)
    source.add_argument("--onvif", metavar="HOST[:PORT]|URL", help="ONVIF address")
    source.add_argument("--rtsp", metavar="URL", help="RTSP URL (non-ONVIF camera)")
    add.add_argument("--sub-rtsp", metavar="URL", help="RTSP URL of the sub stream")
    add.add_argument("--username", default="", help="camera login")
    add.add_argument("--password", help="camera password (default $VMS_CAMERA_PASSWORD/ask)")
    add.add_argument("--lat", type=float)
    add.add_argument("--lon", type=float)
    add.add_argument("--no-record", action="store_true", help="add without recording")

    login = actions.add_parser(
        "login", parents=[common, conn], help="change a camera's username and password"
    )
    login.add_argument("camera", help="camera id or name")
    login.add_argument("--username", help="camera login (default: keep it)")
    login.add_argument("--password", help="camera password (default $VMS_CAMERA_PASSWORD/ask)")

    remove = actions.add_parser("remove", parents=[common, conn], help="remove a camera")
    remove.add_argument("camera", help="camera id or name")
    return {"cameras": cmd_cameras}


def cmd_cameras(args: argparse.Namespace) -> int:
    try:
        return asyncio.run(_run(args))
    except CommandError as err:
        print(f"cameras {args.cameras_command}: {err}", file=sys.stderr)
        return 1


def _server_url(args: argparse.Namespace) -> str:
    url = args.server or os.environ.get("VMS_URL")
    if url:
        return str(url).rstrip("/")
    settings = load_or_exit(config_path(args))
    if settings.server.public_url:
        return settings.server.public_url.rstrip("/")
    host = settings.server.host
    return f"http://{f'[{host}]' if ':' in host else host}:{settings.server.port}"


async def _request(http: aiohttp.ClientSession, method: str, url: str, body: Any = None) -> Any:
    try:
        async with http.request(method, url, json=body) as response:
            data = None
            if response.status != 204:
                try:
                    data = await response.json(content_type=None)
                except ValueError:
                    raise CommandError(f"HTTP {response.status}: not a JSON reply") from None
            if response.status >= 400:
                message = (data or {}).get("error", {}).get("message", response.reason)
                raise CommandError(f"HTTP {response.status}: {message}")
            return data
    except aiohttp.ClientError as err:
        raise CommandError(f"cannot reach the server at {url}: {err}") from None


async def _run(args: argparse.Namespace) -> int:
    base = _server_url(args)
    token = args.token or os.environ.get("VMS_TOKEN")
    if not token:
        raise CommandError("needs an API token: --token or $VMS_TOKEN")
    headers = {"Authorization": f"Bearer {token}"}
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(headers=headers, timeout=timeout) as http:
        if args.cameras_command == "list":
            cameras = await _request(http, "GET", f"{base}/api/cameras")
            print(json.dumps(cameras, indent=2) if args.json else format_table(cameras))
            return 0
        if args.cameras_command == "add":
            camera = await _request(http, "POST", f"{base}/api/cameras", _new_camera(args))
            return _show_checked(camera, args.json)
        camera_id = await _camera_id(http, base, args.camera)
        if args.cameras_command == "login":
            body = _login(args)
            camera = await _request(http, "PATCH", f"{base}/api/cameras/{camera_id}", body)
            return _show_checked(camera, args.json)
        await _request(http, "DELETE", f"{base}/api/cameras/{camera_id}")
        if not args.json:
            print(f"removed camera {camera_id}")
        return 0


def _show_checked(camera: dict[str, Any], as_json: bool) -> int:
    """Print a camera the server has just checked; exit code 3 if the check failed."""
    print(json.dumps(camera, indent=2) if as_json else format_table([camera]))
    return 0 if camera["state"] not in ("unauthorized", "unreachable", "error") else 3


def _password(args: argparse.Namespace, username: str) -> str | None:
    password: str | None = args.password
    if password is None:
        password = os.environ.get("VMS_CAMERA_PASSWORD")
    if password is None and username and sys.stdin.isatty():
        password = getpass.getpass(f"password of {username}: ")
    return password


def _login(args: argparse.Namespace) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if args.username is not None:
        body["username"] = args.username
    password = _password(args, args.username or args.camera)
    if password is not None:
        body["password"] = password
    if not body:
        raise CommandError("give --username and/or a password (--password, $VMS_CAMERA_PASSWORD)")
    return body


def _new_camera(args: argparse.Namespace) -> dict[str, Any]:
    body: dict[str, Any] = {
        "username": args.username,
        "password": _password(args, args.username) or "",
        "record": not args.no_record,
    }
    if args.name:
        body["name"] = args.name
    if args.onvif:
        body["onvif_url" if "://" in args.onvif else "address"] = args.onvif
    else:
        body["rtsp_url"] = args.rtsp
        if args.sub_rtsp:
            body["sub_rtsp_url"] = args.sub_rtsp
    for key in ("lat", "lon"):
        if getattr(args, key) is not None:
            body[key] = getattr(args, key)
    return body


async def _camera_id(http: aiohttp.ClientSession, base: str, ref: str) -> int:
    if ref.isdigit():
        return int(ref)
    for camera in await _request(http, "GET", f"{base}/api/cameras"):
        if camera["name"] == ref:
            return int(camera["id"])
    raise CommandError(f"no camera {ref!r}")


def format_table(cameras: list[dict[str, Any]]) -> str:
    lines = [f"{'ID':>4} {'NAME':<24} {'STATE':<13} {'STREAMS':<18} REASON"]
    for c in cameras:
        streams = ",".join(
            f"{s['role']}:{s.get('width') or '?'}x{s.get('height') or '?'}" for s in c["streams"]
        )
        lines.append(
            f"{c['id']:>4} {c['name'][:24]:<24} {c['state']:<13} {streams:<18} "
            f"{c.get('state_reason') or ''}"
        )
    return "\n".join(lines)
