"""vms-plugin-analytics: motion and people analytics for vms.

Motion per camera (zones, masks, sensitivity) gives ``motion.start``/``motion.end``
events; OpenCV's HOG people detector with restricted-zone and line-crossing rules gives
``analytics.intrusion`` events. Runs on sub streams at a low rate by default; CPU per
camera is at ``GET /api/plugins/analytics/health``. The entry point names
:class:`~vms_plugin_analytics.service.AnalyticsPlugin`.
"""

from __future__ import annotations

from vms_plugin_analytics.service import VERSION, AnalyticsPlugin

__version__ = VERSION

__all__ = ["AnalyticsPlugin", "__version__"]
