"""Administration in the browser: users (roles, camera grants, password reset), cameras
(discovery scan -> add, edit, remove), storage and locks, plug-ins, audit search, exports
(download, delete), licence plates (search, hotlists); and every user's own password."""

from __future__ import annotations

import hashlib
import hmac
import json
import zipfile
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest
from playwright.async_api import Browser, Page, expect

from tests.conftest import bearer
from tests.error_logs import PLUGINS_REFUSED
from tests.eventually import eventually
from tests.loops import sim_config
from tests.playback.recorded import RecordingSite
from tests.simulator.conftest import small_camera
from tests.web.conftest import PageProblems, login, new_page, screenshot
from tests.web.console_helpers import call, login_as
from vms_core.simulator.simulator import Simulator
from vms_core.timeutil import iso


async def _camera_names(page: Page) -> list[str]:
    return await page.locator(".camera-list li .name").all_inner_texts()


async def test_users_roles_camera_grants_and_password_resets(
    start_web: Callable[..., Any], browser: Browser
) -> None:
    setup = await start_web(cameras=2)
    page = await new_page(browser)
    await login(page, setup, "/#/admin/users")
    users = page.locator(".users-table")
    add = page.locator("form.add-user")

    # Dana, an operator on the default cameras ([users] default_cameras: all of them).
    await add.locator("input[name=username]").fill("dana")
    await add.locator("input[name=password]").fill("dana-password")
    await add.locator("button[type=submit]").click()
    dana = users.locator('tr[data-username="dana"]')
    await expect(dana.locator(".cameras")).to_have_text("All")

    # Eve, a viewer of sim-cam-2 only.
    await add.locator("input[name=username]").fill("eve")
    await add.locator("input[name=password]").fill("eve-password")
    await add.locator("select[name=role]").select_option("viewer")
    await add.locator(".camera-mode").select_option("some")
    await add.locator(".camera-checks label", has_text="sim-cam-2").locator("input").check()
    await add.locator("button[type=submit]").click()
    eve = users.locator('tr[data-username="eve"]')
    await expect(eve.locator(".cameras")).to_have_text("sim-cam-2")

    # Dana is narrowed to sim-cam-1.
    await dana.locator("button.edit").click()
    editor = users.locator("tr.editor")
    await editor.locator(".camera-mode").select_option("some")
    await editor.locator(".camera-checks label", has_text="sim-cam-1").locator("input").check()
    await editor.locator("button.save").click()
    await expect(dana.locator(".cameras")).to_have_text("sim-cam-1")
    await screenshot(page, "admin-users.png")

    # Eve's password is reset; she signs in with the new one and sees her camera only,
    # and no administration.
    await eve.locator("button.reset").click()
    await users.locator("tr.editor .new-password").fill("eve-new-password")
    await users.locator("tr.editor button.set-password").click()
    await expect(page.locator(".toast", has_text="Password of eve reset")).to_be_visible()
    eve_page = await new_page(browser)
    await login_as(eve_page, setup.url, "eve", "eve-new-password", "/#/grid")
    await expect(eve_page.locator(".camera-list li")).to_have_count(1)
    assert await _camera_names(eve_page) == ["sim-cam-2"]
    await expect(eve_page.locator(".nav a", has_text="Admin")).to_have_count(0)
    await expect(eve_page.locator(".nav a", has_text="Exports")).to_have_count(0)
    # Her page goes before she does: a deleted user's open page meets 401s (by design).
    await eve_page.close()

    # Deleting asks twice.
    await eve.locator("button", has_text="Delete").click()
    await eve.locator("button", has_text="Confirm delete").click()
    await expect(eve).to_have_count(0)
    assert "eve" not in [u["username"] for u in await call(setup, "GET", "/api/users")]


async def test_every_user_changes_their_own_password(
    start_web: Callable[..., Any], browser: Browser, page_problems: PageProblems
) -> None:
    page_problems.allow(r"^http 400 PUT /api/auth/password$", "the wrong current password, below")
    setup = await start_web(cameras=1)
    await call(
        setup,
        "POST",
        "/api/users",
        {"username": "olga", "password": "olga-password", "role": "viewer"},
    )
    page = await new_page(browser)
    await login_as(page, setup.url, "olga", "olga-password", "/#/grid")
    await page.click("a.user")  # her name in the top bar
    form = page.locator("form.account-form")
    await form.locator("input[name=current_password]").fill("not-my-password")
    await form.locator("input[name=new_password]").fill("olga-new-password")
    await form.locator("input[name=confirm_password]").fill("olga-new-password")
    await form.locator("button[type=submit]").click()
    await expect(form.locator(".form-message")).to_have_text("current_password: does not match")
    await form.locator("input[name=current_password]").fill("olga-password")
    await form.locator("button[type=submit]").click()
    await expect(form.locator(".form-message")).to_have_text("Password changed.")
    await screenshot(page, "account.png")
    await page.click("text=Sign out")
    await login_as(page, setup.url, "olga", "olga-new-password", "/#/grid")
    await expect(page.locator(".topbar .user")).to_contain_text("olga")


