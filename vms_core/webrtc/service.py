"""WHEP sessions: one aiortc peer connection per viewer, fed by a shared camera relay."""

from __future__ import annotations

import asyncio
import logging
import math
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from aiortc import (
    RTCConfiguration,
    RTCPeerConnection,
    RTCRtpTransceiver,
    RTCSessionDescription,
)

from vms_core.audit import AuditLog
from vms_core.live import FeedKey, LiveFeed, LiveSources, LiveStopped
from vms_core.webrtc.errors import WhepError
from vms_core.webrtc.h264 import parameter_sets, profile_level_id
from vms_core.webrtc.ice import set_loopback_policy
from vms_core.webrtc.negotiation import (
    StreamTraits,
    Unplayable,
    check_playable,
    choose_h264,
    forwarded_audio,
)
from vms_core.webrtc.offer import Offer, check_offer
from vms_core.webrtc.quota import LiveQuota, OverQuota
from vms_core.webrtc.relay import CameraRelay
from vms_core.webrtc.rtpsend import DirectRtpSender
from vms_core.webrtc.tracks import PassthroughTrack, install_packer
from vms_core.webrtc.whep import Answer, Viewer, WebRtcOptions

log = logging.getLogger(__name__)

# A session that just ended is remembered this long, so that the DELETE a browser sends as
# it closes its peer connection (which may end the session first) still answers 204.
ENDED_KEPT_SECONDS = 300.0
ENDED_KEPT_MAX = 4096
# Retry-After when the server-wide limit is reached and no session is about to time out.
TOTAL_RETRY_AFTER = 10


@dataclass(eq=False, slots=True)
class WhepSession:
    id: str
    camera_id: int
    stream: str
    viewer: Viewer
    pc: RTCPeerConnection
    relay: CameraRelay
    tracks: list[PassthroughTrack]
    started: float = field(default_factory=time.time)
    connected: bool = False

    @property
    def user_id(self) -> int:
        return self.viewer.user_id


@dataclass(frozen=True, slots=True)
class EndedSession:
    camera_id: int
    user_id: int
    ended: float  # time.monotonic()


