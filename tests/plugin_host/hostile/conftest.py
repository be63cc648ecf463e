"""The hostile plug-in tests share the plug-in host's simulated cameras."""

from tests.plugin_host.conftest import cameras_sim

__all__ = ["cameras_sim"]