@pytest.fixture
async def discoverable() -> AsyncIterator[Simulator]:
    """A camera that answers WS-Discovery probes by unicast on a port of its own."""
    sim = Simulator(
        sim_config(
            cameras=[small_camera(7, name="lobby-cam", ptz=False)],
            discovery=True,
            discovery_port=0,
            discovery_multicast=False,
        )
    )
    await sim.start()
    try:
        yield sim
    finally:
        await sim.stop()


async def test_cameras_found_by_a_scan_are_added_edited_and_removed(
    start_web: Callable[..., Any], browser: Browser, discoverable: Simulator
) -> None:
    setup = await start_web(cameras=1)
    assert discoverable.discovery is not None
    page = await new_page(browser)
    await login(page, setup, "/#/admin/cameras")
    scan = page.locator("form.scan-form")
    await scan.locator("input[name=multicast]").uncheck()
    await scan.locator("input[name=ranges]").fill("127.0.0.1")
    await scan.locator("input[name=port]").fill(str(discoverable.discovery.port))
    await scan.locator("button[type=submit]").click()
    found = page.locator(".scan-results tbody tr", has_text="lobby-cam")
    await expect(found).to_have_count(1, timeout=20_000)  # a 3 s scan, hang guard
    await found.locator("input[name=password]").fill("pass-7")
    await screenshot(page, "admin-cameras.png")
    await found.locator("button.add").click()
    await expect(found.locator(".added")).to_have_text("Added as lobby-cam")
    row = page.locator('.admin-page tr[data-name="lobby-cam"]')
    await expect(row).to_have_count(1)
    await expect(
        page.locator(".camera-list li[data-camera] .name", has_text="lobby-cam")
    ).to_have_count(1)

    # Its health comes from the camera (ONVIF), then its position is set here.
    await expect(row.locator(".health-cell")).to_contain_text("Online", timeout=30_000)
    await row.locator("button.edit").click()
    editor = page.locator("tr.editor")
    await editor.locator("input[name=lat]").fill("41.7661")
    await editor.locator("input[name=lon]").fill("-72.6742")
    await editor.locator("button.save").click()
    await expect(page.locator(".toast", has_text="lobby-cam saved")).to_be_visible()
    cameras = await call(setup, "GET", "/api/cameras")
    added = next(c for c in cameras if c["name"] == "lobby-cam")
    assert (added["lat"], added["lon"]) == (41.7661, -72.6742)
    assert added["source"] == "api"

    await row.locator("button", has_text="Remove").click()
    await row.locator("button", has_text="Confirm remove").click()
    await expect(row).to_have_count(0)
    assert "lobby-cam" not in [c["name"] for c in await call(setup, "GET", "/api/cameras")]


