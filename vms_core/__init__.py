"""vms: an open-platform video management server."""

__version__ = "0.1.0"
