"""vms.toml: typed settings and the loader that validates them."""

from vms_core.config.loader import ConfigError, load_config, parse_config
from vms_core.config.settings import CameraSettings, RuleSettings, Settings

__all__ = [
    "CameraSettings",
    "ConfigError",
    "RuleSettings",
    "Settings",
    "load_config",
    "parse_config",
]
