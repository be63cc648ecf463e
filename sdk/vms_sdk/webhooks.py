"""Signed webhooks with replay protection, for public routes.

A sender signs ``<timestamp>.<body>`` with HMAC-SHA256 and a shared secret and sends the
signature and the timestamp in two headers. :class:`SignedWebhook` refuses a request
whose signature does not match (401), whose timestamp is outside the window (401: an old
capture replayed later), or whose signature it has already accepted within the window
(409: the same request replayed at once). Accepted signatures are remembered in the
plug-in's key-value store, so a restart does not open the window again::

    hook = SignedWebhook(ctx.kv, secret)

    async def alert(request: HttpRequest) -> HttpResponse:
        hook.verify(request)  # raises Unauthorized / HttpError(409); answered for you
        ...

The tutorial's bare HMAC over the body can be replayed forever; use this instead.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable

from vms_sdk.context import KeyValueStore
from vms_sdk.errors import HttpError, Unauthorized
from vms_sdk.types import HttpRequest

MAX_REMEMBERED = 10_000


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The signature a sender puts in the signature header."""
    message = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


class SignedWebhook:
    """Checks signed requests; remembers what it accepted in ``kv`` under ``key``."""

    def __init__(
        self,
        kv: KeyValueStore,
        secret: str,
        *,
        window_s: float = 300.0,
        signature_header: str = "x-signature",
        timestamp_header: str = "x-timestamp",
        key: str = "webhook.signatures",
        clock: Callable[[], float] = time.time,
    ) -> None:
        if len(secret) < 16:
            raise ValueError("a webhook secret needs at least 16 characters")
        self._kv = kv
        self._secret = secret
        self.window_s = window_s
        self._signature = signature_header
        self._timestamp = timestamp_header
        self._key = key
        self._clock = clock

    def verify(self, request: HttpRequest) -> None:
        """Accept ``request`` once, or raise.

        :raises Unauthorized: no, bad or expired signature (401).
        :raises HttpError: 409 ``replayed`` for a signature already accepted.
        """
        now = self._clock()
        given = request.header(self._signature) or ""
        stamp = request.header(self._timestamp) or ""
        if not given or not stamp.isdigit():
            raise Unauthorized(f"{self._signature} and {self._timestamp} headers required")
        if abs(now - int(stamp)) > self.window_s:
            raise Unauthorized(f"{self._timestamp} is outside the {self.window_s:g} s window")
        if not hmac.compare_digest(sign(self._secret, int(stamp), request.body), given):
            raise Unauthorized("bad signature")
        seen: dict[str, float] = self._kv.get(self._key, {})
        if seen.get(given, 0.0) > now:
            raise HttpError("this signed request was already received", status=409, code="replayed")
        # A signature older than twice the window can never pass the timestamp check again.
        kept = {s: t for s, t in seen.items() if t > now}
        if len(kept) >= MAX_REMEMBERED:
            for old in sorted(kept, key=kept.__getitem__)[: len(kept) - MAX_REMEMBERED + 1]:
                del kept[old]
        kept[given] = now + 2 * self.window_s
        self._kv.set(self._key, kept)
