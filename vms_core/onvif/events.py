"""ONVIF events over a PullPoint subscription, read as typed notifications.

Each known topic has a small parser registered with ``@topic(...)``; a notification on an
unknown topic, or one a device filled in differently than the standard says, gives None
and is skipped, never an error.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from vms_core.onvif.client import OnvifBadReply, OnvifDevice
from vms_core.untrusted import bounded_text

log = logging.getLogger(__name__)

# Unsubscribing is a courtesy (the subscription expires on the camera anyway): a camera
# that does not answer it must not hold up removing it.
UNSUBSCRIBE_TIMEOUT_S = 2.0
MAX_TOPIC_CHARS = 200
MAX_TIME_CHARS = 64


@dataclass(frozen=True, slots=True)
class OnvifNotification:
    kind: str  # "motion" | "tamper"
    active: bool
    topic: str
    initial: bool  # PropertyOperation "Initialized": the state at subscription, not a change
    utc_time: str


Parser = Callable[[str, dict[str, str], bool, str], OnvifNotification | None]
_PARSERS: dict[str, Parser] = {}


def topic(*suffixes: str) -> Callable[[Parser], Parser]:
    """Register a parser for topics ending with any of ``suffixes`` (prefix-free)."""

    def register(parser: Parser) -> Parser:
        for suffix in suffixes:
            _PARSERS[suffix] = parser
        return parser

    return register


def _flag(value: str | None) -> bool | None:
    if value is None:
        return None
    lowered = value.strip().lower()
    if lowered in ("true", "1"):
        return True
    if lowered in ("false", "0"):
        return False
    return None


@topic("RuleEngine/CellMotionDetector/Motion", "VideoSource/MotionAlarm")
def _motion(name: str, data: dict[str, str], initial: bool, when: str) -> OnvifNotification | None:
    active = _flag(data.get("IsMotion", data.get("State")))
    return None if active is None else OnvifNotification("motion", active, name, initial, when)


@topic("VideoSource/GlobalSceneChange/ImagingService", "RuleEngine/TamperDetector/Tamper")
def _tamper(name: str, data: dict[str, str], initial: bool, when: str) -> OnvifNotification | None:
    active = _flag(data.get("State", data.get("IsTamper")))
    return None if active is None else OnvifNotification("tamper", active, name, initial, when)


def _simple_items(container: Any) -> dict[str, str]:
    items = getattr(container, "SimpleItem", None) or []
    found = {}
    for item in items:
        name, value = getattr(item, "Name", None), getattr(item, "Value", None)
        if name is not None and value is not None:
            found[str(name)] = str(value)
    return found


def parse_notification(message: Any) -> OnvifNotification | None:
    """A typed notification from one zeep NotificationMessage, or None."""
    try:
        topic_name = str(message.Topic._value_1).strip()
        body = message.Message._value_1
    except AttributeError:
        return None
    name = topic_name.split(":", 1)[-1]  # drop the "tns1:" prefix, whatever it is bound to
    parser = next((p for suffix, p in _PARSERS.items() if name.endswith(suffix)), None)
    if parser is None or body is None:
        return None
    data = _simple_items(getattr(body, "Data", None))
    initial = str(getattr(body, "PropertyOperation", "")) == "Initialized"
    # Both end up in the event's data: bounded like any text a device chose.
    name = bounded_text(name, MAX_TOPIC_CHARS)
    when = bounded_text(str(getattr(body, "UtcTime", "") or ""), MAX_TIME_CHARS)
    try:
        return parser(name, data, initial, when)
    except (AttributeError, TypeError, ValueError):
        return None


class PullPointReader:
    """One PullPoint subscription on a connected device."""

    def __init__(self, device: OnvifDevice, lifetime: dt.timedelta = dt.timedelta(minutes=5)):
        self.device = device
        self.lifetime = lifetime
        self._manager: Any = None
        self._service: Any = None

    async def start(self) -> None:
        self._manager = await self.device.call(
            "CreatePullPointSubscription",
            self.device.camera.create_pullpoint_manager(self.lifetime, lambda: None),
        )
        self._service = self._manager.get_service()

    async def pull(self, wait_s: int = 5, limit: int = 50) -> list[OnvifNotification]:
        """Notifications the device has, waiting up to ``wait_s`` for the first."""
        if self._service is None:
            raise RuntimeError("start() first")
        request = {"Timeout": f"PT{wait_s}S", "MessageLimit": limit}
        # The device may hold the call for wait_s: allow for it beyond the usual timeout.
        reply = await self.device.call(
            "PullMessages",
            self._service.PullMessages(request),
            timeout=self.device.timeout + wait_s,
        )
        if reply is None:
            raise OnvifBadReply("PullMessages: empty reply")
        found = []
        for message in getattr(reply, "NotificationMessage", None) or []:
            notification = parse_notification(message)
            if notification is not None:
                found.append(notification)
        return found

    async def close(self) -> None:
        """Unsubscribe, best effort and bounded in time."""
        manager, self._manager = self._manager, None
        if manager is None:
            return
        try:
            async with asyncio.timeout(UNSUBSCRIBE_TIMEOUT_S):
                await manager.shutdown()
        except Exception as err:  # whatever the camera answers: the subscription expires
            log.debug("PullPoint shutdown: %s", err)
