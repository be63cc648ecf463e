"""Events: the bus every fact goes through, and the rules that act on them."""

from vms_core.events.bus import EventBus, event_json
from vms_core.events.rules import RuleEngine

__all__ = ["EventBus", "RuleEngine", "event_json"]
