"""The project's RTSP server: serves simulated cameras and restreams over RTSP/RTP."""

from vms_core.rtsp.auth import Credentials
from vms_core.rtsp.media import AccessUnit, TrackInfo
from vms_core.rtsp.server import RtspServer
from vms_core.rtsp.stream import RtspStream

__all__ = ["AccessUnit", "Credentials", "RtspServer", "RtspStream", "TrackInfo"]
