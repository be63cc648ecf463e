"""Events (tev, ver10): PullPoint subscriptions carrying motion events.

Motion follows the camera's scene: it is on while a vehicle or a person crosses the picture,
at the same wall-clock moments the RTSP stream shows them (loop position = time % loop).
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from vms_core.simulator.config import CameraConfig
from vms_core.simulator.context import CallContext, subscription_path
from vms_core.simulator.media import SceneConfig
from vms_core.simulator.ptz_service import parse_duration
from vms_core.simulator.soap import SoapFault, child_text, text

MOTION_TOPIC = "tns1:RuleEngine/CellMotionDetector/Motion"
CONCRETE_SET = "http://www.onvif.org/ver10/tev/topicExpression/ConcreteSet"
DEFAULT_SUBSCRIPTION_S = 60.0
MAX_SUBSCRIPTION_S = 3600.0
MAX_PULL_WAIT_S = 10.0
MAX_SUBSCRIPTIONS = 32
POLL_INTERVAL_S = 0.05


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class MotionTimeline:
    """Whether the scene shows motion at a wall-clock time."""

    def __init__(self, camera: CameraConfig) -> None:
        scene = SceneConfig.from_dict(camera.scene)
        self.loop_seconds = scene.loop_seconds
        self.spans = [
            (e.start_s, e.end_s) for e in scene.events() if e.kind in ("vehicle", "person")
        ]

    def motion_at(self, wall_time: float) -> bool:
        position = wall_time % self.loop_seconds
        return any(start <= position < end for start, end in self.spans)


@dataclass(slots=True)
class PullPoint:
    id: str
    terminates: float  # wall-clock seconds
    reported: bool | None = None  # last motion state sent; None before the first pull


class EventBroker:
    """The PullPoint subscriptions of one camera."""

    def __init__(self, camera: CameraConfig, clock: Callable[[], float] = time.time) -> None:
        self.timeline = MotionTimeline(camera)
        self.clock = clock
        self.answer_at_once = camera.pull_answers_at_once
        self.subscriptions: dict[str, PullPoint] = {}
        # How many PullMessages calls came, and when the last ones did (time.monotonic()):
        # a client's pace.
        self.pulls = 0
        self.pulled_at: deque[float] = deque(maxlen=1000)

    def subscribe(self, lifetime_s: float) -> PullPoint:
        if len(self.subscriptions) >= MAX_SUBSCRIPTIONS:
            oldest = min(self.subscriptions.values(), key=lambda p: p.terminates)
            del self.subscriptions[oldest.id]
        point = PullPoint(secrets.token_hex(8), self.clock() + lifetime_s)
        self.subscriptions[point.id] = point
        return point

    def find(self, subscription_id: str | None) -> PullPoint:
        point = self.subscriptions.get(subscription_id or "")
        if point is not None and point.terminates < self.clock():
            del self.subscriptions[point.id]
            point = None
        if point is None:
            raise SoapFault(
                400, "Sender", ("ter:InvalidArgVal", "ter:ResourceUnknown"), "No such subscription"
            )
        return point

    async def pull(self, point: PullPoint, wait_s: float) -> list[tuple[float, bool, str]]:
        """(time, motion, PropertyOperation) messages; waits up to wait_s for a change."""
        self.pulls += 1
        self.pulled_at.append(time.monotonic())
        if self.answer_at_once:
            wait_s = 0.0
        deadline = self.clock() + min(max(wait_s, 0.0), MAX_PULL_WAIT_S)
        while True:
            now = self.clock()
            motion = self.timeline.motion_at(now)
            if point.reported is None or motion != point.reported:
                operation = "Initialized" if point.reported is None else "Changed"
                point.reported = motion
                return [(now, motion, operation)]
            if now >= deadline:
                return []
            await asyncio.sleep(min(POLL_INTERVAL_S, deadline - now))


def _termination(ctx: CallContext, element: str, default_s: float) -> float:
    """Lifetime in seconds from a relative (PT60S) or absolute termination time."""
    value = child_text(ctx.operation, element)
    if value and not value.startswith("P"):
        try:
            absolute = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return default_s
        if absolute.tzinfo is None:
            absolute = absolute.replace(tzinfo=UTC)
        lifetime = (absolute - ctx.camera_now()).total_seconds()
    else:
        lifetime = parse_duration(value, default_s)
    return min(max(lifetime, 1.0), MAX_SUBSCRIPTION_S)


def _broker(ctx: CallContext) -> EventBroker:
    if ctx.events is None:
        raise SoapFault(500, "Receiver", ("ter:ActionNotSupported",), "Events not supported")
    return ctx.events


def _camera_time(ctx: CallContext, wall_time: float) -> datetime:
    skew = timedelta(seconds=ctx.camera.clock_skew_s)
    return datetime.fromtimestamp(wall_time, UTC) + skew


def get_service_capabilities(ctx: CallContext) -> str:
    return (
        "<tev:GetServiceCapabilitiesResponse><tev:Capabilities WSSubscriptionPolicySupport="
        '"false" WSPullPointSupport="true" WSPausableSubscriptionManagerInterfaceSupport="false"'
        ' MaxNotificationProducers="0" MaxPullPoints="32" PersistentNotificationStorage="false"/>'
        "</tev:GetServiceCapabilitiesResponse>"
    )


def get_event_properties(ctx: CallContext) -> str:
    return (
        "<tev:GetEventPropertiesResponse>"
        "<tev:TopicNamespaceLocation>http://www.onvif.org/onvif/ver10/topics/topicns.xml"
        "</tev:TopicNamespaceLocation><wsnt:FixedTopicSet>true</wsnt:FixedTopicSet>"
        '<wstop:TopicSet><tns1:RuleEngine wstop:topic="false"><CellMotionDetector '
        'wstop:topic="false"><Motion wstop:topic="true"><tt:MessageDescription '
        'IsProperty="true"><tt:Source>'
        '<tt:SimpleItemDescription Name="VideoSourceConfigurationToken" Type="tt:ReferenceToken"/>'
        '<tt:SimpleItemDescription Name="Rule" Type="xsd:string"/></tt:Source><tt:Data>'
        '<tt:SimpleItemDescription Name="IsMotion" Type="xsd:boolean"/></tt:Data>'
        "</tt:MessageDescription></Motion></CellMotionDetector></tns1:RuleEngine>"
        "</wstop:TopicSet>"
        f"<wsnt:TopicExpressionDialect>{CONCRETE_SET}</wsnt:TopicExpressionDialect>"
        "<wsnt:TopicExpressionDialect>http://docs.oasis-open.org/wsn/t-1/TopicExpression/"
        "ConcreteSet</wsnt:TopicExpressionDialect>"
        "<tev:MessageContentFilterDialect>http://www.onvif.org/ver10/tev/messageContentFilter/"
        "ItemFilter</tev:MessageContentFilterDialect>"
        "<tev:MessageContentSchemaLocation>http://www.onvif.org/onvif/ver10/schema/onvif.xsd"
        "</tev:MessageContentSchemaLocation></tev:GetEventPropertiesResponse>"
    )


def create_pull_point_subscription(ctx: CallContext) -> str:
    broker = _broker(ctx)
    lifetime = _termination(ctx, "InitialTerminationTime", DEFAULT_SUBSCRIPTION_S)
    point = broker.subscribe(lifetime)
    address = ctx.base_url + subscription_path(point.id)
    return (
        "<tev:CreatePullPointSubscriptionResponse><tev:SubscriptionReference>"
        f"<wsa5:Address>{text(address)}</wsa5:Address></tev:SubscriptionReference>"
        f"<wsnt:CurrentTime>{_iso(ctx.camera_now())}</wsnt:CurrentTime>"
        f"<wsnt:TerminationTime>{_iso(_camera_time(ctx, point.terminates))}"
        "</wsnt:TerminationTime></tev:CreatePullPointSubscriptionResponse>"
    )


def _motion_message(ctx: CallContext, at: float, motion: bool, operation: str) -> str:
    return (
        f'<wsnt:NotificationMessage><wsnt:Topic Dialect="{CONCRETE_SET}">{MOTION_TOPIC}'
        "</wsnt:Topic><wsnt:Message>"
        f'<tt:Message UtcTime="{_iso(_camera_time(ctx, at))}" PropertyOperation="{operation}">'
        '<tt:Source><tt:SimpleItem Name="VideoSourceConfigurationToken" Value="vscfg0"/>'
        '<tt:SimpleItem Name="Rule" Value="MotionDetectorRule"/></tt:Source>'
        f'<tt:Data><tt:SimpleItem Name="IsMotion" Value="{text(motion)}"/></tt:Data>'
        "</tt:Message></wsnt:Message></wsnt:NotificationMessage>"
    )


async def pull_messages(ctx: CallContext) -> str:
    broker = _broker(ctx)
    point = broker.find(ctx.subscription_id)
    wait_s = parse_duration(child_text(ctx.operation, "Timeout"), 1.0)
    messages = await broker.pull(point, wait_s)
    return (
        f"<tev:PullMessagesResponse><tev:CurrentTime>{_iso(ctx.camera_now())}</tev:CurrentTime>"
        f"<tev:TerminationTime>{_iso(_camera_time(ctx, point.terminates))}</tev:TerminationTime>"
        + "".join(_motion_message(ctx, *message) for message in messages)
        + "</tev:PullMessagesResponse>"
    )


def renew(ctx: CallContext) -> str:
    broker = _broker(ctx)
    point = broker.find(ctx.subscription_id)
    point.terminates = broker.clock() + _termination(ctx, "TerminationTime", DEFAULT_SUBSCRIPTION_S)
    return (
        "<wsnt:RenewResponse>"
        f"<wsnt:TerminationTime>{_iso(_camera_time(ctx, point.terminates))}</wsnt:TerminationTime>"
        f"<wsnt:CurrentTime>{_iso(ctx.camera_now())}</wsnt:CurrentTime></wsnt:RenewResponse>"
    )


def unsubscribe(ctx: CallContext) -> str:
    broker = _broker(ctx)
    point = broker.find(ctx.subscription_id)
    del broker.subscriptions[point.id]
    return "<wsnt:UnsubscribeResponse/>"


def set_synchronization_point(ctx: CallContext) -> str:
    broker = _broker(ctx)
    point = broker.find(ctx.subscription_id)
    point.reported = None  # the next pull repeats the current state
    return "<tev:SetSynchronizationPointResponse/>"


EVENT_HANDLERS: dict[str, Callable[[CallContext], str | Awaitable[str]]] = {
    "GetServiceCapabilities": get_service_capabilities,
    "GetEventProperties": get_event_properties,
    "CreatePullPointSubscription": create_pull_point_subscription,
    "PullMessages": pull_messages,
    "SetSynchronizationPoint": set_synchronization_point,
}
NOTIFICATION_HANDLERS: dict[str, Callable[[CallContext], str | Awaitable[str]]] = {
    "Renew": renew,
    "Unsubscribe": unsubscribe,
}