class WebRtcService:
    def __init__(self, live: LiveSources, audit: AuditLog, options: WebRtcOptions) -> None:
        self.live = live
        self.audit = audit
        self.options = options
        self.quota = LiveQuota(options.max_sessions_per_user, options.max_sessions)
        self.sessions: dict[str, WhepSession] = {}
        self._ended: OrderedDict[str, EndedSession] = OrderedDict()
        # user id → (revocations so far, cameras the last one kept or None for all)
        self._revoked: dict[int, tuple[int, frozenset[int] | None]] = {}
        self._relays: dict[FeedKey, CameraRelay] = {}
        self._relay_lock = asyncio.Lock()
        self._closing = False
        set_loopback_policy(options.loopback)

    # -- sessions -----------------------------------------------------------------------

    async def open(self, camera_id: int, stream: str, offer_sdp: str, viewer: Viewer) -> Answer:
        """Answer ``offer_sdp`` with a session showing the camera's ``stream``.

        The offer is checked, and the viewer's slot taken, before the camera's feed is
        acquired: a refused offer or an account at its limit costs no camera connection.
        """
        if self._closing:
            raise WhepError(503, "the server is stopping")
        offer = check_offer(offer_sdp)
        self._take_slot(viewer)
        revocations = self._revoked.get(viewer.user_id)
        try:
            answer = await self._open(camera_id, stream, offer, viewer)
        except LiveStopped:
            # The server began stopping while this view was being set up.
            self.quota.give_back(viewer.user_id)
            raise WhepError(503, "the server is stopping") from None
        except BaseException:
            self.quota.give_back(viewer.user_id)
            raise
        if self._revoked_since(viewer.user_id, revocations, camera_id):
            await self.close(answer.session_id, "access revoked while connecting")
            raise WhepError(403, f"{viewer.username} lost access while the view was set up")
        return answer

    async def close(self, session_id: str, reason: str) -> bool:
        session = self.sessions.pop(session_id, None)
        if session is None:
            return False
        self._remember_ended(session)
        self.quota.give_back(session.user_id)
        self._detach(session)
        for track in session.tracks:
            track.stop()
        await session.pc.close()
        await self._maybe_drop_relay(session.relay)
        await self.audit.record(
            "live.end",
            username=session.viewer.username,
            target=f"camera:{session.camera_id}",
            remote=session.viewer.remote,
            detail={
                "session": session.id,
                "reason": reason,
                "seconds": round(time.time() - session.started, 1),
            },
        )
        return True

    def ended(self, session_id: str) -> EndedSession | None:
        """The session's owner and camera if it ended within the last few minutes."""
        cutoff = time.monotonic() - ENDED_KEPT_SECONDS
        while self._ended:
            oldest = next(iter(self._ended.values()))
            if oldest.ended >= cutoff:
                break
            self._ended.popitem(last=False)
        return self._ended.get(session_id)

    async def end_user_sessions(
        self, user_id: int, reason: str, keep_cameras: frozenset[int] | None = None
    ) -> int:
        """End ``user_id``'s live views (all of them, or those on cameras not in
        ``keep_cameras``): the account was deleted, disabled or lost cameras."""
        count = self._revoked.get(user_id, (0, None))[0]
        self._revoked[user_id] = (count + 1, keep_cameras)  # for negotiations in flight
        doomed = [
            s.id
            for s in self.sessions.values()
            if s.user_id == user_id and (keep_cameras is None or s.camera_id not in keep_cameras)
        ]
        for session_id in doomed:
            await self.close(session_id, reason)
        return len(doomed)

    async def stop(self) -> None:
        self._closing = True
        for session_id in list(self.sessions):
            await self.close(session_id, "server stopping")
        for relay in list(self._relays.values()):
            await self._drop_relay(relay)

    def viewers(self, camera_id: int) -> int:
        return sum(1 for s in self.sessions.values() if s.camera_id == camera_id)

    # -- internals ----------------------------------------------------------------------

    async def _open(self, camera_id: int, stream: str, offer: Offer, viewer: Viewer) -> Answer:
        session_id = secrets.token_urlsafe(16)
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        try:
            await _apply_offer(pc, offer)
            feed, note = await self._playable_feed(camera_id, stream)
            try:
                relay = await self._relay(feed)
            finally:
                feed.release()  # the relay holds its own reference
            session = WhepSession(session_id, camera_id, feed.key.stream, viewer, pc, relay, [])
            try:
                await self._answer(session, offer)
                await self.audit.record(
                    "live.start",
                    username=viewer.username,
                    target=f"camera:{camera_id}",
                    remote=viewer.remote,
                    detail={"session": session_id, "stream": feed.key.stream, "note": note},
                )
            except BaseException:
                self._detach(session)
                await self._maybe_drop_relay(relay)
                raise
        except BaseException:
            await pc.close()
            raise
        self.sessions[session_id] = session
        self._watch(session)
        assert pc.localDescription is not None
        return Answer(session_id, pc.localDescription.sdp, feed.key.stream, note)

    def _revoked_since(
        self, user_id: int, before: tuple[int, frozenset[int] | None] | None, camera_id: int
    ) -> bool:
        """Whether ``end_user_sessions`` took ``camera_id`` from the user since ``before``
        (a view negotiated meanwhile was not among the sessions it ended)."""
        now = self._revoked.get(user_id)
        if now is None or now == before:
            return False
        kept = now[1]
        return kept is None or camera_id not in kept

    def _take_slot(self, viewer: Viewer) -> None:
        try:
            self.quota.take(viewer.user_id)
        except OverQuota as over:
            if over.limit == "user":
                raise WhepError(
                    429,
                    f"{viewer.username} already has {over.allowed} live views open, the most "
                    f"one user may have ([webrtc] max_sessions_per_user); close one first",
                    "live_view_limit",
                    self._retry_after(viewer.user_id),
                ) from None
            raise WhepError(
                503,
                f"the server is showing as many live views as it may ({over.allowed}, "
                "[webrtc] max_sessions); try again later",
                "live_view_limit",
                self._retry_after(None) or TOTAL_RETRY_AFTER,
            ) from None

    def _retry_after(self, user_id: int | None) -> int | None:
        """Seconds until a slot is sure to free: when the first session still negotiating
        (of ``user_id``, or anyone's) reaches its connect deadline and is dropped."""
        deadline = self.options.connect_timeout
        waits = [
            s.started + deadline - time.time()
            for s in self.sessions.values()
            if not s.connected and (user_id is None or s.user_id == user_id)
        ]
        return max(1, math.ceil(min(waits))) if waits else None

    def _remember_ended(self, session: WhepSession) -> None:
        self._ended[session.id] = EndedSession(session.camera_id, session.user_id, time.monotonic())
        while len(self._ended) > ENDED_KEPT_MAX:
            self._ended.popitem(last=False)

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

    async def _answer(self, session: WhepSession, offer: Offer) -> None:
        """Put the relay's tracks on the transceivers the offer made, and answer."""
        pc, relay = session.pc, session.relay
        media = offer.description.media
        video = _transceiver(pc, media[offer.video].rtp.muxId)
        audio = _transceiver(pc, media[offer.audio].rtp.muxId) if offer.audio is not None else None
        audio_codecs = _audio_codecs(audio, relay.audio_codec)
        video_queue, audio_queue, backlog = relay.attach(bool(audio_codecs))
        tracks = session.tracks
        tracks.append(
            PassthroughTrack(
                "video", video_queue, len(backlog), backlog[-1].timestamp if backlog else 0
            )
        )
        _send(video, tracks[0])
        if audio is not None and audio_queue is not None:
            tracks.append(PassthroughTrack("audio", audio_queue))
            _send(audio, tracks[1])
            _set_codecs(audio, audio_codecs)
        profile = _traits(relay.feed).profile_level_id
        _set_codecs(video, choose_h264(media[offer.video], profile))
        await pc.setLocalDescription(await pc.createAnswer())

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


