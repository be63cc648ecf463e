"""A catalog on a full disk (item 6 of issue #15): authentication never writes, so every
reading API keeps answering, login still works, and the writes that were deferred (token
last-used times, the new session, the login's audit entry) reach the catalog once there
is room again: a restart finds them."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from http.cookiejar import CookieJar
from pathlib import Path
from typing import Any

import pytest

from tests.auth.tinydisk import TinyDisk
from tests.first_start import read_first_password

VMS = [sys.executable, "-m", "vms_core.cli"]
READS = ["/api/cameras", "/api/storage", "/api/auth/me", "/api/tokens", "/api/users"]
Serve = Callable[[], tuple[subprocess.Popen[str], str, str | None]]


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[TinyDisk]:
    disk = TinyDisk(tmp_path / "catalog")
    try:
        yield disk
    finally:
        disk.close()


@pytest.fixture
def serve(tmp_path: Path, tiny_disk: TinyDisk) -> Iterator[Serve]:
    """`vms serve` with its data folder (catalog, keys) on the tiny disk."""
    config = tmp_path / "vms.toml"
    config.write_text(
        f'[server]\nhost = "127.0.0.1"\nport = 0\ndata_dir = "{tiny_disk.folder}"\n'
        f'[storage]\nrecordings_dir = "{tmp_path / "recordings"}"\n'
        '[[cameras]]\nname = "north"\nrtsp_url = "rtsp://127.0.0.1:1/north"\nenabled = false\n'
    )
    procs: list[subprocess.Popen[str]] = []

    def start() -> tuple[subprocess.Popen[str], str, str | None]:
        # The log goes to a file: an unread pipe would fill and block the server.
        log = (tmp_path / "server.log").open("a")
        proc = subprocess.Popen(
            tiny_disk.command([*VMS, "--config", str(config), "serve"]),
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            cwd=tmp_path,
            env={"VMS_PLUGINS": "", "PATH": "/usr/bin:/bin"},
        )
        procs.append(proc)
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert "listening on http://" in line, (tmp_path / "server.log").read_text()
        password = None
        if len(procs) == 1:
            password = read_first_password(proc.stdout)
        return proc, line.rsplit(" ", 1)[1].strip(), password

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


class Client:
    """A browser-like client: JSON in and out, a cookie jar, an optional bearer token."""

    def __init__(self, url: str, token: str | None = None) -> None:
        self.url = url
        self.token = token
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        request = urllib.request.Request(self.url + path, method=method)
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            request.add_header("Content-Type", "application/json")
        try:
            with self.opener.open(request, data, timeout=30) as r:
                return r.status, json.loads(r.read() or b"null")
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"null")


def test_reads_and_login_work_on_a_full_catalog_disk(serve: Serve, tiny_disk: TinyDisk) -> None:
    proc, url, password = serve()
    browser = Client(url)
    assert (
        browser.call("POST", "/api/auth/login", {"username": "admin", "password": password})[0]
        == 200
    )
    status, created = browser.call("POST", "/api/tokens", {"name": "robot"})
    assert status == 201
    robot = Client(url, created["token"])
    tiny_disk.fill()

    for path in READS:
        status, body = robot.call("GET", path)
        assert status == 200, (path, body)
    status, tokens = robot.call("GET", "/api/tokens")
    assert tokens[0]["last_used"] is not None, "kept in memory until it can be written"
    late = Client(url)
    status, body = late.call("POST", "/api/auth/login", {"username": "admin", "password": password})
    assert status == 200, body
    assert late.call("GET", "/api/auth/me")[0] == 200
    wrong = Client(url).call("POST", "/api/auth/login", {"username": "admin", "password": "x" * 9})
    assert wrong[0] == 401

    # Room again; a clean stop writes what was deferred, and a restart finds it.
    tiny_disk.free()
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0
    _, url, _ = serve()
    late.url = robot.url = url
    status, tokens = robot.call("GET", "/api/tokens")
    assert status == 200 and tokens[0]["last_used"] is not None
    assert late.call("GET", "/api/auth/me")[0] == 200, "the full-disk login's session was kept"
    status, audit = robot.call("GET", "/api/audit?action=auth.login")
    assert [(e["username"], e["success"]) for e in audit] == [
        ("admin", False),
        ("admin", True),
        ("admin", True),
    ]
