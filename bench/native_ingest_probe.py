"""Probe: could a native (pure-Python asyncio) RTSP/TCP ingest meet issue #5's goal?

A measurement prototype, not product code. N simulated 1080p25 4 Mbit/s H.264 + AAC
cameras are served by the project's RTSP server (bench/record.py's ``Cameras``). One worker
process per core runs one asyncio event loop that, per camera, speaks RTSP itself
(OPTIONS/DESCRIBE/SETUP interleaved/PLAY, Basic/Digest auth, GET_PARAMETER keep-alive),
reads the socket in large chunks into a per-camera buffer, parses ``$`` frames, RTP,
RTCP sender reports, H.264 (RFC 6184: single NAL, STAP-A, FU-A) and AAC (RFC 3640 AU
headers), and muxes every access unit with PyAV into fragmented MP4 segments (60 s, cut
on a keyframe, fsync about once a second on a small thread pool). CPU and PSS are
measured exactly like bench/record.py, against ffmpeg (and the current RecorderPool) in
the same run.

Two read strategies are measured (``--poll-ms``): ``0`` reads on every readiness event
(``BufferedProtocol``, recv_into), ``100`` pauses asyncio's reader after PLAY and drains
every camera's socket from one timer every 100 ms (fewer, larger reads; adds <= 100 ms
of latency, which recording does not mind).

    .venv/bin/python bench/native_ingest_probe.py --cameras 64 --seconds 60
    .venv/bin/python bench/native_ingest_probe.py --cameras 4 --seconds 10 --sides native --auth

Debugging: NATIVE_PROBE_PROFILE=/tmp/prof (cProfile each worker), NATIVE_PROBE_NO_MUX=1
(ingest and depacketize only).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import ctypes
import ctypes.util
import hashlib
import io
import logging
import multiprocessing as mp
import os
import queue
import random
import secrets
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

import av

log = logging.getLogger("native_ingest_probe")

BUFFER_BYTES = 128 * 1024  # per-camera receive buffer; an interleaved frame is < 64 KiB
MIN_FREE = 64 * 1024 + 4  # compact the buffer when less than this is free after parsing
IO_TIMEOUT = 5.0
NTP_UNIX_OFFSET = 2_208_988_800
MP4_OPTIONS = {
    "movflags": "frag_keyframe+empty_moov+default_base_moof",
    "frag_duration": "1000000",
    "flush_packets": "1",
}
# Debugging: ingest and depacketize only, write nothing (isolates the muxing cost).
NO_MUX = bool(os.environ.get("NATIVE_PROBE_NO_MUX"))
_RTP = struct.Struct("!BBHII")
_U32 = struct.Struct("!I")
_U16 = struct.Struct("!H")
_SR = struct.Struct("!IIII")  # ssrc, NTP seconds, NTP fraction, RTP timestamp


# -- RTSP messages and auth --------------------------------------------------------------


@dataclass(slots=True)
class Response:
    status: int
    headers: dict[str, str]
    body: bytes = b""


def parse_response_head(head: bytes) -> Response:
    lines = head.decode("utf-8", "replace").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("RTSP/"):
        raise ConnectionError(f"bad RTSP status line {lines[0]!r}")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        key, sep, value = line.partition(":")
        if sep:
            name = key.strip().lower()
            # Several WWW-Authenticate lines: keep them all, one per line.
            headers[name] = (
                f"{headers[name]}\n{value.strip()}" if name in headers else value.strip()
            )
    return Response(int(parts[1]), headers)


def _auth_params(text: str) -> dict[str, str]:
    params: dict[str, str] = {}
    rest = text
    while rest:
        key, sep, rest = rest.partition("=")
        if not sep:
            break
        rest = rest.lstrip()
        if rest.startswith('"'):
            value, _, rest = rest[1:].partition('"')
        else:
            value, _, rest = rest.partition(",")
        params[key.strip(" ,").lower()] = value
        rest = rest.lstrip(" ,")
    return params


class Auth:
    """Answers a 401: Digest (MD5, with or without qop=auth) preferred, else Basic."""

    def __init__(self, username: str, password: str) -> None:
        self.username = username
        self.password = password
        self.scheme: str | None = None
        self.params: dict[str, str] = {}
        self.nc = 0

    def challenge(self, header: str) -> bool:
        offers = header.split("\n")
        for offer in offers:
            scheme, _, rest = offer.strip().partition(" ")
            if scheme.lower() == "digest":
                self.scheme, self.params = "digest", _auth_params(rest)
                return True
        for offer in offers:
            if offer.strip().lower().startswith("basic"):
                self.scheme = "basic"
                return True
        return False

    def header(self, method: str, uri: str) -> str | None:
        if self.scheme == "basic":
            token = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
            return f"Basic {token}"
        if self.scheme != "digest":
            return None
        realm, nonce = self.params.get("realm", ""), self.params.get("nonce", "")

        def md5(text: str) -> str:
            return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()

        ha1 = md5(f"{self.username}:{realm}:{self.password}")
        ha2 = md5(f"{method}:{uri}")
        fields = f'username="{self.username}", realm="{realm}", nonce="{nonce}", uri="{uri}"'
        if "auth" in [q.strip() for q in self.params.get("qop", "").split(",")]:
            self.nc += 1
            nc = f"{self.nc:08x}"
            cnonce = secrets.token_hex(8)
            response = md5(f"{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}")
            fields += f', qop=auth, nc={nc}, cnonce="{cnonce}"'
        else:
            response = md5(f"{ha1}:{nonce}:{ha2}")
        return f'Digest {fields}, response="{response}", algorithm=MD5'


# -- SDP -------------------------------------------------------------------------------


@dataclass(slots=True)
class MediaDesc:
    kind: str
    payload_type: int = -1
    encoding: str = ""
    clock_rate: int = 90000
    channels: int = 1
    fmtp: dict[str, str] = field(default_factory=dict)
    control: str = ""
    width: int = 0
    height: int = 0


def parse_sdp(text: str) -> list[MediaDesc]:
    medias: list[MediaDesc] = []
    for line in text.splitlines():
        if line.startswith("m="):
            fields = line[2:].split()
            medias.append(MediaDesc(fields[0], int(fields[3]) if len(fields) > 3 else -1))
        elif not medias or not line.startswith("a="):
            continue
        media = medias[-1]
        key, _, value = line[2:].partition(":")
        if key == "rtpmap":
            _pt, _, encoding = value.partition(" ")
            parts = encoding.split("/")
            media.encoding = parts[0].upper()
            media.clock_rate = int(parts[1]) if len(parts) > 1 else 90000
            media.channels = int(parts[2]) if len(parts) > 2 else 1
        elif key == "fmtp":
            _pt, _, params = value.partition(" ")
            for item in params.split(";"):
                name, sep, val = item.strip().partition("=")
                if sep:
                    media.fmtp[name.lower()] = val.strip()
        elif key == "control":
            media.control = value.strip()
        elif key == "x-dimensions":
            w, _, h = value.partition(",")
            media.width, media.height = int(w), int(h)
    return medias


class _Bits:
    """Exp-Golomb reader over an RBSP (emulation prevention removed)."""

    def __init__(self, data: bytes) -> None:
        self.value = int.from_bytes(data, "big")
        self.left = len(data) * 8

    def u(self, n: int) -> int:
        self.left -= n
        return (self.value >> self.left) & ((1 << n) - 1)

    def ue(self) -> int:
        zeros = 0
        while self.u(1) == 0:
            zeros += 1
        return (1 << zeros) - 1 + self.u(zeros)

    def se(self) -> int:
        k = self.ue()
        return (k + 1) // 2 if k & 1 else -(k // 2)


def parse_sps(sps: bytes) -> tuple[int, int, int, int, int]:
    """(width, height, chroma_format_idc, luma bit depth, chroma bit depth) of an SPS."""
    rbsp = sps[1:].replace(b"\x00\x00\x03", b"\x00\x00")
    bits = _Bits(rbsp)
    profile = bits.u(8)
    bits.u(16)
    bits.ue()
    chroma, depth_luma, depth_chroma = 1, 8, 8
    if profile in (100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135):
        chroma = bits.ue()
        if chroma == 3:
            bits.u(1)
        depth_luma, depth_chroma = bits.ue() + 8, bits.ue() + 8
        bits.u(1)
        if bits.u(1):  # seq_scaling_matrix_present_flag
            for index in range(8 if chroma != 3 else 12):
                if bits.u(1):
                    last = nxt = 8
                    for _ in range(16 if index < 6 else 64):
                        if nxt:
                            nxt = (last + bits.se() + 256) % 256
                        last = nxt or last
    bits.ue()  # log2_max_frame_num_minus4
    poc_type = bits.ue()
    if poc_type == 0:
        bits.ue()
    elif poc_type == 1:
        bits.u(1)
        bits.se()
        bits.se()
        for _ in range(bits.ue()):
            bits.se()
    bits.ue()  # max_num_ref_frames
    bits.u(1)
    width_mbs, height_units = bits.ue() + 1, bits.ue() + 1
    frame_mbs_only = bits.u(1)
    if not frame_mbs_only:
        bits.u(1)
    bits.u(1)
    width, height = width_mbs * 16, height_units * 16 * (2 - frame_mbs_only)
    if bits.u(1):  # frame_cropping_flag
        left, right, top, bottom = bits.ue(), bits.ue(), bits.ue(), bits.ue()
        crop_x = 2 if chroma in (1, 2) else 1
        crop_y = (2 if chroma == 1 else 1) * (2 - frame_mbs_only)
        width -= (left + right) * crop_x
        height -= (top + bottom) * crop_y
    return width, height, chroma, depth_luma, depth_chroma


def avcc(sps: bytes, pps: bytes) -> bytes:
    """AVCDecoderConfigurationRecord (ISO 14496-15) from one SPS and one PPS."""
    out = bytes([1, sps[1], sps[2], sps[3], 0xFF, 0xE1]) + _U16.pack(len(sps)) + sps
    out += b"\x01" + _U16.pack(len(pps)) + pps
    if sps[1] in (100, 110, 122, 144):
        _w, _h, chroma, luma, chroma_depth = parse_sps(sps)
        out += bytes([0xFC | chroma, 0xF8 | (luma - 8), 0xF8 | (chroma_depth - 8), 0])
    return out


# -- segments --------------------------------------------------------------------------


def _fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Segment:
    """One fragmented MP4 file being written."""

    def __init__(
        self,
        path: Path,
        video_template: Any,
        audio_template: Any,
        video_config: bytes,
        audio_config: bytes | None,
        start_wall: float,
    ) -> None:
        self.path = path
        self.start_wall = start_wall
        self.end_wall = start_wall
        self.last_sync = start_wall
        self.synced_size = 0
        self.fd = os.open(path, os.O_RDONLY | os.O_CREAT, 0o644)
        self.pending: Future[None] | None = None
        self.container: Any = av.open(str(path), "w", format="mp4", options=MP4_OPTIONS)
        self.video: Any = self.container.add_stream_from_template(video_template)
        self.video.codec_context.extradata = video_config
        self.audio: Any = None
        if audio_template is not None:
            self.audio = self.container.add_stream_from_template(audio_template)
            self.audio.codec_context.extradata = audio_config
        self.last_video_dts = -1
        self.last_audio_dts = -1
        self.audio_base: int | None = None


_AAC_TEMPLATES: dict[tuple[int, int], Any] = {}


def _aac_template(rate: int, channels: int) -> Any:
    """An AAC *decoder*-backed stream to copy output streams from, one per worker.

    ``add_stream("aac")`` allocates the native AAC encoder's context (~570 KB, zeroed) for
    the template and again for every segment's stream; a demuxed stream's context is the
    decoder's (~40 KB). So: encode one silent frame into a tiny in-memory MP4 once and
    demux it."""
    key = (rate, channels)
    if key not in _AAC_TEMPLATES:
        layout = "mono" if channels == 1 else "stereo"
        data = io.BytesIO()
        with av.open(data, "w", format="mp4") as output:
            stream: Any = output.add_stream("aac", rate=rate)
            stream.codec_context.layout = layout
            frame = av.AudioFrame(format="fltp", layout=layout, samples=1024)
            frame.sample_rate = rate
            for plane in frame.planes:
                plane.update(bytes(plane.buffer_size))
            for packet in [*stream.encode(frame), *stream.encode(None)]:
                output.mux(packet)
        container: Any = av.open(io.BytesIO(data.getvalue()), "r")
        _AAC_TEMPLATES[key] = (container, container.streams.audio[0])
    return _AAC_TEMPLATES[key][1]


class Writer:
    """Muxes one camera's access units into 60 s segments (cut on a keyframe)."""

    def __init__(
        self,
        camera: str,
        out: Path,
        video: MediaDesc,
        audio: MediaDesc | None,
        pool: ThreadPoolExecutor,
        segment_seconds: float,
    ) -> None:
        self.camera = camera
        self.folder = out / camera
        self.folder.mkdir(parents=True, exist_ok=True)
        self.pool = pool
        self.segment_seconds = segment_seconds
        self.phase = (zlib.crc32(camera.encode()) % 1000) / 1000 * segment_seconds
        sets = [base64.b64decode(s) for s in video.fmtp.get("sprop-parameter-sets", "").split(",")]
        sps = next(s for s in sets if s and s[0] & 0x1F == 7)
        pps = next(s for s in sets if s and s[0] & 0x1F == 8)
        width, height = video.width, video.height
        if not width or not height:
            width, height = parse_sps(sps)[:2]
        self.video_config = avcc(sps, pps)
        self.video_time_base = Fraction(1, video.clock_rate)
        # Template streams: add_stream() would open an encoder on every segment's header.
        self.holder: Any = av.open(io.BytesIO(), "w", format="mp4")
        self.video_template: Any = self.holder.add_stream("h264", width=width, height=height)
        self.video_template.time_base = self.video_time_base
        self.audio_template: Any = None
        self.audio_config: bytes | None = None
        self.audio_rate = 0
        if audio is not None and audio.encoding == "MPEG4-GENERIC" and "config" in audio.fmtp:
            self.audio_rate = audio.clock_rate
            self.audio_config = bytes.fromhex(audio.fmtp["config"])
            self.audio_template = _aac_template(audio.clock_rate, audio.channels)
        self.audio_time_base = Fraction(1, self.audio_rate or 1)
        self.segment: Segment | None = None
        self.cut_wall = 0.0
        self.video_base = 0
        self.base_wall = 0.0
        self.files: list[Path] = []
        self.units = 0
        self.errors = 0

    def _open(self, wall: float, ext_ts: int) -> Segment:
        first = self.segment is None
        self.close()
        utc = datetime.fromtimestamp(wall, UTC)
        name = utc.strftime("%Y%m%dT%H%M%S.") + f"{utc.microsecond // 1000:03d}Z.mp4"
        segment = Segment(
            self.folder / name,
            self.video_template,
            self.audio_template,
            self.video_config,
            self.audio_config,
            wall,
        )
        self.pool.submit(_fsync_path, self.folder)
        self.files.append(segment.path)
        self.segment = segment
        self.video_base = ext_ts
        self.base_wall = wall
        length = self.segment_seconds
        if first:  # first cut on this camera's staggered grid, like SegmentWriter
            cut = ((wall + length / 2 - self.phase) // length + 1) * length + self.phase
        else:
            cut = wall + length
        self.cut_wall = cut - 0.002
        return segment

    def video(self, data: bytearray, ext_ts: int, wall: float, keyframe: bool) -> None:
        if NO_MUX:
            return
        segment = self.segment
        if keyframe and (segment is None or wall >= self.cut_wall):
            segment = self._open(wall, ext_ts)
        if segment is None:
            return
        dts = ext_ts - self.video_base
        if dts <= segment.last_video_dts:  # no B-frames assumed: RTP time is the DTS
            dts = segment.last_video_dts + 1
        segment.last_video_dts = dts
        packet = av.Packet(data)  # type: ignore[arg-type]  # references the bytearray, no copy
        packet.stream = segment.video
        packet.time_base = self.video_time_base
        packet.dts = dts
        packet.pts = dts
        packet.is_keyframe = keyframe
        if not self._mux(segment, packet, "video"):
            return
        segment.end_wall = wall
        if (keyframe or wall - segment.last_sync >= 1.0) and (
            segment.pending is None or segment.pending.done()
        ):
            size = os.fstat(segment.fd).st_size
            if size != segment.synced_size:
                segment.synced_size = size
                segment.last_sync = wall
                segment.pending = self.pool.submit(os.fsync, segment.fd)

    def audio(self, data: bytes, ext_ts: int, wall: float) -> None:
        if NO_MUX:
            return
        segment = self.segment
        if segment is None or segment.audio is None:
            return
        if segment.audio_base is None:
            if wall < self.base_wall:
                return
            segment.audio_base = ext_ts - round((wall - self.base_wall) * self.audio_rate)
        dts = ext_ts - segment.audio_base
        if dts <= segment.last_audio_dts:
            return
        segment.last_audio_dts = dts
        packet = av.Packet(data)
        packet.stream = segment.audio
        packet.time_base = self.audio_time_base
        packet.dts = dts
        packet.pts = dts
        self._mux(segment, packet, "audio")

    def _mux(self, segment: Segment, packet: av.Packet[Any], kind: str) -> bool:
        try:
            segment.container.mux_one(packet)
        except (av.FFmpegError, ValueError) as exc:
            self.errors += 1
            log.warning("%s: %s mux failed: %s", self.camera, kind, exc)
            return False
        self.units += 1
        return True

    def close(self) -> None:
        segment, self.segment = self.segment, None
        if segment is None:
            return
        try:
            segment.container.close()
        except (av.FFmpegError, OSError) as exc:
            self.errors += 1
            log.warning("%s: close failed: %s", self.camera, exc)
        pending = segment.pending

        def finish() -> None:
            if pending is not None:
                pending.result()
            try:
                os.fsync(segment.fd)
            finally:
                os.close(segment.fd)

        self.pool.submit(finish)


# -- RTP depacketization ---------------------------------------------------------------


class Clock:
    """Extends 32-bit RTP timestamps and maps them to wall time via RTCP sender reports."""

    __slots__ = ("anchor_ext", "anchor_wall", "last", "last_ext", "rate")

    def __init__(self, rate: int) -> None:
        self.rate = rate
        self.last: int | None = None
        self.last_ext = 0
        self.anchor_ext: int | None = None
        self.anchor_wall = 0.0

    def extend(self, ts: int) -> int:
        if self.last is None:
            self.last, self.last_ext = ts, ts
            return ts
        delta = ((ts - self.last + 0x80000000) & 0xFFFFFFFF) - 0x80000000
        self.last = ts
        self.last_ext += delta
        return self.last_ext

    def sender_report(self, rtp_ts: int, wall: float) -> None:
        if self.last is None:
            self.extend(rtp_ts)
            self.anchor_ext = rtp_ts
        else:
            delta = ((rtp_ts - self.last + 0x80000000) & 0xFFFFFFFF) - 0x80000000
            self.anchor_ext = self.last_ext + delta
        self.anchor_wall = wall

    def wall(self, ext: int) -> float:
        if self.anchor_ext is None:  # no sender report yet: date from arrival
            self.anchor_ext, self.anchor_wall = ext, time.time()
        return self.anchor_wall + (ext - self.anchor_ext) / self.rate


class H264Depacketizer:
    """RFC 6184 (single NAL, STAP-A, FU-A) to length-prefixed (AVCC) access units."""

    __slots__ = (
        "au", "broken", "clock", "fu_start", "keyframe", "seq", "ts", "waiting", "writer",
    )  # fmt: skip

    def __init__(self, clock: Clock, writer: Writer) -> None:
        self.clock = clock
        self.writer = writer
        self.au = bytearray()
        self.ts: int | None = None
        self.seq = -1  # -1: none yet
        self.keyframe = False
        self.broken = False
        self.fu_start = -1
        self.waiting = False  # after a lost/broken unit: drop until the next keyframe

    def packet(self, mv: memoryview) -> None:
        length = len(mv)
        if length < 12:
            return
        b0, b1, seq, ts, _ssrc = _RTP.unpack_from(mv)
        offset = 12 + 4 * (b0 & 0x0F)
        if b0 & 0x10:
            offset += 4 + 4 * _U16.unpack_from(mv, offset + 2)[0]
        end = length - mv[length - 1] if b0 & 0x20 else length
        if self.seq >= 0 and seq != (self.seq + 1) & 0xFFFF:
            self.broken = True  # lost packets: drop this unit (TCP: only after a server skip)
        self.seq = seq
        if self.ts is not None and ts != self.ts and self.au:
            self.flush()
        self.ts = ts
        if offset >= end:
            return
        au = self.au
        nal_type = mv[offset] & 0x1F
        if nal_type <= 23:
            au += _U32.pack(end - offset)
            au += mv[offset:end]
            if nal_type == 5:
                self.keyframe = True
        elif nal_type == 28:  # FU-A
            fu = mv[offset + 1]
            if fu & 0x80:
                self.fu_start = len(au)
                au += b"\x00\x00\x00\x00"
                au.append((mv[offset] & 0xE0) | (fu & 0x1F))
                if fu & 0x1F == 5:
                    self.keyframe = True
            elif self.fu_start < 0:
                self.broken = True
                return
            au += mv[offset + 2 : end]
            if fu & 0x40:
                struct.pack_into("!I", au, self.fu_start, len(au) - self.fu_start - 4)
                self.fu_start = -1
        elif nal_type == 24:  # STAP-A
            pos = offset + 1
            while pos + 2 <= end:
                size = _U16.unpack_from(mv, pos)[0]
                pos += 2
                au += _U32.pack(size)
                au += mv[pos : pos + size]
                if mv[pos] & 0x1F == 5:
                    self.keyframe = True
                pos += size
        if b1 & 0x80:
            self.flush()

    def flush(self) -> None:
        au, ts = self.au, self.ts
        self.au = bytearray()
        keyframe, self.keyframe = self.keyframe, False
        broken, self.broken = self.broken or self.fu_start >= 0, False
        self.fu_start = -1
        if not au or ts is None:
            return
        if broken or (self.waiting and not keyframe):
            self.waiting = True
            return
        self.waiting = False
        ext = self.clock.extend(ts)
        self.writer.video(au, ext, self.clock.wall(ext), keyframe)


class AacDepacketizer:
    """RFC 3640 AAC-hbr: AU headers (sizelength/indexlength bits), one or more AUs."""

    __slots__ = ("clock", "index_bits", "partial", "size_bits", "writer")

    def __init__(self, clock: Clock, writer: Writer, fmtp: dict[str, str]) -> None:
        self.clock = clock
        self.writer = writer
        self.size_bits = int(fmtp.get("sizelength", "13"))
        self.index_bits = int(fmtp.get("indexlength", "3"))
        self.partial = bytearray()

    def packet(self, mv: memoryview) -> None:
        length = len(mv)
        if length < 14:
            return
        b0, b1, _seq, ts, _ssrc = _RTP.unpack_from(mv)
        offset = 12 + 4 * (b0 & 0x0F)
        if b0 & 0x10:
            offset += 4 + 4 * _U16.unpack_from(mv, offset + 2)[0]
        end = length - mv[length - 1] if b0 & 0x20 else length
        header_bits = _U16.unpack_from(mv, offset)[0]
        header_bytes = (header_bits + 7) // 8
        headers = int.from_bytes(mv[offset + 2 : offset + 2 + header_bytes], "big")
        pos = offset + 2 + header_bytes
        per = self.size_bits + self.index_bits
        count = header_bits // per
        ext = self.clock.extend(ts)
        for index in range(count):
            shift = header_bytes * 8 - (index + 1) * per
            size = (headers >> (shift + self.index_bits)) & ((1 << self.size_bits) - 1)
            if pos + size > end:  # fragmented AU (RFC 3640 3.2.3): gather until the marker
                self.partial += mv[pos:end]
                if b1 & 0x80 and self.partial:
                    data, self.partial = bytes(self.partial), bytearray()
                    self.writer.audio(data, ext, self.clock.wall(ext))
                return
            au_ext = ext + 1024 * index
            self.writer.audio(bytes(mv[pos : pos + size]), au_ext, self.clock.wall(au_ext))
            pos += size


# -- the RTSP client -------------------------------------------------------------------


class RtspClient(asyncio.BufferedProtocol):
    """One camera: RTSP over one TCP connection, interleaved RTP/RTCP."""

    def __init__(self, camera: str, url: str, out: Path, pool: ThreadPoolExecutor) -> None:
        self.camera = camera
        parts = urlsplit(url)
        self.auth = (
            Auth(unquote(parts.username or ""), unquote(parts.password or ""))
            if parts.username
            else None
        )
        netloc = parts.hostname or ""
        if parts.port:
            netloc += f":{parts.port}"
        self.url = urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))
        self.host, self.port = parts.hostname or "", parts.port or 554
        self.out = out
        self.pool = pool
        self.buffer = bytearray(BUFFER_BYTES)
        self.view = memoryview(self.buffer)
        self.start = 0
        self.end = 0
        self.transport: asyncio.Transport | None = None
        self.cseq = 0
        self.waiting: dict[int, asyncio.Future[Response]] = {}
        self.session: str | None = None
        self.session_timeout = 60.0
        self.handlers: dict[int, Any] = {}  # interleaved channel -> callable(memoryview)
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.last_data = time.monotonic()
        self.writer: Writer | None = None
        self.bytes = 0
        self.frames = 0
        self.keepalives: set[asyncio.Future[Response]] = set()
        self.keepalive = 0.0
        self.video: H264Depacketizer | None = None
        self.video_channel = -1
        self.next_keepalive = float("inf")
        self.sock: socket.socket | None = None

    # protocol callbacks

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        for future in self.waiting.values():
            if not future.done():
                future.set_exception(ConnectionError("connection lost"))
        if not self.closed.done():
            self.closed.set_result(None)

    def get_buffer(self, sizehint: int) -> memoryview:
        return self.view[self.end :]

    def buffer_updated(self, nbytes: int) -> None:
        self.end += nbytes
        self.bytes += nbytes
        self.last_data = time.monotonic()
        buf, view = self.buffer, self.view
        pos, end = self.start, self.end
        handlers = self.handlers
        video = self.video
        video_channel = self.video_channel
        frames = 0
        while pos < end:
            if buf[pos] == 0x24:
                if end - pos < 4:
                    break
                size = (buf[pos + 2] << 8) | buf[pos + 3]
                stop = pos + 4 + size
                if stop > end:
                    break
                frames += 1
                channel = buf[pos + 1]
                # Fast path, most packets: a middle FU-A fragment of the unit being built
                # (plain 12-byte RTP header, no marker, next sequence number): append it.
                if (
                    channel == video_channel
                    and video is not None
                    and video.fu_start >= 0
                    and buf[pos + 4] == 0x80
                    and buf[pos + 5] < 0x80
                    and size > 14
                    and buf[pos + 16] & 0x1F == 28
                    and not buf[pos + 17] & 0xC0
                    and (buf[pos + 6] << 8) | buf[pos + 7] == (video.seq + 1) & 0xFFFF
                ):
                    video.seq = (video.seq + 1) & 0xFFFF
                    video.au += view[pos + 18 : stop]
                    pos = stop
                    continue
                handler = handlers.get(channel)
                if handler is not None:
                    handler(view[pos + 4 : stop])
                pos = stop
            elif buf[pos] in (0x0D, 0x0A):
                pos += 1
            else:
                head_end = buf.find(b"\r\n\r\n", pos, end)
                if head_end < 0:
                    if end - pos > 16384:
                        raise ConnectionError("garbage on the RTSP connection")
                    break
                response = parse_response_head(bytes(buf[pos:head_end]))
                stop = head_end + 4 + int(response.headers.get("content-length", "0"))
                if stop > end:
                    break
                response.body = bytes(buf[head_end + 4 : stop])
                pos = stop
                future = self.waiting.pop(int(response.headers.get("cseq", "-1")), None)
                if future is not None and not future.done():
                    future.set_result(response)
        self.frames += frames
        if pos >= end:
            self.start = self.end = 0
        elif len(buf) - end < MIN_FREE:
            remaining = end - pos
            buf[:remaining] = buf[pos:end]
            self.start, self.end = 0, remaining
        else:
            self.start = pos

    def eof_received(self) -> bool:
        return False

    # polled reading

    def start_polling(self) -> None:
        """Stop asyncio's per-readiness reads; ``poll()`` drains the socket on a timer."""
        assert self.transport is not None
        self.transport.pause_reading()
        transport_socket = self.transport.get_extra_info("socket")
        self.sock = socket.socket(fileno=os.dup(transport_socket.fileno()))
        self.sock.setblocking(False)

    def poll(self) -> None:
        sock, transport = self.sock, self.transport
        if sock is None or transport is None or transport.is_closing():
            return
        while True:
            free = len(self.buffer) - self.end
            try:
                count = sock.recv_into(self.view[self.end :], free)
            except BlockingIOError:
                return
            except OSError as exc:
                log.warning("%s: %s", self.camera, exc)
                transport.abort()
                return
            if count == 0:
                transport.abort()
                return
            self.buffer_updated(count)
            if count < free:
                return  # drained (the next recv would say EAGAIN)

    # requests

    async def request(
        self, method: str, uri: str, headers: dict[str, str] | None = None
    ) -> Response:
        for _attempt in range(2):
            self.cseq += 1
            lines = [f"{method} {uri} RTSP/1.0", f"CSeq: {self.cseq}", "User-Agent: vms-probe"]
            if self.auth is not None:
                authorization = self.auth.header(method, uri)
                if authorization:
                    lines.append(f"Authorization: {authorization}")
            if self.session is not None:
                lines.append(f"Session: {self.session}")
            lines.extend(f"{k}: {v}" for k, v in (headers or {}).items())
            future: asyncio.Future[Response] = asyncio.get_running_loop().create_future()
            self.waiting[self.cseq] = future
            assert self.transport is not None
            self.transport.write(("\r\n".join(lines) + "\r\n\r\n").encode())
            response = await asyncio.wait_for(future, IO_TIMEOUT)
            challenge = response.headers.get("www-authenticate")
            if (
                response.status == 401
                and self.auth is not None
                and challenge
                and self.auth.challenge(challenge)
            ):
                continue
            return response
        return response

    def tick(self, now: float) -> None:
        """Called about once a second by the worker's watchdog."""
        if self.transport is None or self.transport.is_closing():
            return
        if now - self.last_data > IO_TIMEOUT:
            log.warning("%s: no data for %.0f s", self.camera, IO_TIMEOUT)
            self.transport.abort()
        elif now >= self.next_keepalive:
            self.next_keepalive = now + self.keepalive
            # Fire and forget: the answer is parsed among the RTP frames.
            task = asyncio.ensure_future(self.request("GET_PARAMETER", self.url, {}))
            self.keepalives.add(task)
            task.add_done_callback(_forget_keepalive(self.keepalives))

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        await loop.create_connection(lambda: self, self.host, self.port)
        try:
            await self.request("OPTIONS", self.url)
            described = await self.request("DESCRIBE", self.url, {"Accept": "application/sdp"})
            if described.status != 200:
                raise ConnectionError(f"DESCRIBE: {described.status}")
            base = described.headers.get("content-base") or self.url
            base = base if base.endswith("/") else base + "/"
            medias = parse_sdp(described.body.decode("utf-8", "replace"))
            video = next((m for m in medias if m.kind == "video" and m.encoding == "H264"), None)
            if video is None:
                raise ConnectionError("no H.264 video track")
            audio = next(
                (m for m in medias if m.kind == "audio" and m.encoding == "MPEG4-GENERIC"), None
            )
            self.writer = Writer(self.camera, self.out, video, audio, self.pool, SEGMENT_SECONDS)
            wanted = [video] if audio is None else [video, audio]
            for index, media in enumerate(wanted):
                control = media.control
                uri = control if "://" in control else base + control
                transport = f"RTP/AVP/TCP;unicast;interleaved={2 * index}-{2 * index + 1}"
                setup = await self.request("SETUP", uri, {"Transport": transport})
                if setup.status != 200:
                    raise ConnectionError(f"SETUP: {setup.status}")
                session, _, params = setup.headers.get("session", "").partition(";")
                self.session = session.strip()
                if "timeout=" in params:
                    self.session_timeout = float(params.split("timeout=")[1].split(";")[0])
                clock = Clock(media.clock_rate)
                depacketizer: H264Depacketizer | AacDepacketizer = (
                    H264Depacketizer(clock, self.writer)
                    if media is video
                    else AacDepacketizer(clock, self.writer, media.fmtp)
                )
                self.handlers[2 * index] = depacketizer.packet
                if isinstance(depacketizer, H264Depacketizer):
                    self.video, self.video_channel = depacketizer, 2 * index
                self.handlers[2 * index + 1] = _rtcp_handler(clock)
            played = await self.request("PLAY", self.url, {"Range": "npt=0.000-"})
            if played.status != 200:
                raise ConnectionError(f"PLAY: {played.status}")
            if POLL_SECONDS > 0:
                self.start_polling()
            READY.put(("streaming", self.camera))
            self.keepalive = max(5.0, self.session_timeout / 2)
            self.next_keepalive = time.monotonic() + self.keepalive
            await self.closed  # the worker's watchdog (tick) sends keep-alives, detects stalls
            raise ConnectionError("connection closed")
        finally:
            if self.sock is not None:
                self.sock.close()
            if self.transport is not None:
                self.transport.close()
            if self.writer is not None:
                self.writer.close()


