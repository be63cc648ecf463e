"""A browser's WHEP offer as text, and small edits of it that tests use to make bad ones.

The offer is what Chromium sends for a recvonly video + audio view with H.264 forced first
(VP8 still listed after it), trimmed of extensions that do not matter here. It has no
ICE candidate and no end-of-candidates (as if trickled later, which never happens): a
session made from it is answered but stays connecting until the server's connect deadline
ends it, which is all the tests of the offer need.
"""

from __future__ import annotations

import re

FINGERPRINT = (
    "sha-256 45:D0:69:93:9A:DD:9A:43:CD:57:84:52:9F:BA:89:A2:"
    "29:63:CC:00:F2:3F:59:A5:0E:D0:8D:55:C2:81:6A:BD"
)

VIDEO = f"""m=video 9 UDP/TLS/RTP/SAVPF 102 103 96 97
c=IN IP4 0.0.0.0
a=rtcp:9 IN IP4 0.0.0.0
a=ice-ufrag:Ab1c
a=ice-pwd:aBcDeFgHiJkLmNoPqRsTuVwX
a=ice-options:trickle
a=fingerprint:{FINGERPRINT}
a=setup:actpass
a=mid:0
a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid
a=recvonly
a=rtcp-mux
a=rtcp-rsize
a=rtpmap:102 H264/90000
a=rtcp-fb:102 goog-remb
a=rtcp-fb:102 nack
a=rtcp-fb:102 nack pli
a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f
a=rtpmap:103 rtx/90000
a=fmtp:103 apt=102
a=rtpmap:96 VP8/90000
a=rtcp-fb:96 nack
a=rtpmap:97 rtx/90000
a=fmtp:97 apt=96
"""

AUDIO = f"""m=audio 9 UDP/TLS/RTP/SAVPF 111 0 8
c=IN IP4 0.0.0.0
a=rtcp:9 IN IP4 0.0.0.0
a=ice-ufrag:Ab1c
a=ice-pwd:aBcDeFgHiJkLmNoPqRsTuVwX
a=ice-options:trickle
a=fingerprint:{FINGERPRINT}
a=setup:actpass
a=mid:1
a=recvonly
a=rtcp-mux
a=rtpmap:111 opus/48000/2
a=fmtp:111 minptime=10;useinbandfec=1
a=rtpmap:0 PCMU/8000
a=rtpmap:8 PCMA/8000
"""

SESSION = """v=0
o=- 4611731400430051336 2 IN IP4 127.0.0.1
s=-
t=0 0
a=group:BUNDLE 0 1
a=extmap-allow-mixed
a=msid-semantic: WMS
"""


def crlf(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\n", "\r\n")


OFFER = crlf(SESSION + VIDEO + AUDIO)
AUDIO_ONLY = crlf(SESSION.replace("BUNDLE 0 1", "BUNDLE 1") + AUDIO)


def without(offer: str, pattern: str) -> str:
    """``offer`` less every line matching the regular expression ``pattern``."""
    return "".join(line for line in offer.splitlines(keepends=True) if not re.match(pattern, line))


def replaced(offer: str, pattern: str, new: str) -> str:
    """``offer`` with each line matching ``pattern`` replaced by ``new`` (a whole line)."""
    return "".join(
        (new + "\r\n") if re.match(pattern, line) else line
        for line in offer.splitlines(keepends=True)
    )
