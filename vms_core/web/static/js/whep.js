// WHEP client: one RTCPeerConnection receiving a camera stream the server forwards as sent.

import { errorOf } from "./api.js";

function h264First(transceiver) {
  const caps = RTCRtpReceiver.getCapabilities ? RTCRtpReceiver.getCapabilities("video") : null;
  if (!caps || !transceiver.setCodecPreferences) return;
  const h264 = caps.codecs.filter((c) => c.mimeType.toLowerCase() === "video/h264");
  if (!h264.length) throw new Error("this browser cannot play H.264 over WebRTC");
  // packetization-mode=1 first: the server sends FU-A fragments.
  h264.sort((a, b) => {
    const mode = (c) => ((c.sdpFmtpLine || "").includes("packetization-mode=1") ? 0 : 1);
    return mode(a) - mode(b);
  });
  // Without this Chromium negotiates VP8 and the server cannot send it.
  transceiver.setCodecPreferences(h264);
}

function gathered(pc, timeoutMs) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      pc.removeEventListener("icegatheringstatechange", check);
      clearTimeout(timer);
      resolve();
    };
    const check = () => pc.iceGatheringState === "complete" && done();
    const timer = setTimeout(done, timeoutMs);
    pc.addEventListener("icegatheringstatechange", check);
  });
}

/**
 * Open a WHEP session. Resolves once the answer is applied; `onTrack` sees the media.
 * Returns {pc, close()}. Throws ApiError with the server's message when it refuses.
 */
export async function openWhep(cameraId, stream, { onTrack, signal } = {}) {
  const pc = new RTCPeerConnection({ iceServers: [] }); // never a public STUN server
  let location = null;
  let closed = false;
  const close = () => {
    if (closed) return; // once: a second call must not cut the DELETE short
    closed = true;
    const url = location;
    if (!url) {
      pc.close();
      return;
    }
    // The DELETE ends the session; the connection closes once it is answered. Closing it
    // first would end the session on the server too (DTLS close) and race the DELETE
    // into a 404. The tile goes blank at once either way (its video is detached).
    const closing = setTimeout(() => pc.close(), 3000);
    fetch(url, { method: "DELETE", credentials: "same-origin", keepalive: true })
      .catch(() => {})
      .finally(() => {
        clearTimeout(closing);
        pc.close();
      });
  };
  try {
    const video = pc.addTransceiver("video", { direction: "recvonly" });
    pc.addTransceiver("audio", { direction: "recvonly" });
    h264First(video);
    pc.addEventListener("track", (ev) => onTrack && onTrack(ev));
    performance.mark(`whep-start-${cameraId}`);
    await pc.setLocalDescription(await pc.createOffer());
    await gathered(pc, 1500);
    performance.mark(`whep-gathered-${cameraId}`);
    const url = `/api/cameras/${cameraId}/whep?stream=${encodeURIComponent(stream)}`;
    const response = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/sdp" },
      body: pc.localDescription.sdp,
      credentials: "same-origin",
      signal,
    });
    performance.mark(`whep-answered-${cameraId}`);
    if (!response.ok) throw await errorOf(response);
    location = response.headers.get("Location");
    if (location) location = new URL(location, window.location.href).pathname;
    await pc.setRemoteDescription({ type: "answer", sdp: await response.text() });
    // The server may serve another stream than asked (an H.265 main: the sub) and says why.
    const served = response.headers.get("X-Vms-Stream") || stream;
    return { pc, close, served, note: response.headers.get("X-Vms-Note") || "" };
  } catch (err) {
    close();
    throw err;
  }
}
