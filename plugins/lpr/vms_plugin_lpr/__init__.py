"""vms-plugin-lpr: licence-plate recognition for vms.

Reads plates from sampled camera frames (offline OCR on the CPU), accepts reads pushed
by ANPR cameras on a signed webhook, keeps them in its own SQLite database with a fuzzy
search, and publishes ``lpr.read`` and ``lpr.hotlist_hit`` events. The entry point names
:class:`~vms_plugin_lpr.service.LprPlugin`.
"""

from __future__ import annotations

from vms_plugin_lpr.service import VERSION, LprPlugin

__version__ = VERSION

__all__ = ["LprPlugin", "__version__"]