def _forget_keepalive(keepalives: set[asyncio.Future[Response]]) -> Any:
    def done(task: asyncio.Future[Response]) -> None:
        keepalives.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("keep-alive failed: %s", task.exception())

    return done


def _rtcp_handler(clock: Clock) -> Any:
    def handle(mv: memoryview) -> None:
        pos, end = 0, len(mv)
        while pos + 4 <= end:
            kind = mv[pos + 1]
            size = (_U16.unpack_from(mv, pos + 2)[0] + 1) * 4
            if kind == 200 and pos + 24 <= end:
                _ssrc, seconds, fraction, rtp_ts = _SR.unpack_from(mv, pos + 4)
                clock.sender_report(rtp_ts, seconds - NTP_UNIX_OFFSET + fraction / 2**32)
            pos += size

    return handle


# -- worker process --------------------------------------------------------------------

SEGMENT_SECONDS = 60.0
POLL_SECONDS = 0.0  # > 0: read every camera's socket on this timer instead of per event
READY: Any = None


def _limit_malloc_arenas(count: int) -> None:
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt(-8, count)  # M_ARENA_MAX


async def _worker_async(cameras: dict[str, str], out: Path, events: Any) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="fsync")
    clients: dict[str, RtspClient] = {}
    errors: dict[str, str] = {}
    files: dict[str, list[str]] = {}
    totals = {"units": 0, "mux_errors": 0, "bytes": 0, "frames": 0}

    async def camera(camera_id: str, url: str) -> None:
        while not stop.is_set():
            client = RtspClient(camera_id, url, out, pool)
            clients[camera_id] = client
            try:
                await client.run()
            except (OSError, ConnectionError, TimeoutError) as exc:
                errors[camera_id] = f"{type(exc).__name__}: {exc}"
                log.warning("%s: %s; reconnecting", camera_id, exc)
            finally:
                totals["bytes"] += client.bytes
                totals["frames"] += client.frames
                if client.writer is not None:
                    files.setdefault(camera_id, []).extend(str(p) for p in client.writer.files)
                    totals["units"] += client.writer.units
                    totals["mux_errors"] += client.writer.errors
            await asyncio.sleep(0.5)

    async def watchdog() -> None:
        while True:
            await asyncio.sleep(1.0)
            now = time.monotonic()
            for client in list(clients.values()):
                client.tick(now)

    async def poller() -> None:
        while True:
            await asyncio.sleep(POLL_SECONDS)
            for client in list(clients.values()):
                client.poll()

    tasks = [asyncio.create_task(watchdog())]
    if POLL_SECONDS > 0:
        tasks.append(asyncio.create_task(poller()))
    for camera_id, url in cameras.items():
        tasks.append(asyncio.create_task(camera(camera_id, url)))
        await asyncio.sleep(0.02)
    await stop.wait()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    pool.shutdown(wait=True)
    return {**totals, "errors": errors, "files": files}


