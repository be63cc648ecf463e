"""Changing a password (item 8 of issue #15) ends the user's other sessions and every API
token; users change their own (with the current password), admins reset anyone's, and the
shell can too. The last admin cannot be demoted, disabled or deleted (smaller items)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import select

from tests.conftest import BASE_CONFIG, RunningServer, bearer
from vms_core.accounts import store as accounts
from vms_core.config import load_config
from vms_core.db import Database
from vms_core.db.models import User

VMS = [sys.executable, "-m", "vms_core.cli"]


async def browser_login(srv: RunningServer, name: str, password: str) -> aiohttp.ClientSession:
    browser = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    body = {"username": name, "password": password}
    async with browser.post(srv.url + "/api/auth/login", json=body) as r:
        assert r.status == 200, await r.text()
    return browser


async def me(http: aiohttp.ClientSession, srv: RunningServer, token: str | None = None) -> int:
    headers = bearer(token) if token else {}
    async with http.get(srv.url + "/api/auth/me", headers=headers) as r:
        return r.status


async def test_an_admin_reset_ends_every_session_and_token_of_that_user(
    make_server: Any, http: aiohttp.ClientSession
) -> None:
    srv = await make_server()
    admin = await srv.admin_token()
    token = await srv.token("dana", "operator")
    browser = await browser_login(srv, "dana", "password-dana")
    try:
        assert await me(browser, srv) == 200 and await me(http, srv, token) == 200
        async with http.get(srv.url + "/api/users", headers=bearer(admin)) as r:
            (dana,) = [u for u in await r.json() if u["username"] == "dana"]
        async with http.patch(
            f"{srv.url}/api/users/{dana['id']}",
            json={"password": "a-new-password"},
            headers=bearer(admin),
        ) as r:
            assert r.status == 200
        assert await me(browser, srv) == 401, "the old session ended"
        assert await me(http, srv, token) == 401, "the old token was revoked"
        assert await me(http, srv, admin) == 200, "the admin's own token is untouched"
        await (await browser_login(srv, "dana", "a-new-password")).close()

        # The dedicated reset route does the same.
        again = await browser_login(srv, "dana", "a-new-password")
        async with http.put(
            f"{srv.url}/api/users/{dana['id']}/password",
            json={"password": "third-password"},
            headers=bearer(admin),
        ) as r:
            assert r.status == 200, await r.text()
        assert await me(again, srv) == 401
        await again.close()
    finally:
        await browser.close()


async def test_changing_my_own_password_keeps_this_session_and_ends_the_others(
    make_server: Any, http: aiohttp.ClientSession
) -> None:
    srv = await make_server()
    token = await srv.token("vic", "viewer")
    here = await browser_login(srv, "vic", "password-vic")
    there = await browser_login(srv, "vic", "password-vic")
    try:
        url = srv.url + "/api/auth/password"
        wrong = {"current_password": "not-my-password", "new_password": "brand-new-pass"}
        async with here.put(url, json=wrong) as r:
            assert r.status == 400 and "current_password" in (await r.json())["error"]["message"]
        short = {"current_password": "password-vic", "new_password": "short"}
        async with here.put(url, json=short) as r:
            assert r.status == 400 and "new_password" in (await r.json())["error"]["message"]
        assert await me(there, srv) == 200 and await me(http, srv, token) == 200

        good = {"current_password": "password-vic", "new_password": "brand-new-pass"}
        async with here.put(url, json=good) as r:
            assert r.status == 200, await r.text()
        assert await me(here, srv) == 200, "the session that made the change goes on"
        assert await me(there, srv) == 401
        assert await me(http, srv, token) == 401
        body = {"username": "vic", "password": "password-vic"}
        async with http.post(srv.url + "/api/auth/login", json=body) as r:
            assert r.status == 401
        await (await browser_login(srv, "vic", "brand-new-pass")).close()
        async with http.get(
            srv.url + "/api/audit",
            params={"action": "user.password"},
            headers=bearer(await srv.admin_token()),
        ) as r:
            assert [(e["username"], e["target"]) for e in await r.json()] == [("vic", "vic")]
    finally:
        await here.close()
        await there.close()


async def test_the_last_admin_cannot_be_demoted_disabled_or_deleted(
    make_server: Any, http: aiohttp.ClientSession
) -> None:
    srv = await make_server()
    admin = await srv.admin_token()
    async with http.get(srv.url + "/api/users", headers=bearer(admin)) as r:
        (first,) = [u for u in await r.json() if u["username"] == "admin"]
    users = f"{srv.url}/api/users"
    for change in ({"role": "operator"}, {"disabled": True}):
        async with http.patch(f"{users}/{first['id']}", json=change, headers=bearer(admin)) as r:
            assert r.status == 409, change
            assert "only admin" in (await r.json())["error"]["message"]
    second = await srv.token("ada", "admin")
    async with http.get(users, headers=bearer(admin)) as r:
        (ada,) = [u for u in await r.json() if u["username"] == "ada"]
    async with http.patch(
        f"{users}/{first['id']}", json={"role": "operator"}, headers=bearer(admin)
    ) as r:
        assert r.status == 200, "with another admin, demoting is fine"
    async with http.delete(f"{users}/{ada['id']}", headers=bearer(admin)) as r:
        assert r.status == 403, "the demoted admin is an operator now"
    async with http.patch(
        f"{users}/{ada['id']}", json={"role": "viewer"}, headers=bearer(second)
    ) as r:
        assert r.status == 409
    async with http.get(users, headers=bearer(second)) as r:
        assert [u["role"] for u in await r.json() if u["username"] == "ada"] == ["admin"]


def test_vms_users_passwd_sets_a_password_and_revokes_the_users_tokens(tmp_path: Path) -> None:
    config = tmp_path / "vms.toml"
    config.write_text(BASE_CONFIG)
    cfg = ["--config", str(config)]

    def vms(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*VMS, *cfg, *args], capture_output=True, text=True, cwd=tmp_path, timeout=60
        )

    assert vms("users", "add", "dana", "--password", "first-password").returncode == 0
    url = load_config(config).database_url

    async def token_for_dana() -> str:
        db = Database(url)
        async with db.session() as session:
            user = await session.scalar(select(User).where(User.username == "dana"))
            assert user is not None
            _row, token = await accounts.create_token(session, user.id, "bridge")
        await db.close()
        return token

    async def check(password: str, token: str) -> tuple[bool, bool]:
        db = Database(url)
        async with db.session() as session:
            user = await accounts.authenticate_password(session, "dana", password)
            owner = await accounts.token_owner(session, token)
        await db.close()
        return user is not None, owner is not None

    token = asyncio.run(token_for_dana())
    changed = vms("users", "passwd", "dana", "--password", "second-password")
    assert changed.returncode == 0, changed.stderr
    assert "password of dana changed" in changed.stdout
    assert asyncio.run(check("second-password", token)) == (True, False)
    generated = vms("users", "passwd", "dana", "--generate-password")
    assert generated.returncode == 0 and "password (shown once):" in generated.stdout
    missing = vms("users", "passwd", "nobody", "--password", "whatever-123")
    assert missing.returncode == 2 and "no user 'nobody'" in missing.stderr
    short = vms("users", "passwd", "dana", "--password", "short")
    assert short.returncode == 2 and "password" in short.stderr


async def test_an_unknown_name_costs_a_real_password_check() -> None:
    """Logging in as a name that does not exist verifies against a stored dummy hash, so it
    takes as long as a real check: the dummy must have the parameters of real hashes."""
    from argon2 import extract_parameters

    from vms_core.accounts import store as accounts

    real = await accounts.hash_password("some password")
    assert extract_parameters(accounts._DUMMY_HASH) == extract_parameters(real)
    assert await accounts.verify_password(accounts._DUMMY_HASH, "not-a-real-password")
