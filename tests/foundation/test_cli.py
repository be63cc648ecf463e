"""The `vms` command as an operator uses it: serve, reload on SIGHUP, stop on SIGTERM,
users add/list, db upgrade."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import BASE_CONFIG
from tests.eventually import eventually_sync
from tests.first_start import read_first_password

VMS = [sys.executable, "-m", "vms_core.cli"]
CAM = '[[cameras]]\nname = "{name}"\nrtsp_url = "rtsp://127.0.0.1:1/{name}"\n'


def _get(url: str, token: str | None = None) -> tuple[int, object]:
    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


@pytest.fixture
def serve(tmp_path: Path):
    procs: list[subprocess.Popen[str]] = []

    def start(config_text: str) -> tuple[subprocess.Popen[str], str, str]:
        path = tmp_path / "vms.toml"
        path.write_text(config_text)
        # The log goes to a file: an unread pipe would fill and block the server.
        log = (tmp_path / "server.log").open("w")
        proc = subprocess.Popen(
            [*VMS, "--config", str(path), "serve"],
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            cwd=tmp_path,
        )
        procs.append(proc)
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert "listening on http://127.0.0.1:" in line, (tmp_path / "server.log").read_text()
        url = line.rsplit(" ", 1)[1].strip()
        return proc, url, read_first_password(proc.stdout)

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _token(tmp_path: Path, username: str = "robot") -> str:
    """An admin token made through the CLI's own code path."""
    import asyncio

    from vms_core.accounts import store as accounts
    from vms_core.config import load_config
    from vms_core.db import Database

    async def make() -> str:
        db = Database(load_config(tmp_path / "vms.toml").database_url)
        async with db.session() as session:
            user = await accounts.create_user(session, username, "robot-password", "admin")
            _row, token = await accounts.create_token(session, user.id, "t")
        await db.close()
        return token

    return asyncio.run(make())


def test_serve_prints_url_answers_and_stops_cleanly(serve, tmp_path: Path) -> None:
    proc, url, _password = serve(BASE_CONFIG)
    status, body = _get(url + "/api/health")
    assert status == 200 and body["status"] == "ok"
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=15) == 0
    # The admin password is shown only on the very first start.
    proc2 = subprocess.Popen(
        [*VMS, "--config", str(tmp_path / "vms.toml"), "serve"],
        stdout=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )
    assert proc2.stdout is not None
    assert "listening on" in proc2.stdout.readline()
    proc2.send_signal(signal.SIGINT)
    rest = proc2.stdout.read()
    assert proc2.wait(timeout=15) == 0
    assert "password" not in rest


def test_sighup_reload_changes_only_what_changed(serve, tmp_path: Path) -> None:
    proc, url, _ = serve(BASE_CONFIG + CAM.format(name="keep") + CAM.format(name="drop"))
    token = _token(tmp_path)
    _, before = _get(url + "/api/cameras", token)
    keep_before = next(c for c in before if c["name"] == "keep")
    (tmp_path / "vms.toml").write_text(
        BASE_CONFIG + CAM.format(name="keep") + CAM.format(name="added")
    )
    proc.send_signal(signal.SIGHUP)

    def added() -> Any:
        _, found = _get(url + "/api/cameras", token)
        return found if any(c["name"] == "added" for c in found) else None  # type: ignore[union-attr]

    cams = eventually_sync(added, 10, 0.1, what="the added camera")
    by_name = {c["name"]: c for c in cams}
    health = ("state", "state_reason", "state_changed")
    # Untouched (its recording is not restarted); only its health may have moved on.
    assert {k: v for k, v in by_name["keep"].items() if k not in health} == {
        k: v for k, v in keep_before.items() if k not in health
    }
    assert by_name["added"]["enabled"] is True
    assert by_name["drop"]["enabled"] is False  # disabled, recordings kept
    # A broken file on reload changes nothing and the server keeps running.
    (tmp_path / "vms.toml").write_text(BASE_CONFIG + '[[cameras]]\nname = "x"\n')
    proc.send_signal(signal.SIGHUP)

    def refused_reload() -> bool:
        _, entries = _get(url + "/api/audit?action=config.reload", token)
        return any(not e["success"] for e in entries)  # type: ignore[union-attr]

    eventually_sync(refused_reload, 10, 0.1, what="the broken reload audited as refused")
    assert proc.poll() is None
    _, after = _get(url + "/api/cameras", token)
    assert {c["name"] for c in after} == {"keep", "added", "drop"}
    status, audit = _get(url + "/api/audit?action=config.reload", token)
    assert status == 200
    assert [e["success"] for e in audit] == [False, True]
    proc.terminate()
    assert proc.wait(timeout=15) == 0


