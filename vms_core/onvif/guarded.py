"""onvif-zeep-async with the reply guard in its transport (see vms_core.onvif.client).

A module of its own so that importing the client does not import onvif and zeep: only
an ``OnvifDevice`` does, when it is made.
"""

from __future__ import annotations

import asyncio
import types
from typing import Any

import aiohttp
import zeep.exceptions
from onvif import ONVIFCamera, ONVIFService
from onvif.exceptions import ONVIFError

from vms_core.onvif.client import (
    _CREDENTIALS_MARK,
    CLOSE_TIMEOUT_S,
    MAX_REPLY_BYTES,
    OnvifError,
    OnvifUnauthorized,
    _read_capped,
    check_reply,
)


class GuardRefusal(ONVIFError):  # type: ignore[misc]
    """The reply guard refused a reply; the OnvifError saying why is its ``__cause__``.

    An ``ONVIFError`` so that onvif-zeep-async's own error handling (its background
    subscription renewals) treats it as a failed call instead of letting it escape a task;
    ``OnvifDevice.call`` turns it back into its cause.
    """


def _login_needed(status: int) -> zeep.exceptions.Fault:
    # What onvif-zeep-async's clock handshake expects when a device wants a login for
    # GetSystemDateAndTime: a fault, upon which it asks again with WS-Security.
    return zeep.exceptions.Fault(  # type: ignore[no-untyped-call]
        f"HTTP {status}: the device wants authentication for this call",
        subcodes=["ter:NotAuthorized"],
    )


def _guard_transport(service: ONVIFService, max_bytes: int) -> None:
    """Replace the transport's POST with one that caps and checks the reply."""
    transport = service.transport
    if getattr(transport, "_vms_guarded", False):
        return

    async def post_internal(
        self: Any, address: str, message: str | bytes, headers: dict[str, str]
    ) -> tuple[aiohttp.ClientResponse, bytes]:
        headers = headers or {}
        headers.setdefault("Content-Type", 'text/xml; charset="utf-8"')
        data = message.encode("utf-8") if isinstance(message, str) else message
        response = await self.session.post(
            address, data=data, headers=headers, timeout=self._client_timeout
        )
        try:
            try:
                content = await _read_capped(response, max_bytes)
            finally:
                response.release()
            if response.status in (401, 403):
                if _CREDENTIALS_MARK not in data:
                    # Many cameras refuse even GetSystemDateAndTime without a login.
                    raise _login_needed(response.status)
                raise OnvifUnauthorized(f"HTTP {response.status} from {address}")
            check_reply(content, max_bytes)
        except OnvifError as err:
            raise GuardRefusal(err.reason) from err
        return response, content

    transport._post_internal = types.MethodType(post_internal, transport)
    transport._vms_guarded = True


def _retrieve(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()


class GuardedCamera(ONVIFCamera):  # type: ignore[misc]
    max_reply_bytes = MAX_REPLY_BYTES

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._creating: set[asyncio.Future[ONVIFService]] = set()

    async def create_onvif_service(
        self,
        name: str,
        port_type: str | None = None,
        read_timeout: int | None = None,
        write_timeout: int | None = None,
    ) -> ONVIFService:
        # onvif-zeep-async (3.x) builds the service, with its own HTTP session, before it
        # registers it in ``self.services``; a caller cancelled in between (our call
        # timeout) would leave that session unclosed. So the creation finishes shielded,
        # and close() waits for it: a registered service is closed with the camera.
        creating = asyncio.ensure_future(
            super().create_onvif_service(name, port_type, read_timeout, write_timeout)
        )
        self._creating.add(creating)
        creating.add_done_callback(self._creating.discard)
        creating.add_done_callback(_retrieve)  # its error is the caller's, if still waiting
        service = await asyncio.shield(creating)
        _guard_transport(service, self.max_reply_bytes)
        return service

    async def close(self) -> None:
        if self._creating:
            await asyncio.wait(set(self._creating), timeout=CLOSE_TIMEOUT_S)
        await super().close()