def worker_main(
    cameras: dict[str, str], out: Path, events: Any, segment_seconds: float, poll: float
) -> None:
    global READY, SEGMENT_SECONDS, POLL_SECONDS
    READY, SEGMENT_SECONDS, POLL_SECONDS = events, segment_seconds, poll
    _limit_malloc_arenas(2)
    logging.basicConfig(level=logging.WARNING)
    profile_to = os.environ.get("NATIVE_PROBE_PROFILE")  # debugging: cProfile a worker
    if profile_to:
        import cProfile

        profiler = cProfile.Profile()
        result = profiler.runcall(asyncio.run, _worker_async(cameras, out, events))
        profiler.dump_stats(f"{profile_to}.{os.getpid()}")
    else:
        result = asyncio.run(_worker_async(cameras, out, events))
    events.put(("done", result))


# -- parent: measurement ---------------------------------------------------------------


def run_native(
    urls: dict[str, str],
    seconds: float,
    warmup: float,
    out: Path,
    workers: int,
    segment_seconds: float = 60.0,
    poll: float = 0.0,
) -> tuple[Any, dict[str, Any]]:
    import record  # bench/record.py, imported only in the parent: workers stay lean

    context = mp.get_context("spawn")
    events: Any = context.Queue()
    names = list(urls)
    processes = []
    for number in range(workers):
        shard = {name: urls[name] for name in names[number::workers]}
        process = context.Process(
            target=worker_main,
            args=(shard, out, events, segment_seconds, poll),
            name=f"native-ingest-{number}",
            daemon=True,
        )
        process.start()
        processes.append(process)
    streaming: set[str] = set()
    started = time.monotonic()
    while time.monotonic() - started < warmup:
        with contextlib.suppress(queue.Empty):
            kind, value = events.get(timeout=0.2)
            if kind == "streaming":
                streaming.add(value)
    pids = [p.pid for p in processes if p.pid is not None]
    cpu0 = record.cpu_seconds(pids)
    split0 = _user_system(pids)
    time.sleep(seconds / 2)
    pss = record.pss_bytes(pids)
    rollup = _rollup(pids)
    time.sleep(seconds / 2)
    cpu = record.cpu_seconds(pids) - cpu0
    split = [b - a for a, b in zip(split0, _user_system(pids), strict=True)]
    print(
        f"native: user {split[0]:.1f} s, system {split[1]:.1f} s over {seconds:.0f} s; "
        f"smaps_rollup (all workers, MB) "
        + ", ".join(f"{k} {v / 1e6:.1f}" for k, v in rollup.items())
    )
    for process in processes:
        os.kill(process.pid, signal.SIGTERM)  # type: ignore[arg-type]
    results: list[dict[str, Any]] = []
    deadline = time.monotonic() + 60
    while len(results) < workers and time.monotonic() < deadline:
        with contextlib.suppress(queue.Empty):
            kind, value = events.get(timeout=0.5)
            if kind == "done":
                results.append(value)
            elif kind == "streaming":
                streaming.add(value)
    for process in processes:
        process.join(10)
    files: dict[str, list[str]] = {}
    errors: dict[str, str] = {}
    totals = {"units": 0, "mux_errors": 0, "bytes": 0, "frames": 0}
    for result in results:
        files.update(result["files"])
        errors.update(result["errors"])
        for key in totals:
            totals[key] += result[key]
    recorded = {
        camera: sum(record.media_seconds(Path(p)) for p in files.get(camera, [])) for camera in urls
    }
    print(
        f"native: {len(streaming)}/{len(urls)} cameras streamed, {totals['frames']} frames, "
        f"{totals['units']} units muxed, {totals['mux_errors']} mux errors, "
        f"{len(errors)} cameras with connection errors {dict(list(errors.items())[:3])}"
    )
    figures = record.Figures("native", cpu, pss, len(urls), seconds, recorded)
    return figures, files


