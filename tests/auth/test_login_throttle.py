"""Login throttling (item 7 of issue #15): per name and per address, 429 with Retry-After,
audited, cleared by a good login, and no way to learn which names exist through it. Login
names are validated, so none can forge a line of the server log (smaller items)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest

from tests.conftest import RunningServer, bearer
from vms_core.accounts.throttle import LoginThrottle
from vms_core.api.keys import LOGIN_THROTTLE
from vms_core.server import VmsServer


async def login(http: aiohttp.ClientSession, srv: RunningServer, name: str, password: str) -> Any:
    async with http.post(
        srv.url + "/api/auth/login", json={"username": name, "password": password}
    ) as r:
        return r.status, r.headers.get("Retry-After"), await r.json()


class Clock:
    """The throttle's clock, moved by the test: locks end when the test says, whatever
    the machine's load (argon2 hashing takes its time on a busy CI machine)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def throttled_by(clock: Clock) -> Callable[[VmsServer], None]:
    def install(server: VmsServer) -> None:
        server.app[LOGIN_THROTTLE] = LoginThrottle(clock=clock)  # what the routes use

    return install


async def test_repeated_failures_lock_the_name_with_retry_after_until_a_good_login(
    make_server: Any, http: aiohttp.ClientSession
) -> None:
    clock = Clock()
    srv = await make_server(before_start=throttled_by(clock))
    for _ in range(5):
        assert (await login(http, srv, "admin", "wrong-password"))[0] == 401
    status, retry_after, body = await login(http, srv, "admin", "wrong-password")
    assert status == 429 and body["error"]["code"] == "too_many_requests"
    assert retry_after is not None and int(retry_after) >= 1
    # Locked means locked: the right password is not even checked.
    assert (await login(http, srv, "admin", srv.admin_password))[0] == 429

    async with http.get(
        srv.url + "/api/audit", params={"action": "auth."}, headers=bearer(await srv.admin_token())
    ) as r:
        audit = await r.json()
    assert [e["action"] for e in audit if e["action"] == "auth.locked"] == ["auth.locked"]
    assert [e["success"] for e in audit if e["action"] == "auth.login"] == [False] * 5

    clock.now += 0.9
    assert (await login(http, srv, "admin", srv.admin_password))[0] == 429  # the 1 s lock
    clock.now += 0.2
    assert (await login(http, srv, "admin", srv.admin_password))[0] == 200
    # The good login cleared the failures: four more wrong ones are plain 401s.
    assert [(await login(http, srv, "admin", "nope-nope"))[0] for _ in range(4)] == [401] * 4


async def test_throttling_reads_the_same_for_names_that_do_not_exist(
    make_server: Any, http: aiohttp.ClientSession
) -> None:
    srv = await make_server(before_start=throttled_by(Clock()))
    answers = {}
    for name in ("admin", "ghost"):
        answers[name] = [
            (status, body)
            for status, _, body in [await login(http, srv, name, "guess-1234") for _ in range(7)]
        ]
    assert answers["admin"] == answers["ghost"]
    assert [status for status, _ in answers["ghost"]] == [401] * 5 + [429] * 2


async def test_one_address_guessing_many_names_is_throttled(
    make_server: Any, http: aiohttp.ClientSession
) -> None:
    srv = await make_server(before_start=throttled_by(Clock()))
    for n in range(20):
        assert (await login(http, srv, f"user{n}", "guess-1234"))[0] == 401
    status, retry_after, _ = await login(http, srv, "someone-new", "guess-1234")
    assert status == 429 and retry_after is not None


@pytest.mark.parametrize(
    "name", ["admin\n2026-12-01 INFO vms.audit: auth.login ok admin", "adm\x1b[2Kin", "a\u2028b"]
)
async def test_a_login_name_with_control_characters_is_refused_and_forges_no_log_line(
    make_server: Any, http: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture, name: str
) -> None:
    srv = await make_server()
    with caplog.at_level(logging.INFO):
        status, _, body = await login(http, srv, name, "whatever-1")
    assert status == 400 and "username" in body["error"]["message"]
    assert not any("\n" in r.getMessage() or "\x1b" in r.getMessage() for r in caplog.records)
