"""The events page searches the catalog on the server (type, camera, severity, motion,
date range) a page at a time; an incident opens by id whatever its age."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from playwright.async_api import Browser, expect
from vms_sdk import Event, Severity

from tests.web.conftest import PageProblems, login, new_page, screenshot
from vms_core.db.models import Event as EventRow
from vms_core.db.models import EventCamera
from vms_core.timeutil import to_us

# Yesterday at noon UTC: far older than the 300 events the page used to keep in memory.
BASE = (datetime.now(UTC) - timedelta(days=1)).replace(hour=12, minute=0, second=0, microsecond=0)


async def test_the_events_page_searches_the_whole_catalog_page_by_page(
    start_web: Callable[..., Any], browser: Browser
) -> None:
    setup = await start_web(cameras=2)
    server = setup.server.server
    cameras = sorted(await server.cameras.visible(), key=lambda c: c.name)
    # 250 motion events on each camera over 25 minutes, a gunshot every 5 minutes on the
    # second camera, and an LPR read; written straight to the catalog (fast).
    async with server.db.session() as session:
        for i in range(500):
            row = EventRow(
                uid=f"m{i}",
                type="motion.start",
                kind="motion",
                time_us=to_us(BASE + timedelta(seconds=3 * i)),
                severity="info",
                source="onvif",
                camera_ids=[cameras[i % 2].id],
                data={},
            )
            session.add(row)
            await session.flush()
            session.add(EventCamera(event_id=row.id, camera_id=cameras[i % 2].id))
    for minute in range(0, 25, 5):
        await server.events.publish(
            Event(
                "gunshot.detected",
                time=BASE + timedelta(minutes=minute, seconds=1),
                camera_ids=(str(cameras[1].id),),
                severity=Severity.CRITICAL,
                source="gunshot",
                id=f"shot-{minute}",
            )
        )
    page = await new_page(browser)
    await login(page, setup, "/#/events")
    results = page.locator(".events-page .results .event")
    await expect(results).to_have_count(100)  # the first page
    await page.locator(".events-page button.more").click()
    await expect(results).to_have_count(200)  # the next page, older

    # Gunshots only.
    await page.fill(".event-search input[name=type]", "gunshot")
    await page.click(".event-search button[type=submit]")
    await expect(results).to_have_count(5)
    await expect(results.first.locator(".ev-type")).to_have_text("Gunshot")
    await expect(page.locator(".events-page button.more")).to_be_hidden()

    # No motion, at least medium, on the first camera: nothing (the shots were on the
    # second); on every camera: the shots.
    await page.fill(".event-search input[name=type]", "")
    await page.locator(".event-search input[name=motion]").uncheck()
    await page.select_option(".event-search select[name=camera]", str(cameras[0].id))
    await page.select_option(".event-search select[name=severity]", "medium")
    await page.click(".event-search button[type=submit]")
    await expect(page.locator(".events-page .results li.muted")).to_have_text("No matching events")
    await page.select_option(".event-search select[name=camera]", "")
    await page.select_option(".event-search select[name=severity]", "critical")
    await page.click(".event-search button[type=submit]")
    await expect(results).to_have_count(5)

    # A date range (the browser's local time): minutes 4 to 11 hold two of the shots.
    def local(moment: datetime) -> str:
        return moment.astimezone().strftime("%Y-%m-%dT%H:%M:%S")

    await page.fill(".event-search input[name=since]", local(BASE + timedelta(minutes=4)))
    await page.fill(".event-search input[name=until]", local(BASE + timedelta(minutes=11)))
    await page.click(".event-search button[type=submit]")
    await expect(results).to_have_count(2)
    ids = await results.evaluate_all("rows => rows.map(r => r.dataset.event)")
    assert ids == ["shot-10", "shot-5"]
    await page.locator(".event-search input[name=motion]").check()
    await page.select_option(".event-search select[name=severity]", "")
    await page.click(".event-search button[type=submit]")
    await expect(page.locator(".result-count")).to_have_text("100 events (more below)")
    await screenshot(page, "events-page.png")


async def test_an_old_incident_opens_by_id(
    start_web: Callable[..., Any], browser: Browser, page_problems: PageProblems
) -> None:
    """`#/incident/<id>` said "No event ..." once about 1,000 newer events existed."""
    # Nothing was recorded at the incident's time here: playing it back answers 404.
    page_problems.allow(
        r"^http 404 GET /api/cameras/\d+/playback\.mp4", "cameras without recordings"
    )
    setup = await start_web(cameras=2)
    server = setup.server.server
    cameras = sorted(await server.cameras.visible(), key=lambda c: c.name)
    old = await server.events.publish(
        Event(
            "gunshot.detected",
            time=BASE - timedelta(days=2),
            camera_ids=(str(cameras[0].id),),
            lat=41.7658,
            lon=-72.6734,
            severity=Severity.CRITICAL,
            source="gunshot",
            data={"rounds": 5},
        )
    )
    async with server.db.session() as session:
        session.add_all(
            EventRow(
                uid=f"newer-{i}",
                type="motion.start",
                kind="motion",
                time_us=to_us(BASE) + i * 1000,
                severity="info",
                source="onvif",
                camera_ids=[],
                data={},
            )
            for i in range(1200)
        )
    await server.alarms.drain()
    page = await new_page(browser)
    await login(page, setup, f"/#/incident/{old.id}")
    head = page.locator(".incident-page .page-head h2")
    await expect(head).to_have_text("Gunshot")
    await expect(page.locator(".incident-page .event-data")).to_contain_text('"rounds": 5')
    # Its alarm is there to work, from the incident itself.
    alarm = page.locator(".incident-alarm .alarm")
    await expect(alarm).to_have_attribute("data-state", "new")
    await alarm.locator("button.ack").click()
    await expect(alarm).to_have_attribute("data-state", "acknowledged")
    live = page.locator(".incident-camera .video-box[data-state=live]")
    await expect(live).to_have_count(2, timeout=60_000)  # hang guard: live in ~2 s
    await screenshot(page, "incident-with-alarm.png")