async def _apply_offer(pc: RTCPeerConnection, offer: Offer) -> None:
    try:
        await pc.setRemoteDescription(RTCSessionDescription(offer.sdp, "offer"))
    except Exception as exc:
        # The backstop behind check_offer: whatever aiortc still finds wrong with the
        # offer (it raises ValueError, OperationError and others) is the offer's fault.
        log.debug("offer refused by aiortc: %r", exc)
        raise WhepError(400, f"cannot use this offer: {exc}") from None


def _transceiver(pc: RTCPeerConnection, mid: str | None) -> RTCRtpTransceiver:
    return next(t for t in pc.getTransceivers() if t.mid == mid)


def _audio_codecs(transceiver: RTCRtpTransceiver | None, codec: str | None) -> list[Any]:
    """The offered format of the camera's G.711 codec, if the viewer takes it."""
    if transceiver is None or codec is None:
        return []
    mime = f"audio/{codec}".lower()
    return [c for c in transceiver._codecs if c.mimeType.lower() == mime][:1]


def _send(transceiver: RTCRtpTransceiver, track: PassthroughTrack) -> None:
    transceiver.direction = "sendonly"
    transceiver.sender.replaceTrack(track)
    _install_sender(transceiver.sender, track)


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
    """Answer with the browser's own format. aiortc only knows Baseline H.264 flavours
    locally, and ``setCodecPreferences`` can only narrow the list before the offer is
    applied, so the negotiated list is set directly (aiortc builds the answer and the
    sender from it)."""
    transceiver._codecs = codecs
