"""ONVIF discovery and device client (issue: ONVIF discovery and camera management)."""
