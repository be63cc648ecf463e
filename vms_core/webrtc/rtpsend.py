"""A leaner RTP send loop for passthrough senders: header once per frame, no awaits per packet.

aiortc's ``RTCRtpSender._run_rtp`` builds an ``RtpPacket`` per packet, reads the clock
twice per packet (``datetime``-based NTP time), serialises header extensions and awaits
three coroutine layers (DTLS → ICE → UDP) before each ``sendto``. With one camera's
packets already split by the relay, that Python work per packet and per viewer was most
of our CPU beside the kernel's ``sendto`` (py-spy, 30 viewers). ``DirectRtpSender``
replaces that loop on one sender: it serialises one header per frame with aiortc's own
code, then per packet patches marker and sequence number, SRTP-protects and hands the
datagram to the nominated ICE pair's UDP transport directly. RTCP, NACK handling
(``_retransmit`` from our own history) and the sender statistics keep working.

It reaches into aiortc private attributes (1.16); ``install`` checks they exist and
leaves aiortc's loop in place otherwise.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from aiortc import RTCRtpSender, clock
from aiortc.mediastreams import MediaStreamError
from aiortc.rtcdtlstransport import State
from aiortc.rtcrtpsender import random_sequence_number
from aiortc.rtp import RTP_HISTORY_SIZE, RtpPacket, wrap_rtx
from aiortc.utils import random32, uint32_add

from vms_core.webrtc.relay import Relayed

log = logging.getLogger(__name__)

# A viewer whose socket buffer holds more than this is not keeping up: it skips to the
# next keyframe instead of growing the buffer (UDP sends never block the others).
SOCKET_BACKLOG_BYTES = 2_000_000

_PRIVATE = "_RTCRtpSender__"
_NEEDED = ("rtp_started", "rtp_exited", "rtp_header_extensions_map", "mid", "track")


class FrameSource(Protocol):
    async def next_frame(self) -> tuple[Relayed, int] | None: ...

    def stop(self) -> None: ...


class DirectRtpSender:
    def __init__(self, sender: RTCRtpSender, source: FrameSource) -> None:
        self.sender = sender
        self.source = source
        self.sent_packets = 0
        self.skipped_frames = 0
        self._history: dict[int, bytes] = {}
        self._rtx_sequence = random_sequence_number()

    def install(self) -> bool:
        """Take over the sender's RTP loop; False (nothing changed) if aiortc differs."""
        sender = self.sender
        if not all(hasattr(sender, _PRIVATE + name) for name in _NEEDED):
            log.warning("aiortc changed: its own RTP send loop is used")
            return False
        # RTCRtpSender.send() starts ``self._run_rtp(codec)``; an instance attribute wins.
        sender._run_rtp = self.run  # type: ignore[method-assign]
        sender._retransmit = self.retransmit  # type: ignore[method-assign]
        return True

    def _private(self, name: str) -> Any:
        return getattr(self.sender, _PRIVATE + name)

    async def run(self, codec: Any) -> None:
        sender = self.sender
        self._private("rtp_started").set()
        extensions = self._private("rtp_header_extensions_map")
        mid = self._private("mid")
        dtls = sender.transport
        sequence = random_sequence_number()
        origin = random32()
        payload_type = codec.payloadType
        skipping = False
        try:
            while True:
                prepared = await self.source.next_frame()
                if prepared is None:
                    break
                item, timestamp = prepared
                if not sender._enabled:
                    continue
                udp, address = _nominated(dtls)
                if skipping or udp.get_write_buffer_size() > SOCKET_BACKLOG_BYTES:
                    skipping = not item.keyframe
                    if skipping:
                        self.skipped_frames += 1
                        continue
                rtp_timestamp = uint32_add(origin, timestamp)
                header = _header(payload_type, rtp_timestamp, sender._ssrc, mid, extensions)
                protect = dtls._tx_srtp.protect
                history = self._history
                last = len(item.payloads) - 1
                octets = 0
                for index, payload in enumerate(item.payloads):
                    header[1] = payload_type | 0x80 if index == last else payload_type
                    header[2] = sequence >> 8
                    header[3] = sequence & 0xFF
                    data = bytes(header) + payload
                    history[sequence % RTP_HISTORY_SIZE] = data
                    udp.sendto(protect(data), address)
                    octets += len(payload)
                    sequence = (sequence + 1) & 0xFFFF
                self.sent_packets += len(item.payloads)
                # What aiortc's RTCP sender reports are built from.
                setattr(sender, _PRIVATE + "ntp_timestamp", clock.current_ntp_time())
                setattr(sender, _PRIVATE + "rtp_timestamp", rtp_timestamp)
                setattr(sender, _PRIVATE + "octet_count", self._private("octet_count") + octets)
                setattr(
                    sender,
                    _PRIVATE + "packet_count",
                    self._private("packet_count") + len(item.payloads),
                )
        except (ConnectionError, MediaStreamError):
            pass  # the peer or the track went away: the loop ends
        except Exception:
            log.exception("RTP send loop failed")
        finally:
            # Cancelled too (aiortc's stop() cancels, then waits for rtp_exited; like its
            # own loop, this one must set it or stop() hangs). The cancellation goes on.
            self.source.stop()
            setattr(sender, _PRIVATE + "track", None)
            self._private("rtp_exited").set()

    async def retransmit(self, sequence_number: int) -> None:
        """Answer a NACK from the history (as RTX when negotiated), as aiortc would."""
        data = self._history.get(sequence_number % RTP_HISTORY_SIZE)
        if data is None:
            return
        packet = RtpPacket.parse(data, self._private("rtp_header_extensions_map"))
        if packet.sequence_number != sequence_number:
            return
        rtx_type = self._private("rtx_payload_type")
        if rtx_type is not None:
            packet = wrap_rtx(
                packet,
                payload_type=rtx_type,
                sequence_number=self._rtx_sequence,
                ssrc=self.sender._rtx_ssrc,
            )
            self._rtx_sequence = (self._rtx_sequence + 1) & 0xFFFF
        await self.sender.transport._send_rtp(
            packet.serialize(self._private("rtp_header_extensions_map"))
        )


def _nominated(dtls: Any) -> tuple[Any, tuple[str, int]]:
    """The UDP transport and remote address ICE nominated (what aioice's send uses)."""
    if dtls._state != State.CONNECTED:
        raise ConnectionError("DTLS transport is not connected")
    pair = dtls.transport._connection._nominated.get(1)
    if pair is None:
        raise ConnectionError("no nominated ICE pair")
    return pair.protocol.transport, pair.remote_addr


def _header(payload_type: int, timestamp: int, ssrc: int, mid: Any, extensions: Any) -> bytearray:
    """One frame's RTP header (with abs-send-time and mid), serialised by aiortc."""
    packet = RtpPacket(payload_type=payload_type, sequence_number=0, timestamp=timestamp)
    packet.ssrc = ssrc
    packet.extensions.abs_send_time = (clock.current_ntp_time() >> 14) & 0x00FFFFFF
    packet.extensions.mid = mid
    return bytearray(packet.serialize(extensions))