@PLUGINS_REFUSED
async def test_storage_locks_plugins_and_audit(
    start_web: Callable[..., Any], browser: Browser, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The LPR plug-in refuses a setting: the page shows why, naming the key.
    monkeypatch.setenv("VMS_PLUGINS", "lpr,analytics")  # tests load only the plug-ins named
    setup = await start_web(cameras=2, extra='[plugins.lpr]\ncameras = "all of them"\n')
    cameras = sorted(await setup.server.server.cameras.visible(), key=lambda c: c.name)
    now = await call(setup, "GET", "/api/health")
    assert now["status"] == "ok"
    lock = await call(
        setup,
        "POST",
        "/api/bookmarks",
        {
            "cameras": [cameras[0].id],
            "start": "2026-11-30T10:00:00Z",
            "end": "2026-11-30T10:05:00Z",
            "reason": "robbery at the pharmacy",
            "lock": True,
        },
    )
    page = await new_page(browser)
    await login(page, setup, "/#/admin/storage")
    rows = page.locator(".admin-page table.data tbody tr[data-camera]")
    await expect(rows).to_have_count(2)
    mark = page.locator(f'.locks tr[data-bookmark="{lock[0]["id"]}"]')
    await expect(mark).to_contain_text("robbery at the pharmacy")
    await expect(mark).to_contain_text("never")  # a person's lock does not expire
    await screenshot(page, "admin-storage.png")
    await mark.locator("button", has_text="Unlock").click()
    await mark.locator("button", has_text="Confirm unlock").click()
    await expect(page.locator(".locks")).to_contain_text("No locked evidence")

    await page.click(".tabs >> text=Plug-ins")
    lpr = page.locator('tr[data-plugin="lpr"]')
    await expect(lpr).to_have_attribute("data-state", "refused")
    await expect(lpr.locator(".reason-cell").first).to_contain_text("cameras")
    await expect(page.locator('tr[data-plugin="analytics"]')).to_have_attribute(
        "data-state", "disabled"
    )
    await screenshot(page, "admin-plugins.png")

    await page.click(".tabs >> text=Audit")
    search = page.locator("form.audit-search")
    await search.locator("input[name=action]").fill("evidence.unlock")
    await search.locator("button[type=submit]").click()
    entries = page.locator(".audit-results tbody tr[data-action]")
    await expect(entries).to_have_count(1)
    await expect(entries.first).to_contain_text("admin")
    await screenshot(page, "admin-audit.png")


async def test_exports_are_listed_downloaded_and_deleted(
    recorded_site: RecordingSite, browser: Browser
) -> None:
    site = recorded_site
    assert site.server is not None
    segment = site.segments("cam-b")[10]
    token = site.token("export-admin", "admin")
    async with aiohttp.ClientSession(headers=bearer(token)) as http:
        async with http.post(
            site.url + "/api/exports",
            json={
                "cameras": [site.camera_ids["cam-b"]],
                "start": iso(segment.start_us),
                "end": iso(segment.start_us + 20_000_000),
                "reason": "case 2026-4471",
            },
        ) as r:
            job = await r.json()

        async def done() -> bool:
            async with http.get(f"{site.url}/api/exports/{job['id']}") as r:
                state = (await r.json())["state"]
            assert state != "failed"
            return state == "done"

        await eventually(done, 60, 0.5, what="the export built")  # a few seconds; hang guard
    page = await new_page(browser)
    await login_as(page, site.url, "export-admin", "password-export-admin", "/#/exports")
    row = page.locator(f'tr[data-export="{job["id"]}"]')
    await expect(row).to_have_attribute("data-state", "done")
    await expect(row).to_contain_text("case 2026-4471")
    await expect(page.locator(".fingerprint")).to_contain_text("signed with key")
    await screenshot(page, "exports.png")
    async with page.expect_download() as waiting:
        await row.locator("a.download").click()
    download = await waiting.value
    with zipfile.ZipFile(await download.path()) as package:
        assert any(name.endswith("/manifest.json") for name in package.namelist())
    await row.locator("button", has_text="Delete").click()
    await row.locator("button", has_text="Confirm delete").click()
    await expect(row).to_have_count(0)


SECRET = "plates-webhook-secret"


async def test_plate_reads_are_searched_and_hotlists_edited(
    make_server: Callable[..., Any], browser: Browser, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VMS_PLUGINS", "lpr")  # only the plate reader, fed by its webhook
    running = await make_server(
        '[[cameras]]\nname = "gate"\nrtsp_url = "rtsp://127.0.0.1:1/gate"\nenabled = false\n'
        f'[plugins.lpr]\nwebhook_secret = "{SECRET}"\ncameras = []\n'
    )
    gate = str((await running.server.cameras.visible())[0].id)
    async with aiohttp.ClientSession() as http:
        for plate in ("CT4K482", "NY77310"):
            raw = json.dumps({"plate": plate, "camera": gate, "confidence": 0.91}).encode()
            signature = hmac.new(SECRET.encode(), raw, hashlib.sha256).hexdigest()
            async with http.post(
                running.url + "/api/plugins/lpr/webhook",
                data=raw,
                headers={"X-Signature": f"sha256={signature}", "Content-Type": "application/json"},
            ) as r:
                assert r.status == 201, await r.text()
    page = await new_page(browser)
    await login_as(page, running.url, "admin", running.admin_password, "/#/lpr")
    reads = page.locator(".lpr-reads tbody tr[data-read]")
    await expect(reads).to_have_count(2)
    await page.locator("form.lpr-search input[name=plate]").fill("CT4K48")
    await page.locator("form.lpr-search button[type=submit]").click()
    await expect(reads).to_have_count(1)
    await expect(reads.first.locator(".plate")).to_contain_text("CT4K482")

    add = page.locator("form.hotlist-add")
    await add.locator("input[name=list]").fill("stolen")
    await add.locator("input[name=hot_plate]").fill("NY77310")
    await add.locator("input[name=reason]").fill("stolen 2026-11-28, Hartford PD")
    await add.locator("button[type=submit]").click()
    entry = page.locator('.lpr-hotlist tr[data-plate="NY77310"]')
    await expect(entry).to_contain_text("stolen 2026-11-28, Hartford PD")
    await screenshot(page, "plates.png")
    await entry.locator("button", has_text="Remove").click()
    await entry.locator("button", has_text="Confirm remove").click()
    await expect(entry).to_have_count(0)


async def test_an_admin_restarts_one_plugin_from_its_row(
    start_web: Callable[..., Any], browser: Browser, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VMS_PLUGINS", "notify_chat,analytics")  # tests load only these
    setup = await start_web(cameras=1)
    before = await call(setup, "GET", "/api/plugins/notify_chat")
    assert before["state"] == "running"
    page = await new_page(browser)
    await login(page, setup, "/#/admin/plugins")
    row = page.locator('tr[data-plugin="notify_chat"]')
    await expect(row).to_have_attribute("data-state", "running")
    # A disabled plug-in has nothing to restart.
    await expect(page.locator('tr[data-plugin="analytics"] button.restart')).to_have_count(0)
    await row.locator("button.restart").click()
    await expect(page.locator(".toast")).to_contain_text("notify_chat: running")
    after = await call(setup, "GET", "/api/plugins/notify_chat")
    assert after["state"] == "running"
    assert after["health"]["pid"] != before["health"]["pid"]  # a new runner
    audit = await call(setup, "GET", "/api/audit?action=plugin.restart")
    assert [(a["username"], a["target"]) for a in audit] == [("admin", "notify_chat")]
