"""WHEP sessions: one aiortc peer connection per viewer, fed by a shared camera relay."""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from aiortc import (
    RTCConfiguration,
    RTCPeerConnection,
    RTCRtpCodecCapability,
    RTCRtpTransceiver,
    RTCSessionDescription,
)
from aiortc.sdp import SessionDescription

from vms_core.audit import AuditLog
from vms_core.live import FeedKey, LiveFeed, LiveSources
from vms_core.webrtc.h264 import parameter_sets, profile_level_id
from vms_core.webrtc.ice import LoopbackPolicy, set_loopback_policy
from vms_core.webrtc.negotiation import (
    StreamTraits,
    Unplayable,
    check_playable,
    choose_h264,
    forwarded_audio,
)
from vms_core.webrtc.relay import CameraRelay
from vms_core.webrtc.rtpsend import DirectRtpSender
from vms_core.webrtc.tracks import PassthroughTrack, install_packer

log = logging.getLogger(__name__)


class WhepError(Exception):
    """A request the service refuses; ``status`` is the HTTP status to answer."""

    def __init__(self, status: int, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


@dataclass(frozen=True, slots=True)
class WebRtcOptions:
    loopback: LoopbackPolicy = "auto"
    connect_timeout: float = 30.0  # a peer that never connects is dropped after this
    ready_timeout: float = 8.0  # waiting for a camera that is not streaming yet


@dataclass(slots=True)
class Answer:
    session_id: str
    sdp: str
    stream: str  # the stream actually served
    note: str | None  # why it differs from the one asked for


@dataclass(eq=False, slots=True)
class WhepSession:
    id: str
    camera_id: int
    stream: str
    username: str
    remote: str
    pc: RTCPeerConnection
    relay: CameraRelay
    tracks: list[PassthroughTrack]
    started: float = field(default_factory=time.time)
    connected: bool = False


class WebRtcService:
    def __init__(self, live: LiveSources, audit: AuditLog, options: WebRtcOptions) -> None:
        self.live = live
        self.audit = audit
        self.options = options
        self.sessions: dict[str, WhepSession] = {}
        self._relays: dict[FeedKey, CameraRelay] = {}
        self._relay_lock = asyncio.Lock()
        self._closing = False
        set_loopback_policy(options.loopback)

    # -- sessions -----------------------------------------------------------------------

    async def open(
        self, camera_id: int, stream: str, offer_sdp: str, username: str, remote: str = ""
    ) -> Answer:
        if self._closing:
            raise WhepError(503, "the server is stopping")
        offer = _parse_offer(offer_sdp)
        feed, note = await self._playable_feed(camera_id, stream)
        try:
            relay = await self._relay(feed)
        finally:
            feed.release()  # the relay holds its own reference
        session_id = secrets.token_urlsafe(16)
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        try:
            session = await self._negotiate(session_id, pc, relay, offer, offer_sdp)
        except BaseException:
            await pc.close()
            await self._maybe_drop_relay(relay)
            raise
        session.camera_id, session.stream = camera_id, feed.key.stream
        session.username, session.remote = username, remote
        self.sessions[session_id] = session
        self._watch(session)
        await self.audit.record(
            "live.start",
            username=username,
            target=f"camera:{camera_id}",
            remote=remote,
            detail={"session": session_id, "stream": feed.key.stream, "note": note},
        )
        assert pc.localDescription is not None
        return Answer(session_id, pc.localDescription.sdp, feed.key.stream, note)

    async def close(self, session_id: str, reason: str) -> bool:
        session = self.sessions.pop(session_id, None)
        if session is None:
            return False
        self._detach(session)
        for track in session.tracks:
            track.stop()
        await session.pc.close()
        await self._maybe_drop_relay(session.relay)
        await self.audit.record(
            "live.end",
            username=session.username,
            target=f"camera:{session.camera_id}",
            remote=session.remote,
            detail={
                "session": session.id,
                "reason": reason,
                "seconds": round(time.time() - session.started, 1),
            },
        )
        return True

    async def stop(self) -> None:
        self._closing = True
        for session_id in list(self.sessions):
            await self.close(session_id, "server stopping")
        for relay in list(self._relays.values()):
            await self._drop_relay(relay)

    def viewers(self, camera_id: int) -> int:
        return sum(1 for s in self.sessions.values() if s.camera_id == camera_id)

    # -- internals ----------------------------------------------------------------------

    async def _playable_feed(self, camera_id: int, stream: str) -> tuple[LiveFeed, str | None]:
        """The feed to serve: the one asked for, else the sub stream when the main one
        cannot play in a browser (H.265, B-frames)."""
        feed = await self._ready_feed(camera_id, stream)
        try:
            check_playable(_traits(feed))
            return feed, None
        except Unplayable as problem:
            feed.release()
            if stream != "main":
                raise WhepError(422, str(problem), "unplayable_stream") from None
            reason = str(problem)
        try:
            sub = await self._ready_feed(camera_id, "sub")
        except WhepError:
            raise WhepError(422, reason, "unplayable_stream") from None
        if sub.key.stream != "sub":  # no sub stream: acquire fell back to main
            sub.release()
            raise WhepError(422, reason, "unplayable_stream")
        try:
            check_playable(_traits(sub))
        except Unplayable as problem:
            sub.release()
            raise WhepError(422, f"main: {reason}; sub: {problem}", "unplayable_stream") from None
        return sub, f"showing the sub stream: the main stream cannot play here ({reason})"

    async def _ready_feed(self, camera_id: int, stream: str) -> LiveFeed:
        try:
            feed = await self.live.acquire(camera_id, stream)
        except LookupError:
            raise WhepError(404, f"no camera {camera_id} (or no {stream} stream)") from None
        if not await feed.wait_ready(self.options.ready_timeout):
            feed.release()
            reason = feed.status.reason or feed.status.state
            raise WhepError(503, f"camera {camera_id} is not streaming ({reason})", "unavailable")
        return feed

    async def _relay(self, feed: LiveFeed) -> CameraRelay:
        async with self._relay_lock:
            relay = self._relays.get(feed.key)
            if relay is None or relay.feed is not feed:  # none yet, or the feed was reopened
                if relay is not None:
                    await self._drop_relay(relay)
                own = await self.live.acquire(feed.key.camera_id, feed.key.stream)
                info = own.info()
                relay = CameraRelay(own, forwarded_audio(info.audio_codec if info else None))
                relay.start()
                self._relays[feed.key] = relay
            return relay

    async def _maybe_drop_relay(self, relay: CameraRelay) -> None:
        if relay.viewer_count == 0:
            await self._drop_relay(relay)

    async def _drop_relay(self, relay: CameraRelay) -> None:
        if self._relays.get(relay.feed.key) is relay:
            del self._relays[relay.feed.key]
            await relay.stop()
            relay.feed.release()

    async def _negotiate(
        self,
        session_id: str,
        pc: RTCPeerConnection,
        relay: CameraRelay,
        offer: SessionDescription,
        offer_sdp: str,
    ) -> WhepSession:
        kinds = [m.kind for m in offer.media]
        if "video" not in kinds:
            raise WhepError(400, "the offer has no video")
        want_audio = "audio" in kinds and relay.audio_codec is not None
        video_queue, audio_queue, backlog = relay.attach(want_audio)
        tracks = [
            PassthroughTrack(
                "video", video_queue, len(backlog), backlog[-1].timestamp if backlog else 0
            )
        ]
        video = pc.addTransceiver(tracks[0], direction="sendonly")
        _install_sender(video.sender, tracks[0])
        if audio_queue is not None and relay.audio_codec is not None:
            tracks.append(PassthroughTrack("audio", audio_queue))
            audio = pc.addTransceiver(tracks[1], direction="sendonly")
            audio.setCodecPreferences(
                [RTCRtpCodecCapability(f"audio/{relay.audio_codec}", 8000, 1)]
            )
            _install_sender(audio.sender, tracks[1])
        session = WhepSession(session_id, 0, "", "", "", pc, relay, tracks)
        try:
            await pc.setRemoteDescription(RTCSessionDescription(offer_sdp, "offer"))
        except Exception as exc:
            self._detach(session)
            raise WhepError(400, f"cannot use this offer: {exc}") from None
        profile = _traits(relay.feed).profile_level_id
        codecs = choose_h264(offer_sdp, kinds.index("video"), profile)
        if not codecs:
            self._detach(session)
            raise WhepError(400, "the offer has no H.264 with packetization-mode 1")
        _set_codecs(video, codecs)
        answer = await pc.createAnswer()
        await pc.setLocalDescription(answer)
        return session

    def _detach(self, session: WhepSession) -> None:
        for track in session.tracks:
            if track.kind == "video":
                session.relay.detach(track.queue)
            track.queue.close()

    def _watch(self, session: WhepSession) -> None:
        @session.pc.on("connectionstatechange")
        async def on_state() -> None:
            state = session.pc.connectionState
            if state == "connected":
                session.connected = True
            elif state in ("failed", "closed") and session.id in self.sessions:
                await self.close(session.id, f"peer connection {state}")

        asyncio.get_running_loop().create_task(self._connect_deadline(session))

    async def _connect_deadline(self, session: WhepSession) -> None:
        await asyncio.sleep(self.options.connect_timeout)
        if not session.connected and session.id in self.sessions:
            await self.close(session.id, "never connected")


def _parse_offer(offer_sdp: str) -> SessionDescription:
    try:
        return SessionDescription.parse(offer_sdp)
    except Exception as exc:
        raise WhepError(400, f"not an SDP offer: {exc}") from None


def _traits(feed: LiveFeed) -> StreamTraits:
    info = feed.info()
    session = feed.session()
    template: Any = session.templates.get("video") if session else None
    context = template.codec_context if template is not None else None
    params = parameter_sets(feed.video_extradata())
    return StreamTraits(
        codec=info.video_codec if info else "unknown",
        has_b_frames=bool(context.has_b_frames) if context is not None else False,
        profile_level_id=profile_level_id(params.sps[0]) if params.sps else None,
        audio_codec=info.audio_codec if info else None,
    )


def _install_sender(sender: Any, track: PassthroughTrack) -> None:
    """Our lean RTP loop on ``sender``, else aiortc's with the relay's payloads. The
    packer goes in either way, so aiortc never creates an encoder of its own."""
    install_packer(sender, track.packer)
    DirectRtpSender(sender, track).install()


def _set_codecs(transceiver: RTCRtpTransceiver, codecs: list[Any]) -> None:
    """Answer with the browser's own H.264 format. aiortc only knows Baseline flavours
    locally, and ``setCodecPreferences`` can only narrow those, so the negotiated list is
    set directly (aiortc builds the answer and the sender from it)."""
    transceiver._codecs = codecs
