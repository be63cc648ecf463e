"""Media (trt, ver10) replies: two profiles, "main" and "sub", their stream and snapshot URIs."""

from __future__ import annotations

from vms_core.simulator.config import CameraConfig, VideoProfileConfig
from vms_core.simulator.context import PROFILE_TOKENS, CallContext, Handler, snapshot_path
from vms_core.simulator.ptz_service import ptz_configuration
from vms_core.simulator.soap import attr, child_text, invalid_arg, text

VIDEO_SOURCE = "vidsrc0"
AUDIO_SOURCE = "audsrc0"


def profile_video(camera: CameraConfig, profile: str) -> VideoProfileConfig:
    return camera.sub if profile == "sub" else camera.main


def requested_profile(ctx: CallContext) -> str:
    token = child_text(ctx.operation, "ProfileToken")
    if token not in PROFILE_TOKENS:
        raise invalid_arg("ter:NoProfile", f"No such profile: {token}")
    return token


def _video_source_configuration(camera: CameraConfig) -> str:
    return (
        '<tt:VideoSourceConfiguration token="vscfg0"><tt:Name>vscfg0</tt:Name>'
        f"<tt:UseCount>2</tt:UseCount><tt:SourceToken>{VIDEO_SOURCE}</tt:SourceToken>"
        f'<tt:Bounds x="0" y="0" width="{camera.main.width}" height="{camera.main.height}"/>'
        "</tt:VideoSourceConfiguration>"
    )


def video_encoder_configuration(token: str, video: VideoProfileConfig) -> str:
    codec_detail = (
        f"<tt:H264><tt:GovLength>{video.gop_frames}</tt:GovLength>"
        "<tt:H264Profile>Main</tt:H264Profile></tt:H264>"
        if video.codec == "H264"
        else ""
    )
    return (
        f"<tt:VideoEncoderConfiguration token={attr('venc_' + token)}>"
        f"<tt:Name>{text(token)} stream encoder</tt:Name><tt:UseCount>1</tt:UseCount>"
        f"<tt:Encoding>{video.codec}</tt:Encoding>"
        f"<tt:Resolution><tt:Width>{video.width}</tt:Width>"
        f"<tt:Height>{video.height}</tt:Height></tt:Resolution>"
        "<tt:Quality>5</tt:Quality>"
        f"<tt:RateControl><tt:FrameRateLimit>{round(video.fps)}</tt:FrameRateLimit>"
        "<tt:EncodingInterval>1</tt:EncodingInterval>"
        f"<tt:BitrateLimit>{video.bitrate_kbps}</tt:BitrateLimit></tt:RateControl>"
        f"{codec_detail}"
        "<tt:Multicast><tt:Address><tt:Type>IPv4</tt:Type>"
        "<tt:IPv4Address>0.0.0.0</tt:IPv4Address></tt:Address><tt:Port>0</tt:Port>"
        "<tt:TTL>1</tt:TTL><tt:AutoStart>false</tt:AutoStart></tt:Multicast>"
        "<tt:SessionTimeout>PT60S</tt:SessionTimeout>"
        "</tt:VideoEncoderConfiguration>"
    )


def _audio_source_configuration(camera: CameraConfig) -> str:
    if camera.audio == "none":
        return ""
    return (
        '<tt:AudioSourceConfiguration token="asrccfg0"><tt:Name>asrccfg0</tt:Name>'
        f"<tt:UseCount>2</tt:UseCount><tt:SourceToken>{AUDIO_SOURCE}</tt:SourceToken>"
        "</tt:AudioSourceConfiguration>"
    )


