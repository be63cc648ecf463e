"""Geographic helpers: distances, bearings and "which cameras can see this spot".

Plug-ins (a gunshot detector placing an incident) and the host's rules use the same
ranking, so an operator sees the same cameras whichever path raised the alert.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from vms_sdk.types import Camera

EARTH_RADIUS_M = 6_371_008.8  # mean Earth radius (IUGG), metres

# Within this distance a camera counts as seeing the spot whatever way it points:
# the spot is practically under the camera.
_AT_CAMERA_M = 5.0
# Assumed horizontal field of view when a camera has a heading but no known FOV.
_DEFAULT_FOV_DEG = 90.0


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres between two WGS84 points given in degrees."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi = phi2 - phi1
    dlmb = math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlmb / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def bearing_deg(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Initial compass bearing in degrees [0, 360) from point 1 towards point 2."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dlmb = math.radians(lon2 - lon1)
    x = math.sin(dlmb) * math.cos(phi2)
    y = math.cos(phi1) * math.sin(phi2) - math.sin(phi1) * math.cos(phi2) * math.cos(dlmb)
    return math.degrees(math.atan2(x, y)) % 360.0


def angle_between_deg(a: float, b: float) -> float:
    """Smallest angle in degrees [0, 180] between two compass directions."""
    d = abs(a - b) % 360.0
    return 360.0 - d if d > 180.0 else d


@dataclass(frozen=True, slots=True)
class NearbyCamera:
    """A camera found by :func:`cameras_near`.

    :ivar camera: the camera.
    :ivar distance_m: metres from the camera to the spot.
    :ivar bearing_deg: compass bearing from the camera towards the spot.
    :ivar facing: ``True`` when the spot lies inside the camera's field of view,
        ``False`` when the camera points elsewhere, ``None`` when its heading is unknown.
    """

    camera: Camera
    distance_m: float
    bearing_deg: float
    facing: bool | None


def _facing(camera: Camera, distance_m: float, bearing: float) -> bool | None:
    if distance_m <= _AT_CAMERA_M:
        return True
    if camera.heading_deg is None:
        return None
    fov = camera.fov_deg if camera.fov_deg is not None else _DEFAULT_FOV_DEG
    return angle_between_deg(camera.heading_deg, bearing) <= fov / 2.0


def cameras_near(
    cameras: Iterable[Camera], lat: float, lon: float, radius_m: float
) -> list[NearbyCamera]:
    """Cameras within ``radius_m`` metres of ``(lat, lon)``, best first.

    Ranking: cameras whose field of view contains the spot come first, then cameras of
    unknown heading, then cameras facing away; within each group, nearer first. A camera
    facing away may still help (it can be turned, or hear), so it is listed, just lower.
    Cameras without a position are left out.
    """
    found: list[NearbyCamera] = []
    for camera in cameras:
        if camera.lat is None or camera.lon is None:
            continue
        distance = haversine_m(camera.lat, camera.lon, lat, lon)
        if distance > radius_m:
            continue
        bearing = bearing_deg(camera.lat, camera.lon, lat, lon)
        found.append(NearbyCamera(camera, distance, bearing, _facing(camera, distance, bearing)))
    group = {True: 0, None: 1, False: 2}
    found.sort(key=lambda n: (group[n.facing], n.distance_m, n.camera.id))
    return found
