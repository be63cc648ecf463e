"""Camera configuration -> the media package's profiles and loop specs."""

from __future__ import annotations

from vms_core.simulator.config import CameraConfig, VideoProfileConfig
from vms_core.simulator.media import AudioProfile, LoopSpec, SceneConfig, VideoProfile


def video_profile(video: VideoProfileConfig) -> VideoProfile:
    return VideoProfile(
        width=video.width,
        height=video.height,
        fps=video.fps,
        bitrate=video.bitrate_kbps * 1000,
        gop_seconds=video.gop_seconds,
        codec=video.codec,
    )


def audio_profile(camera: CameraConfig) -> AudioProfile | None:
    if camera.audio == "none":
        return None
    if camera.audio == "PCMU":
        return AudioProfile("PCMU", 8000)
    return AudioProfile("AAC", 16000)


def loop_spec(camera: CameraConfig, profile: str) -> LoopSpec:
    video = camera.sub if profile == "sub" else camera.main
    return LoopSpec(
        scene=SceneConfig.from_dict(camera.scene),
        video=video_profile(video),
        audio=audio_profile(camera),
        title=camera.name if camera.show_name else None,
    )
