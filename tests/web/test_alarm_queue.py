"""The alarm queue in Chromium: two operators work one queue (each sees the other's
changes at once), a tone sounds for a new alarm, each alarm shows its camera's picture;
and the timed operator task: acknowledge a gunshot from the queue while motion events
keep arriving (motion grouped per camera, labelled by detector, and hideable)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import Any

from playwright.async_api import Browser, expect
from vms_sdk import Event, Severity

from tests.eventually import eventually
from tests.web.conftest import login, new_page, screenshot
from tests.web.console_helpers import call, login_as


async def test_two_operators_share_the_alarm_queue_with_sound_and_pictures(
    start_web: Callable[..., Any], browser: Browser
) -> None:
    setup = await start_web(cameras=2)
    server = setup.server.server
    cameras = sorted(await server.cameras.visible(), key=lambda c: c.name)
    await call(
        setup,
        "POST",
        "/api/users",
        {"username": "ana", "password": "ana-password", "role": "operator", "cameras": "all"},
    )
    admin_page = await new_page(browser)
    await login(admin_page, setup, "/#/grid")
    ana_page = await new_page(browser)
    await login_as(ana_page, setup.url, "ana", "ana-password", "/#/alarms")
    queue = admin_page.locator(".rail .alarm-queue")
    await queue.locator(".sound-toggle").click()  # a user gesture: the page may sound
    await expect(queue.locator(".sound-toggle")).to_have_text("Sound on")

    shot = await call(
        setup,
        "POST",
        "/api/events",
        {"type": "gunshot.detected", "camera_ids": [cameras[0].id], "severity": "critical"},
    )
    alarm = queue.locator(f'.alarm[data-event="{shot["id"]}"]')
    await expect(alarm).to_have_attribute("data-state", "new")
    await expect(alarm.locator(".alarm-title")).to_have_text("Gunshot")
    await expect(alarm.locator(".alarm-where")).to_contain_text(cameras[0].name)
    await expect(queue).to_have_attribute("data-sounds", "1")
    await expect(admin_page.locator(".nav-badge")).to_have_text("1")
    # The picture of the camera at that moment (its ONVIF snapshot: nothing records here).
    # Hang guard: a snapshot takes about a second on a loaded machine.
    await expect(alarm.locator("img.alarm-thumb")).to_be_visible(timeout=30_000)
    picture = await alarm.locator("img.alarm-thumb").element_handle()
    await admin_page.wait_for_function("i => i.complete && i.naturalWidth > 0", arg=picture)

    # Ana acknowledges on her page; the admin's rail follows without a reload.
    ana_alarm = ana_page.locator(f'.alarms-page .alarm[data-event="{shot["id"]}"]')
    await ana_alarm.locator("button.ack").click()
    await expect(alarm).to_have_attribute("data-state", "acknowledged")
    await expect(alarm.locator(".alarm-state")).to_have_text("Acknowledged by ana")
    await expect(admin_page.locator(".nav-badge")).to_be_hidden()

    # The admin takes it over and writes what happened; Ana sees both.
    await alarm.locator("button.assign-me").click()
    await expect(ana_alarm.locator(".alarm-state")).to_have_text(
        "Acknowledged by ana · assigned to admin"
    )
    await admin_page.goto(setup.url + "/#/alarms")
    full = admin_page.locator(f'.alarms-page .alarm[data-event="{shot["id"]}"]')
    await full.locator(".note-text").fill("Two units sent; shell casings on Main St")
    await full.locator("button.add-note").click()
    await expect(ana_alarm.locator(".alarm-notes")).to_contain_text(
        "admin: Two units sent; shell casings on Main St"
    )
    await screenshot(admin_page, "alarms-page.png")

    # Closing takes it out of every queue; it stays findable among the closed ones.
    await full.locator(".note-text").fill("Scene cleared")
    await full.locator("button.close-alarm").click()
    await expect(ana_alarm).to_have_count(0)
    await expect(full).to_have_count(0)
    await ana_page.locator(".show-closed").check()
    closed = ana_page.locator(f'.alarm-list.closed .alarm[data-event="{shot["id"]}"]')
    await expect(closed.locator(".alarm-state")).to_have_text("Closed by admin")
    await expect(closed.locator(".alarm-notes li")).to_have_count(2)
    entries = await call(setup, "GET", "/api/audit?limit=100")
    actions = [(e["action"], e["username"]) for e in entries if e["action"].startswith("alarm.")]
    assert sorted(actions) == sorted(
        [
            ("alarm.acknowledge", "ana"),
            ("alarm.assign", "admin"),
            ("alarm.note", "admin"),
            ("alarm.close", "admin"),
        ]
    )


async def test_acknowledging_a_gunshot_while_motion_keeps_arriving(
    start_web: Callable[..., Any], browser: Browser
) -> None:
    """The timed operator task of issue #19 (goal: under 10 s of scripted time). Motion
    from both detectors floods the feed; the gunshot is acknowledged from the queue."""
    setup = await start_web(cameras=2)
    server = setup.server.server
    cameras = sorted(await server.cameras.visible(), key=lambda c: c.name)
    page = await new_page(browser)
    await login(page, setup, "/#/grid")
    stop = asyncio.Event()

    async def motion() -> None:
        n = 0
        while not stop.is_set():
            camera = str(cameras[n % 2].id)
            source = "onvif" if n % 3 else "analytics"
            await server.events.publish(Event("motion.start", camera_ids=(camera,), source=source))
            n += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.05)  # about 20 motion events a second

    await expect(page.locator(".tile .video-box[data-state=live]")).to_have_count(2, timeout=60_000)
    flood = asyncio.create_task(motion())
    try:
        groups = page.locator(".rail .motion-group")

        async def flooded() -> int:
            counts = await groups.evaluate_all("rows => rows.map(r => Number(r.dataset.count))")
            assert sum(counts) >= 40, f"motion rows so far: {counts}"
            return sum(counts)

        await eventually(flooded, 30, what="the motion flood in the rail")
        started = time.monotonic()
        shot = await server.events.publish(
            Event(
                "gunshot.detected",
                camera_ids=(str(cameras[1].id),),
                severity=Severity.HIGH,
                source="gunshot",
                data={"rounds": 2},
            )
        )
        alarm = page.locator(f'.rail .alarm-queue .alarm[data-event="{shot.id}"]')
        await alarm.locator("button.ack").click()
        await expect(alarm).to_have_attribute("data-state", "acknowledged")
        elapsed = time.monotonic() - started
        print(f"operator task: gunshot acknowledged from the queue in {elapsed:.1f} s")

        async def acknowledged() -> bool:
            page_ = await call(setup, "GET", "/api/alarms")
            return any(a["state"] == "acknowledged" for a in page_["alarms"])

        assert await eventually(acknowledged, 10, what="the server has the acknowledgement")
        # Hang guard only (the goal, under 10 s, is printed above): 5x the goal.
        assert elapsed < 50

        # Motion is one row per camera and detector, with its count, labelled by who saw it.
        labels = await groups.locator(".ev-type").all_inner_texts()
        assert any(text.startswith("Motion (camera) \N{MULTIPLICATION SIGN}") for text in labels), (
            labels
        )
        assert any(
            text.startswith("Motion (analytics) \N{MULTIPLICATION SIGN}") for text in labels
        ), labels
        assert await groups.count() <= 4  # 2 cameras x 2 detectors, however many events
        rail_gunshot = page.locator(f'.rail .events-feed .event[data-event="{shot.id}"]')
        await expect(rail_gunshot).to_be_visible()  # not pushed out by motion
        await screenshot(page, "alarm-queue-and-motion.png")
        await page.locator(".rail .hide-motion").check()
        await expect(groups).to_have_count(0)
        await expect(rail_gunshot).to_be_visible()
    finally:
        stop.set()
        await flood
