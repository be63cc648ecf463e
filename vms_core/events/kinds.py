"""What sort of fact an event is, and the name an operator reads for it.

Severity says how urgent an event is; its kind says what sort of thing it is, so the
console can group and hide the low-value stream (motion arrives by the hundred) without
hiding what matters:

- ``motion``: something moved (``motion.*``, from a camera's own ONVIF detector or from
  video analytics). Grouped per camera on the console and easy to hide.
- ``system``: the video system itself (``camera.*``: a camera went offline, came back).
- ``detection``: everything else: gunshots, plates, intrusions, integrations' events.

The kind is derived from the type when the event is stored, so plug-ins and
integrations need not know about it. The catalog migration 0003 classifies old rows with
the same prefixes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

EventKind = Literal["motion", "system", "detection"]
KINDS: tuple[EventKind, ...] = ("motion", "system", "detection")
_KIND_BY_DOMAIN: Mapping[str, EventKind] = {"motion": "motion", "camera": "system"}

# Who reported a motion event, in words (the event's ``source``).
MOTION_SOURCES: Mapping[str, str] = {"onvif": "camera", "analytics": "analytics"}
_LABELS: Mapping[str, str] = {
    "gunshot.detected": "Gunshot",
    "lpr.read": "Plate read",
    "lpr.hotlist_hit": "Hotlist hit",
    "analytics.intrusion": "Intrusion",
    "tamper.start": "Tampering",
    "tamper.end": "Tampering ended",
    "camera.lost": "Camera signal lost",
    "camera.error": "Camera error",
    "camera.offline": "Camera offline",
    "camera.online": "Camera online",
    "camera.streaming": "Camera streaming",
    "camera.recording": "Camera recording",
    "camera.unauthorized": "Camera refuses the login",
}


def kind_of(event_type: str) -> EventKind:
    return _KIND_BY_DOMAIN.get(event_type.split(".", 1)[0], "detection")


def label_of(event_type: str, source: str) -> str:
    """A short name for people: ``"Gunshot"``, ``"Motion (camera)"``,
    ``"Motion ended (analytics)"``. The two motion detectors a camera may have (its own,
    read over ONVIF, and the analytics plug-in's) are told apart by their source."""
    domain, _, what = event_type.partition(".")
    if domain == "motion":
        by = MOTION_SOURCES.get(source.split(":", 1)[0], source or "unknown source")
        return f"{'Motion ended' if what == 'end' else 'Motion'} ({by})"
    known = _LABELS.get(event_type)
    if known is not None:
        return known
    words = event_type.replace("_", " ").replace(".", " ").strip()
    return words[:1].upper() + words[1:] if words else "Event"
