"""The alarm queue: severe events that wait for a person (acknowledge, assign, note,
close), with a thumbnail of the event's camera at the event's time."""

from vms_core.alarms.service import Actor, AlarmError, AlarmService, alarm_json
from vms_core.alarms.thumbnails import CameraPictures

__all__ = ["Actor", "AlarmError", "AlarmService", "CameraPictures", "alarm_json"]
