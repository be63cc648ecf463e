"""Rules: `[[rules]]` in vms.toml map event patterns to actions.

Each matching rule's actions run in order; one failing action is logged and the next still
runs. Rules are read from the current settings on every event, so a reload applies at once.
"""

from __future__ import annotations

import fnmatch
import logging
from collections.abc import Awaitable, Callable, Sequence

from vms_sdk import Camera, Event, Notification, cameras_near

from vms_core.bookmarks import BookmarkError, BookmarkRequest, BookmarkService
from vms_core.config.settings import RuleAction, RuleSettings
from vms_core.events.bus import SEVERITY_RANK
from vms_core.timeutil import to_us

log = logging.getLogger(__name__)

CameraSource = Callable[[], Awaitable[Sequence[Camera]]]
Notifier = Callable[[Notification], Awaitable[None]]
PtzMover = Callable[[str, str], Awaitable[None]]


def rule_matches(rule: RuleSettings, event: Event) -> bool:
    return (
        fnmatch.fnmatchcase(event.type, rule.match)
        and SEVERITY_RANK[str(event.severity)] >= SEVERITY_RANK[rule.min_severity]
    )


class RuleEngine:
    def __init__(
        self,
        rules: Callable[[], Sequence[RuleSettings]],
        bookmarks: BookmarkService,
        cameras: CameraSource,
        notify: Notifier | None = None,
        ptz_goto: PtzMover | None = None,
    ) -> None:
        self._rules = rules
        self._bookmarks = bookmarks
        self._cameras = cameras
        self._notify = notify
        self._ptz_goto = ptz_goto

    async def on_event(self, event: Event) -> None:
        for rule in self._rules():
            if not rule_matches(rule, event):
                continue
            for action in rule.actions:
                try:
                    await self._run(rule, action, event)
                except Exception:
                    log.exception(
                        "rule %r action %s failed on %s %s",
                        rule.name,
                        action.type,
                        event.type,
                        event.id,
                    )

    async def _run(self, rule: RuleSettings, action: RuleAction, event: Event) -> None:
        if action.type == "bookmark":
            await self._bookmark(rule, action, event)
        elif action.type == "notify" and self._notify is not None:
            assert action.channel is not None
            await self._notify(
                Notification(
                    channel=action.channel,
                    title=f"{event.type} ({rule.name})",
                    text=_describe(event, {c.id: c.name for c in await self._cameras()}),
                    severity=event.severity,
                    event=event,
                    camera_ids=event.camera_ids,
                )
            )
        elif action.type == "ptz_preset" and self._ptz_goto is not None:
            assert action.camera is not None and action.preset is not None
            await self._ptz_goto(action.camera, action.preset)
        else:
            log.warning("rule %r: action %s has no provider in this server", rule.name, action.type)

    async def _bookmark(self, rule: RuleSettings, action: RuleAction, event: Event) -> None:
        if action.radius_m is not None:
            if event.lat is None or event.lon is None:
                log.warning("rule %r: event %s has no position for radius_m", rule.name, event.id)
                return
            near = cameras_near(await self._cameras(), event.lat, event.lon, action.radius_m)
            camera_ids = [int(n.camera.id) for n in near]
        else:
            camera_ids = [int(c) for c in event.camera_ids]
        if not camera_ids:
            return
        start = to_us(event.time) - round(action.before_seconds * 1_000_000)
        end = to_us(event.time) + round(action.after_seconds * 1_000_000)
        try:
            await self._bookmarks.create(
                BookmarkRequest(
                    camera_ids=camera_ids,
                    start_us=start,
                    end_us=end,
                    reason=f"rule {rule.name}: {event.type}",
                    lock=action.lock,
                    event_uid=event.id,
                    created_by=f"rule:{rule.name}",
                    automatic=True,
                )
            )
        except BookmarkError as exc:
            # The event's time puts the range out of bounds (e.g. a lock too far ahead).
            log.warning("rule %r: no bookmark for event %s: %s", rule.name, event.id, exc)


def _describe(event: Event, names: dict[str, str]) -> str:
    """One line a person on shift can act on: what, where, which cameras, and the event's
    own facts (plate, list, rounds...)."""
    where = (
        f" at {event.lat:.5f},{event.lon:.5f}"
        if event.lat is not None and event.lon is not None
        else ""
    )
    shown = [names.get(c, c) for c in event.camera_ids]
    cams = f" on {', '.join(shown)}" if shown else ""
    facts = [
        f"{key}: {value}"
        for key, value in event.data.items()
        if isinstance(value, str | int | float | bool) and len(str(value)) <= 80
    ][:8]
    details = f" — {'; '.join(facts)}" if facts else ""
    return f"{event.type}{where}{cams} ({event.severity}){details}"
