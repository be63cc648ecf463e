"""Cameras: the catalog's one way in for cameras, from vms.toml or from the API."""

from vms_core.cameras.service import (
    CameraChange,
    CameraService,
    CameraState,
    camera_json,
    sdk_camera,
)

__all__ = ["CameraChange", "CameraService", "CameraState", "camera_json", "sdk_camera"]