def test_users_add_and_list(tmp_path: Path) -> None:
    (tmp_path / "vms.toml").write_text(BASE_CONFIG + CAM.format(name="lobby"))
    cfg = ["--config", str(tmp_path / "vms.toml")]
    up = subprocess.run([*VMS, *cfg, "db", "upgrade"], capture_output=True, text=True, cwd=tmp_path)
    assert up.returncode == 0, up.stderr
    add = subprocess.run(
        [*VMS, *cfg, "users", "add", "dana", "--role", "operator", "--generate-password"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert add.returncode == 0, add.stderr
    assert "password (shown once):" in add.stdout
    bad = subprocess.run(
        [
            *VMS,
            *cfg,
            "users",
            "add",
            "eve",
            "--role",
            "viewer",
            "--password",
            "long-enough",
            "--cameras",
            "nowhere",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert bad.returncode == 2 and "no camera 'nowhere'" in bad.stderr
    dup = subprocess.run(
        [*VMS, *cfg, "users", "add", "dana", "--password", "long-enough"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert dup.returncode == 2 and "already exists" in dup.stderr
    listed = subprocess.run(
        [*VMS, *cfg, "users", "list"], capture_output=True, text=True, cwd=tmp_path
    )
    assert "dana\toperator" in listed.stdout
    assert "eve" not in listed.stdout


def test_version() -> None:
    out = subprocess.run([*VMS, "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.startswith("vms ")


def _cameras_of(tmp_path: Path, username: str) -> frozenset[int] | None:
    """The cameras ``username`` may see, as every request decides it (None: all)."""
    import asyncio

    from sqlalchemy import select

    from vms_core.accounts import store as accounts
    from vms_core.config import load_config
    from vms_core.db import Database
    from vms_core.db.models import User

    async def look() -> frozenset[int] | None:
        db = Database(load_config(tmp_path / "vms.toml").database_url)
        try:
            async with db.session() as session:
                user = await session.scalar(select(User).where(User.username == username))
                assert user is not None
                return (await accounts.principal_for(session, user, "session")).camera_ids
        finally:
            await db.close()

    return asyncio.run(look())


@pytest.mark.parametrize(
    ("users_table", "says", "sees_all", "sees"),
    [
        # The README's own example: `vms users add h19-alarms --role operator` made a user
        # who saw no camera at all. The shipped default is every camera.
        ("", "sees every camera, including cameras added later", True, set()),
        ('[users]\ndefault_cameras = "none"\n', "sees no camera yet", False, set()),
        (
            '[users]\ndefault_cameras = ["lobby", "attic"]\n',
            "sees 1 camera(s): lobby ([users] default_cameras in vms.toml; --cameras "
            "chooses others); not found, so not granted: attic",
            False,
            {"lobby"},
        ),
    ],
)
def test_a_new_user_gets_the_configured_default_cameras_and_is_told(
    tmp_path: Path, users_table: str, says: str, sees_all: bool, sees: set[str]
) -> None:
    config = tmp_path / "vms.toml"
    config.write_text(
        BASE_CONFIG + CAM.format(name="lobby") + CAM.format(name="dock") + users_table
    )
    cfg = ["--config", str(config)]
    # The cameras enter the catalog when the server first starts.
    proc = subprocess.Popen([*VMS, *cfg, "serve"], stdout=subprocess.PIPE, text=True, cwd=tmp_path)
    assert proc.stdout is not None and "listening on" in proc.stdout.readline()
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=15)
    add = subprocess.run(
        [
            *VMS,
            *cfg,
            "users",
            "add",
            "h19-alarms",
            "--role",
            "operator",
            "--password",
            "long-enough",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert add.returncode == 0, add.stderr
    assert says in add.stdout
    visible = _cameras_of(tmp_path, "h19-alarms")
    if sees_all:
        assert visible is None
    else:
        import sqlite3

        with sqlite3.connect(tmp_path / "data" / "vms.db") as db:
            names = dict(db.execute("SELECT id, name FROM cameras").fetchall())
        assert visible is not None and {names[i] for i in visible} == sees
    # --cameras still chooses exactly.
    only = subprocess.run(
        [*VMS, *cfg, "users", "add", "dock-only", "--password", "long-enough", "--cameras", "dock"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert only.returncode == 0 and "sees 1 camera(s): dock\n" in only.stdout


def free_ports_in_a_row(count: int) -> int:
    """The first of ``count`` consecutive ports that are free on loopback now."""
    from tests.conftest import free_port

    for _ in range(100):
        first = free_port()
        with contextlib.ExitStack() as held:
            try:
                for port in range(first + 1, first + count):
                    probe = held.enter_context(socket.socket())
                    probe.bind(("127.0.0.1", port))
            except OSError:
                continue
        return first
    raise RuntimeError(f"no {count} free ports in a row on loopback")


def test_demo_shows_a_camera_first_then_the_password_box_and_records_when_encoded(
    tmp_path: Path,
) -> None:
    """A first `vms demo` printed its address after encoding every camera's video (94 s
    on a fresh machine), then buried the admin password under hundreds of log lines.
    Now the first camera's sub stream is all it waits for; the rest is encoded in the
    background, and the password is framed, last."""
    from tests.conftest import free_port

    (tmp_path / "vms.toml").write_text(
        BASE_CONFIG
        + "[demo]\ncameras = 2\nmain_width = 320\nmain_height = 180\n"
        # Camera n answers ONVIF on base + n - 1: both ports must be free.
        + f"onvif_base_port = {free_ports_in_a_row(2)}\nrtsp_port = {free_port()}\n"
    )
    log = (tmp_path / "demo.log").open("w")
    proc = subprocess.Popen(
        [*VMS, "--config", str(tmp_path / "vms.toml"), "demo"],
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "VMS_PLUGINS": ""},
    )
    try:
        assert proc.stdout is not None
        assert "simulated cameras" in proc.stdout.readline()
        line = proc.stdout.readline()
        assert "listening on http://127.0.0.1:" in line, (tmp_path / "demo.log").read_text()
        url = line.rsplit(" ", 1)[1].strip()
        password = read_first_password(proc.stdout)
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
        login = urllib.request.Request(
            url + "/api/auth/login",
            data=json.dumps({"username": "admin", "password": password}).encode(),
            headers={"Content-Type": "application/json"},
        )
        opener.open(login, timeout=10).close()

        def cameras() -> list[dict[str, Any]]:
            with opener.open(url + "/api/cameras", timeout=10) as r:
                return list(json.loads(r.read()))

        # When the box is printed, the first camera is there to watch.
        assert [c["name"] for c in cameras()] == ["demo-cam-1"]

        def all_recording() -> list[dict[str, Any]]:
            found = cameras()
            assert len(found) == 2 and all(c["record"] for c in found), found
            return found

        # Hang guard: two small cameras encode in well under 30 s.
        eventually_sync(all_recording, 120, 0.5, what="both demo cameras recording")
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
        log.close()
    text = (tmp_path / "demo.log").read_text()
    assert "loop player" not in text and " aioice" not in text
