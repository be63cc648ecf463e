"""Putting one rendered message on the wire: HTTP POST or SMTP.

Each attempt ends in an :class:`Outcome` that says whether to try again and when, so
the retry policy lives in one place (``channel.py``), not in each sender.
"""

from __future__ import annotations

import email.utils
import time
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Protocol

import aiohttp
import aiosmtplib

from vms_plugin_notify_chat import formats
from vms_plugin_notify_chat.message import Message, iso_z
from vms_plugin_notify_chat.settings import ChannelSettings, MailSettings

_RETRY_STATUSES = {408, 425, 429, 500, 502, 503, 504}


@dataclass(frozen=True, slots=True)
class Outcome:
    """How one attempt went.

    :ivar ok: the far end accepted the message.
    :ivar retry: worth trying again (timeouts, 5xx, 429, connection refused).
    :ivar retry_after_s: the far end said when (429 ``Retry-After``), else ``None``.
    :ivar detail: what happened, for the health page and ``DeliveryResult``.
    """

    ok: bool
    retry: bool = False
    retry_after_s: float | None = None
    detail: str = ""


class Sender(Protocol):
    async def send(self, message: Message) -> Outcome: ...

    async def close(self) -> None: ...


class HttpSender:
    """Slack, Mattermost, Rocket.Chat, Teams and the signed JSON webhook."""

    def __init__(self, channel: ChannelSettings) -> None:
        self._channel = channel
        self._session: aiohttp.ClientSession | None = None

    def body(self, message: Message) -> tuple[bytes, dict[str, str]]:
        """The request body and headers for ``message``."""
        kind = self._channel.kind
        if kind == "slack":
            payload = formats.slack(message)
        elif kind in ("mattermost", "rocketchat"):
            payload = formats.slack_compatible(message)
        elif kind == "teams":
            payload = formats.teams(message)
        else:
            payload = formats.webhook(message, self._channel.name)
        body = formats.encode(payload)
        headers = {"Content-Type": "application/json; charset=utf-8"}
        if self._channel.secret:
            headers.update(formats.signature_headers(self._channel.secret, body, int(time.time())))
        return body, headers

    async def send(self, message: Message) -> Outcome:
        body, headers = self.body(message)
        if self._session is None:
            timeout = aiohttp.ClientTimeout(total=self._channel.timeout_s)
            self._session = aiohttp.ClientSession(timeout=timeout)
        url = self._channel.url
        assert url is not None  # checked with the settings: chat channels have a URL
        try:
            async with self._session.post(url, data=body, headers=headers) as resp:
                text = (await resp.text(errors="replace"))[:200]
                if 200 <= resp.status < 300:
                    return Outcome(True, detail=f"HTTP {resp.status}")
                detail = f"HTTP {resp.status}: {text.strip()}"
                after = retry_after_s(resp.headers.get("Retry-After"))
                return Outcome(False, resp.status in _RETRY_STATUSES, after, detail)
        except TimeoutError:
            return Outcome(False, True, None, f"timed out after {self._channel.timeout_s:g} s")
        except aiohttp.ClientError as exc:
            return Outcome(False, True, None, f"{type(exc).__name__}: {exc}")

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


class MailSender:
    """E-mail over SMTP with the snapshot attached."""

    def __init__(self, channel: ChannelSettings) -> None:
        assert channel.mail is not None
        self._channel = channel
        self._mail: MailSettings = channel.mail

    def compose(self, message: Message) -> EmailMessage:
        mail = EmailMessage()
        mail["From"] = self._mail.sender
        mail["To"] = ", ".join(self._mail.to)
        mail["Subject"] = f"[{message.severity.upper()}] {message.title}"
        mail["Date"] = email.utils.formatdate(localtime=False)
        mail["Message-ID"] = email.utils.make_msgid(domain="vms")
        lines = [message.title, "", message.text, ""]
        lines += [f"{c.name}: {c.link}" for c in message.cameras]
        if message.link and not message.cameras:
            lines.append(message.link)
        lines += ["", f"Severity: {message.severity}   Time: {iso_z(message.time)}"]
        mail.set_content("\n".join(lines))
        if message.snapshot:
            mail.add_attachment(
                message.snapshot,
                maintype="image",
                subtype="jpeg",
                filename=f"snapshot-{message.snapshot_camera or 'camera'}.jpg",
            )
        return mail

    async def send(self, message: Message) -> Outcome:
        mail = self._mail
        try:
            await aiosmtplib.send(
                self.compose(message),
                hostname=mail.host,
                port=mail.port,
                username=mail.username,
                password=mail.password,
                use_tls=mail.tls,
                start_tls=mail.starttls,
                local_hostname=mail.helo_name,
                timeout=self._channel.timeout_s,
            )
        except aiosmtplib.SMTPResponseException as exc:
            # 4xx: try later; 5xx: the server will never take it.
            return Outcome(False, exc.code < 500, None, f"SMTP {exc.code}: {exc.message}")
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            return Outcome(False, True, None, f"{type(exc).__name__}: {exc}")
        return Outcome(True, detail=f"mailed to {len(mail.to)} recipient(s)")

    async def close(self) -> None:
        return None


def retry_after_s(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def sender_for(channel: ChannelSettings) -> Sender:
    return MailSender(channel) if channel.kind == "email" else HttpSender(channel)
