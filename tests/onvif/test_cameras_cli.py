"""`vms cameras add|login|list|remove` against a running server, with an API token."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tests.onvif.conftest import QUIET
from vms_core.simulator.simulator import Simulator

VMS = str(Path(sys.executable).with_name("vms"))


async def _vms(*argv: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        VMS,
        *argv,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, **(env or {})},
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_add_list_remove_through_the_server(cameras: Simulator, make_server: Any) -> None:
    running = await make_server(QUIET)
    token = await running.admin_token()
    conn = ["--server", running.url, "--token", token]
    info = cameras.cameras[1]
    address = urlsplit(info.onvif_url).netloc  # host:port, the form an admin types

    code, out, err = await _vms(
        "cameras",
        "add",
        "lobby",
        "--onvif",
        address,
        "--username",
        info.username,
        "--no-record",
        "--json",
        *conn,
        env={"VMS_CAMERA_PASSWORD": info.password},
    )
    assert code == 0, err
    added = json.loads(out)
    assert added["state"] == "online"
    assert {s["role"] for s in added["streams"]} == {"main", "sub"}

    code, out, err = await _vms(
        "cameras", "add", "--rtsp", cameras.cameras[2].rtsp_main_url, "--no-record", *conn
    )
    assert code == 0, err

    code, out, err = await _vms(
        "cameras",
        "add",
        "bad",
        "--onvif",
        urlsplit(cameras.cameras[0].onvif_url).netloc,
        "--username",
        "admin",
        "--password",
        "wrong",
        "--no-record",
        *conn,
    )
    assert code == 3  # added, but the camera refused the login
    assert "unauthorized" in out
    assert "vms cameras login" in out  # the reason says how to fix it

    # Correcting the login brings the camera online with its streams.
    code, out, err = await _vms(
        "cameras",
        "login",
        "bad",
        "--username",
        cameras.cameras[0].username,
        "--json",
        *conn,
        env={"VMS_CAMERA_PASSWORD": cameras.cameras[0].password},
    )
    assert code == 0, err
    fixed = json.loads(out)
    assert fixed["state"] == "online"
    assert {s["role"] for s in fixed["streams"]} == {"main", "sub"}

    code, out, err = await _vms("cameras", "list", *conn)
    assert code == 0, err
    rows = out.splitlines()[1:]
    assert len(rows) == 3
    lobby = next(r for r in rows if " lobby " in r)
    assert "online" in lobby and "main:320x180" in lobby and "sub:160x90" in lobby

    code, out, err = await _vms("cameras", "remove", "lobby", *conn)
    assert code == 0, err
    names = {c.name for c in await running.server.cameras.visible()}
    assert "lobby" not in names and "bad" in names

    code, out, err = await _vms("cameras", "list", "--server", running.url, "--token", "nope")
    assert code == 1
    assert "HTTP 401" in err
