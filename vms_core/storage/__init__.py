"""Storage: retention (what to delete, and deleting it) and the usage report shown by
``GET /api/storage`` and ``vms storage``."""

from vms_core.storage.plan import CameraLimits, Limits, Plan, SegmentRow, plan_deletions
from vms_core.storage.retention import RetentionRun, RetentionService

__all__ = [
    "CameraLimits",
    "Limits",
    "Plan",
    "RetentionRun",
    "RetentionService",
    "SegmentRow",
    "plan_deletions",
]
