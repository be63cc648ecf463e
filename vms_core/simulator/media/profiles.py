"""Encoding profiles of a simulated camera stream."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

VideoCodec = Literal["H264", "H265"]
AudioCodec = Literal["AAC", "PCMU"]

# AAC sampling-frequency indices (ISO/IEC 14496-3, table 1.18).
AAC_SAMPLE_RATES = (
    96000,
    88200,
    64000,
    48000,
    44100,
    32000,
    24000,
    22050,
    16000,
    12000,
    11025,
    8000,
)
AAC_FRAME_SAMPLES = 1024
PCMU_PACKET_SAMPLES = 160  # 20 ms at 8 kHz


@dataclass(frozen=True, slots=True)
class VideoProfile:
    """Picture size, rate and encoder settings of one video stream."""

    width: int
    height: int
    fps: int
    bitrate: int  # bits per second
    gop_seconds: float = 1.0
    codec: VideoCodec = "H264"

    def __post_init__(self) -> None:
        if self.codec not in ("H264", "H265"):
            raise ValueError(f"video codec must be H264 or H265, not {self.codec!r}")
        if self.width < 64 or self.height < 64 or self.width % 2 or self.height % 2:
            raise ValueError("video width and height must be even and at least 64")
        if not 1 <= self.fps <= 60:
            raise ValueError("fps must be between 1 and 60")
        if self.bitrate < 10_000:
            raise ValueError("bitrate is in bits per second and must be at least 10000")
        if self.gop_frames < 1 or abs(self.gop_frames - self.fps * self.gop_seconds) > 1e-6:
            raise ValueError("gop_seconds * fps must be a whole number of frames")

    @property
    def gop_frames(self) -> int:
        return round(self.fps * self.gop_seconds)


@dataclass(frozen=True, slots=True)
class AudioProfile:
    """Codec and rate of one mono audio stream."""

    codec: AudioCodec = "AAC"
    sample_rate: int = 16000
    bitrate: int = 32000  # AAC only

    def __post_init__(self) -> None:
        if self.codec == "PCMU":
            if self.sample_rate != 8000:
                raise ValueError("PCMU is 8000 Hz")
        elif self.codec == "AAC":
            if self.sample_rate not in AAC_SAMPLE_RATES:
                raise ValueError(f"AAC sample rate must be one of {AAC_SAMPLE_RATES}")
        else:
            raise ValueError(f"audio codec must be AAC or PCMU, not {self.codec!r}")

    @property
    def frame_samples(self) -> int:
        """Samples per access unit: one AAC frame, or a 20 ms G.711 packet."""
        return AAC_FRAME_SAMPLES if self.codec == "AAC" else PCMU_PACKET_SAMPLES
