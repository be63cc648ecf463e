"""vms-plugin-gunshot: gunshot alerts by webhook and from camera microphones.

See the README for the webhook payload, the settings and the detector's measured
behaviour. The entry point names :class:`~vms_plugin_gunshot.plugin.GunshotPlugin`.
"""

from __future__ import annotations

from vms_plugin_gunshot.plugin import AUDIO_RATE, VERSION, GunshotPlugin

__version__ = VERSION

__all__ = ["AUDIO_RATE", "GunshotPlugin", "__version__"]
