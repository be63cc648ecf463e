"""Codec templates for a natively received stream.

A muxer copies an output stream's parameters from a *demuxed* stream, or from a stream
copied from one (``add_stream_from_template``). Building one with ``add_stream(codec)``
instead would allocate an encoder context (libx264's, or ~570 KB for FFmpeg's AAC
encoder) and ignore extradata set afterwards. So each template comes from demuxing a few
in-memory bytes in the matching raw format: the parameter sets and first keyframe
(H.264), one silent frame (AAC) or a few samples (G.711).
"""

from __future__ import annotations

import io
from typing import Any

import av

from vms_core.media.native.depacketize import START_CODE

_PROBE = {"probesize": "32", "analyzeduration": "0"}


class Template:
    """A demuxed stream and the container that keeps it alive."""

    __slots__ = ("container", "stream")

    def __init__(self, container: Any, stream: Any) -> None:
        self.container = container
        self.stream = stream


def h264_template(sps: bytes, pps: bytes, keyframe: bytes) -> Template:
    """Stream parameters (size, profile, Annex-B SPS/PPS extradata) as FFmpeg's RTSP
    demuxer would report them.

    Probing leaves decoder state behind (~750 KB for 1080p, per camera), so the parameters
    are copied to a stream of a never-written container and the probe is closed (~30 KB).
    """
    data = START_CODE + sps + START_CODE + pps + keyframe
    probe: Any = av.open(io.BytesIO(data), "r", format="h264", options=_PROBE)
    try:
        if not probe.streams.video:
            raise ConnectionError("the first keyframe does not parse as H.264")
        holder: Any = av.open(io.BytesIO(), "w", format="mov")
        return Template(holder, holder.add_stream_from_template(probe.streams.video[0]))
    finally:
        probe.close()


def aac_config_fields(config: bytes) -> tuple[int, int, int]:
    """(object type, sampling frequency index, channel configuration) of an
    AudioSpecificConfig."""
    if len(config) < 2:
        raise ValueError("AudioSpecificConfig shorter than 2 bytes")
    value = int.from_bytes(config[:2], "big")
    return value >> 11, (value >> 7) & 0x0F, (value >> 3) & 0x0F


_AAC_TEMPLATES: dict[bytes, Template] = {}


def aac_template(config: bytes, rate: int, channels: int) -> Template:
    """An AAC stream for the SDP's AudioSpecificConfig ``config``, shared per process.

    Its parameters come from decoding one silent frame that FFmpeg's encoder made (the
    encoder is freed at once); the writer puts ``config`` itself in each file."""
    cached = _AAC_TEMPLATES.get(config)
    if cached is not None:
        return cached
    layout = "mono" if channels == 1 else "stereo"
    data = io.BytesIO()
    with av.open(data, "w", format="adts") as output:
        stream: Any = output.add_stream("aac", rate=rate)
        stream.codec_context.layout = layout
        frame = av.AudioFrame(format="fltp", layout=layout, samples=1024)
        frame.sample_rate = rate
        for plane in frame.planes:
            plane.update(bytes(plane.buffer_size))
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            output.mux(packet)
    container: Any = av.open(io.BytesIO(data.getvalue()), "r", format="aac")
    if not container.streams.audio or not container.streams.audio[0].codec_context.sample_rate:
        raise ValueError(f"AAC at {rate} Hz, {channels} channels was not understood")
    template = Template(container, container.streams.audio[0])
    # Decoders built from the template (plug-in taps) read it; muxers get ``config`` from
    # StreamSession.audio_config (a template's extradata is not copied).
    template.stream.codec_context.extradata = config
    _AAC_TEMPLATES[config] = template
    return template


def g711_template(encoding: str, rate: int, channels: int) -> Template:
    """PCMU or PCMA samples."""
    fmt = "mulaw" if encoding == "PCMU" else "alaw"
    layout = "mono" if channels == 1 else "stereo"
    container: Any = av.open(
        io.BytesIO(b"\xff" * 160 * channels),
        "r",
        format=fmt,
        options={"sample_rate": str(rate), "ch_layout": layout},
    )
    return Template(container, container.streams.audio[0])