def _user_system(pids: list[int]) -> list[float]:
    user = system = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        user, system = user + int(fields[11]), system + int(fields[12])
    ticks = os.sysconf("SC_CLK_TCK")
    return [user / ticks, system / ticks]


def _rollup(pids: list[int]) -> dict[str, int]:
    wanted = ("Rss", "Pss", "Pss_Anon", "Pss_File", "Private_Dirty", "Shared_Clean")
    totals = dict.fromkeys(wanted, 0)
    for pid in pids:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in totals:
                totals[key] += int(value.split()[0]) * 1024
    return totals


def check_files(paths: list[Path]) -> list[str]:
    """ffmpeg full decode (errors only) and ffprobe stream list of each file."""
    lines = []
    for path in paths:
        decode = subprocess.run(
            ["ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-f", "null", "-"],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        probe = subprocess.run(
            [
                "ffprobe", "-v", "error", "-of", "csv=p=0", "-show_entries",
                "stream=codec_name,width,height,sample_rate,duration,nb_frames", str(path),
            ],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        errors = decode.stderr.strip().splitlines()
        streams = " | ".join(probe.stdout.split())
        verdict = "clean" if decode.returncode == 0 and not errors else f"ERRORS {errors[:3]}"
        lines.append(f"  {path.parent.name}/{path.name}: {verdict}; {streams}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cameras", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--warmup", type=float, default=8.0)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--sides", default="ffmpeg,native,vms", help="comma-separated")
    parser.add_argument("--auth", action="store_true", help="cameras demand Digest/Basic")
    parser.add_argument("--segment-seconds", type=float, default=60.0, help="native side")
    parser.add_argument(
        "--poll-ms",
        default="0,100",
        help="native runs: comma-separated socket read timers in ms (0: read on every event)",
    )
    parser.add_argument("--check", type=int, default=3, help="files to decode per side")
    parser.add_argument(
        "--cache", type=Path, default=Path(tempfile.gettempdir()) / "vms-bench-cache"
    )
    args = parser.parse_args()
    sides = args.sides.split(",")
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("vms_core.simulator").setLevel(logging.ERROR)

    import record

    from vms_core.rtsp.auth import Credentials

    cameras = record.Cameras(record.camera_loop(args.cache), args.cameras)
    urls = dict(cameras.urls)
    if args.auth:
        for name, url in urls.items():
            cameras.server.streams[name].credentials = Credentials("bench", "s3cret")
            urls[name] = url.replace("rtsp://", "rtsp://bench:s3cret@")
    print(
        f"{args.cameras} cameras on {cameras.server.url('')}; {args.seconds:.0f}s each side; "
        f"auth={'digest/basic' if args.auth else 'none'}; {args.workers} workers"
    )
    expected = args.seconds
    results: dict[str, Any] = {}
    checks: list[str] = []
    work = Path(tempfile.mkdtemp(prefix="vms-native-probe-"))
    rng = random.Random(5)
    try:
        if "ffmpeg" in sides:
            results["ffmpeg"] = record.run_ffmpeg(urls, args.seconds, args.warmup, work / "ff")
            record.report(results["ffmpeg"], expected)
            every = sorted((work / "ff").glob("*/*.mp4"))
            sample = rng.sample(every, min(args.check, len(every)))
            checks += ["ffmpeg files:", *check_files(sample)]
        for poll_ms in [float(x) for x in args.poll_ms.split(",")] if "native" in sides else []:
            name = f"native-p{poll_ms:g}" if poll_ms > 0 else "native-ev"
            figures, files = run_native(
                urls,
                args.seconds,
                args.warmup,
                work / name,
                args.workers,
                args.segment_seconds,
                poll_ms / 1000,
            )
            figures.name = name
            results[name] = figures
            record.report(figures, expected)
            every = sorted(Path(p) for paths in files.values() for p in paths)
            sample = rng.sample(every, min(args.check, len(every)))
            checks += [f"{name} files:", *check_files(sample)]
        if "vms" in sides:
            results["vms"] = record.run_vms(
                urls, args.seconds, args.warmup, work / "vms", args.workers
            )
            record.report(results["vms"], expected)
            every = sorted((work / "vms").rglob("*.mp4"))
            checks += ["vms files:", *check_files(rng.sample(every, min(args.check, len(every))))]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("\n".join(checks))
    base = results.get("ffmpeg")
    header = ("side", "CPU s/cam-min", "PSS MB/cam", "CPU ratio", "PSS ratio", "min rec s")
    print(f"\n{header[0]:11s} " + " ".join(f"{h:>13s}" for h in header[1:]))
    for name, fig in results.items():
        cpu_ratio = fig.cpu_per_camera_minute / base.cpu_per_camera_minute if base else 0.0
        pss_ratio = fig.pss_per_camera / base.pss_per_camera if base else 0.0
        print(
            f"{name:11s} {fig.cpu_per_camera_minute:13.3f} {fig.pss_per_camera / 1e6:13.2f} "
            f"{cpu_ratio:12.2f}x {pss_ratio:12.2f}x {min(fig.recorded.values()):13.1f}"
        )
    print("goal: CPU <= 0.70x, PSS <= 0.30x of ffmpeg")
    sys.stdout.flush()
    os._exit(0)  # the RTSP server thread has no clean stop worth waiting for


if __name__ == "__main__":
    main()