def _audio_encoder_configuration(camera: CameraConfig) -> str:
    if camera.audio == "none":
        return ""
    encoding, rate, bitrate = ("AAC", 16, 32) if camera.audio == "AAC" else ("G711", 8, 64)
    return (
        '<tt:AudioEncoderConfiguration token="aenc0"><tt:Name>aenc0</tt:Name>'
        f"<tt:UseCount>2</tt:UseCount><tt:Encoding>{encoding}</tt:Encoding>"
        f"<tt:Bitrate>{bitrate}</tt:Bitrate><tt:SampleRate>{rate}</tt:SampleRate>"
        "<tt:Multicast><tt:Address><tt:Type>IPv4</tt:Type>"
        "<tt:IPv4Address>0.0.0.0</tt:IPv4Address></tt:Address><tt:Port>0</tt:Port>"
        "<tt:TTL>1</tt:TTL><tt:AutoStart>false</tt:AutoStart></tt:Multicast>"
        "<tt:SessionTimeout>PT60S</tt:SessionTimeout></tt:AudioEncoderConfiguration>"
    )


def profile_body(camera: CameraConfig, token: str) -> str:
    """The inside of a Profile element (shared by GetProfiles and GetProfile)."""
    ptz = ptz_configuration() if camera.ptz else ""
    return (
        f"<tt:Name>{text(token)}</tt:Name>"
        # Element order is the schema's (tt:Profile is an xs:sequence).
        + _video_source_configuration(camera)
        + _audio_source_configuration(camera)
        + video_encoder_configuration(token, profile_video(camera, token))
        + _audio_encoder_configuration(camera)
        + ptz
    )


def get_profiles(ctx: CallContext) -> str:
    body = "".join(
        f'<trt:Profiles token="{token}" fixed="true">{profile_body(ctx.camera, token)}'
        "</trt:Profiles>"
        for token in PROFILE_TOKENS
    )
    return f"<trt:GetProfilesResponse>{body}</trt:GetProfilesResponse>"


def get_profile(ctx: CallContext) -> str:
    token = requested_profile(ctx)
    return (
        f'<trt:GetProfileResponse><trt:Profile token="{token}" fixed="true">'
        f"{profile_body(ctx.camera, token)}</trt:Profile></trt:GetProfileResponse>"
    )


def get_video_sources(ctx: CallContext) -> str:
    main = ctx.camera.main
    return (
        f'<trt:GetVideoSourcesResponse><trt:VideoSources token="{VIDEO_SOURCE}">'
        f"<tt:Framerate>{main.fps:g}</tt:Framerate>"
        f"<tt:Resolution><tt:Width>{main.width}</tt:Width><tt:Height>{main.height}</tt:Height>"
        "</tt:Resolution></trt:VideoSources></trt:GetVideoSourcesResponse>"
    )


def _media_uri(uri: str) -> str:
    return (
        f"<trt:MediaUri><tt:Uri>{text(uri)}</tt:Uri>"
        "<tt:InvalidAfterConnect>false</tt:InvalidAfterConnect>"
        "<tt:InvalidAfterReboot>false</tt:InvalidAfterReboot>"
        "<tt:Timeout>PT0S</tt:Timeout></trt:MediaUri>"
    )


def get_stream_uri(ctx: CallContext) -> str:
    token = requested_profile(ctx)
    return f"<trt:GetStreamUriResponse>{_media_uri(ctx.rtsp_url(token))}</trt:GetStreamUriResponse>"


def get_snapshot_uri(ctx: CallContext) -> str:
    token = requested_profile(ctx)
    uri = ctx.base_url + snapshot_path(token)
    return f"<trt:GetSnapshotUriResponse>{_media_uri(uri)}</trt:GetSnapshotUriResponse>"


def get_service_capabilities(ctx: CallContext) -> str:
    return (
        "<trt:GetServiceCapabilitiesResponse>"
        '<trt:Capabilities SnapshotUri="true" Rotation="false" VideoSourceMode="false" OSD="false">'
        '<trt:ProfileCapabilities MaximumNumberOfProfiles="2"/>'
        '<trt:StreamingCapabilities RTPMulticast="false" RTP_TCP="true" RTP_RTSP_TCP="true"/>'
        "</trt:Capabilities></trt:GetServiceCapabilitiesResponse>"
    )


HANDLERS: dict[str, Handler] = {
    "GetProfiles": get_profiles,
    "GetProfile": get_profile,
    "GetVideoSources": get_video_sources,
    "GetStreamUri": get_stream_uri,
    "GetSnapshotUri": get_snapshot_uri,
    "GetServiceCapabilities": get_service_capabilities,
}
