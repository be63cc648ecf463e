"""H.264 bitstream handling for passthrough: Annex-B framing and parameter sets.

Browsers need Annex-B access units with SPS/PPS in front of every keyframe (a viewer may
join on any keyframe, and a keyframe request cannot reach the camera). Cameras that send
parameter sets only out of band (SDP ``sprop-parameter-sets``, MP4 ``avcC``) get them
prepended from the stream's extradata. Nothing here decodes a picture.
"""

from __future__ import annotations

from dataclasses import dataclass

START_CODE = b"\x00\x00\x00\x01"
NAL_SPS = 7
NAL_PPS = 8
NAL_IDR = 5


def is_annexb(data: bytes) -> bool:
    return data.startswith(b"\x00\x00\x01") or data.startswith(START_CODE)


def annexb_units(data: bytes) -> list[bytes]:
    """NAL units (without start codes) of an Annex-B buffer."""
    units: list[bytes] = []
    at = data.find(b"\x00\x00\x01")
    while at >= 0:
        start = at + 3
        nxt = data.find(b"\x00\x00\x01", start)
        end = len(data) if nxt < 0 else nxt
        unit = data[start:end]
        if nxt >= 0 and unit.endswith(b"\x00"):
            unit = unit[:-1]  # the leading zero of a 4-byte start code
        if unit:
            units.append(unit)
        at = nxt
    return units


def length_prefixed_units(data: bytes, length_size: int = 4) -> list[bytes]:
    """NAL units of an AVCC (length-prefixed) buffer, as MP4 and some demuxers give."""
    units: list[bytes] = []
    at = 0
    while at + length_size <= len(data):
        size = int.from_bytes(data[at : at + length_size], "big")
        at += length_size
        units.append(data[at : at + size])
        at += size
    return units


@dataclass(frozen=True, slots=True)
class ParameterSets:
    sps: tuple[bytes, ...]
    pps: tuple[bytes, ...]
    # Length-prefix size of the packets when the extradata is avcC; None for Annex-B.
    length_size: int | None

    @property
    def annexb(self) -> bytes:
        return b"".join(START_CODE + unit for unit in (*self.sps, *self.pps))


def parameter_sets(extradata: bytes | None) -> ParameterSets:
    """SPS/PPS from the stream's extradata, avcC or Annex-B (empty when there is none)."""
    if not extradata:
        return ParameterSets((), (), None)
    if extradata[0] == 1 and len(extradata) >= 7:  # avcC (ISO/IEC 14496-15)
        length_size = (extradata[4] & 0x03) + 1
        sps, at = _avcc_list(extradata, 5, 0x1F)
        pps, _ = _avcc_list(extradata, at, 0xFF)
        return ParameterSets(tuple(sps), tuple(pps), length_size)
    units = annexb_units(extradata)
    return ParameterSets(
        tuple(u for u in units if u[0] & 0x1F == NAL_SPS),
        tuple(u for u in units if u[0] & 0x1F == NAL_PPS),
        None,
    )


def _avcc_list(data: bytes, at: int, count_mask: int) -> tuple[list[bytes], int]:
    if at >= len(data):
        return [], at
    count = data[at] & count_mask
    at += 1
    units = []
    for _ in range(count):
        size = int.from_bytes(data[at : at + 2], "big")
        units.append(data[at + 2 : at + 2 + size])
        at += 2 + size
    return units, at


def profile_level_id(sps: bytes) -> str | None:
    """The SDP ``profile-level-id`` (6 hex digits) an SPS NAL unit declares."""
    if len(sps) < 4 or sps[0] & 0x1F != NAL_SPS:
        return None
    return sps[1:4].hex()


class AnnexBFormatter:
    """Turns a camera's access units into what a browser can start on.

    Annex-B input passes through untouched unless a keyframe lacks SPS/PPS; AVCC input is
    reframed with start codes.
    """

    def __init__(self, params: ParameterSets) -> None:
        self.params = params
        self._prefix = params.annexb

    def format(self, data: bytes, keyframe: bool) -> bytes:
        if self.params.length_size is not None and not is_annexb(data):
            units = length_prefixed_units(data, self.params.length_size)
            data = b"".join(START_CODE + unit for unit in units)
        if not keyframe or not self._prefix:
            return data
        types = {unit[0] & 0x1F for unit in annexb_units(data) if unit}
        if NAL_SPS in types and NAL_PPS in types:
            return data
        return self._prefix + data
