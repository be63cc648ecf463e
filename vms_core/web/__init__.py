"""The operator's web client: static files served from this package.

Plain HTML, CSS and ES modules, no build step. Files are read once when the app is built
(they are small), so no request touches the disk. Every answer carries a strict
Content-Security-Policy: scripts, styles and media come from this server only.
"""

from vms_core.web.static_files import CONTENT_SECURITY_POLICY, StaticFiles, add_web_routes

__all__ = ["CONTENT_SECURITY_POLICY", "StaticFiles", "add_web_routes"]
