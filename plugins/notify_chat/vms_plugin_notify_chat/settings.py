"""The ``[plugins.notify_chat]`` table, checked once; errors name the key."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, BeforeValidator, Field, field_validator, model_validator
from vms_sdk.settings import Flag, PluginSettings, PositiveNumber, SettingError, Whole

ChannelKind = Literal["slack", "mattermost", "rocketchat", "teams", "webhook", "email"]
KINDS: tuple[ChannelKind, ...] = ("slack", "mattermost", "rocketchat", "teams", "webhook", "email")
HTTP_KINDS = ("slack", "mattermost", "rocketchat", "teams", "webhook")
MIN_SECRET_CHARS = 16
_HTTP_KEYS = ("url", "secret")
_MAIL_KEYS = (
    "host",
    "port",
    "username",
    "password",
    "starttls",
    "tls",
    "sender",
    "to",
    "helo_name",
)


def _url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https"):
        raise ValueError("must be an http:// or https:// URL")
    if not parts.netloc:
        raise ValueError("must name a host")
    return value


def _addresses(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


def _address(value: str) -> str:
    if "@" not in value:
        raise ValueError("must be an e-mail address")
    return value


Url = Annotated[str, AfterValidator(_url)]
Address = Annotated[str, AfterValidator(_address)]
PositiveWhole = Annotated[Whole, Field(gt=0)]


@dataclass(frozen=True, slots=True)
class MailSettings:
    host: str
    port: int
    sender: str
    to: tuple[str, ...]
    username: str | None = None
    password: str | None = None
    starttls: bool = False
    tls: bool = False
    helo_name: str = "localhost"


class ChannelSettings(PluginSettings):
    """One channel: where it goes and how hard to try."""

    name: str = ""  # the table's name, filled in by NotifySettings
    kind: ChannelKind = Field(alias="type")
    url: Url | None = None
    secret: str | None = None
    timeout_s: PositiveNumber = 10.0
    max_attempts: PositiveWhole = 8
    backoff_s: PositiveNumber = 1.0
    backoff_max_s: PositiveNumber = 60.0
    # Messages per window, summary included.
    rate_limit: Annotated[PositiveWhole, Field(ge=2)] = 10
    rate_window_s: PositiveNumber = 60.0
    dedupe_window_s: PositiveNumber = 600.0
    snapshot: Flag = True
    snapshot_timeout_s: PositiveNumber = 2.0
    # vms_notify waits this long to report the outcome.
    first_attempt_wait_s: PositiveNumber = 5.0
    queue_size: PositiveWhole = 100
    # e-mail
    host: str | None = None
    port: PositiveWhole | None = None
    username: str | None = None
    password: str | None = None
    starttls: Flag = False
    tls: Flag = False
    sender: Address | None = Field(default=None, alias="from")
    to: Annotated[tuple[Address, ...], BeforeValidator(_addresses)] | None = None
    helo_name: str | None = None

    @model_validator(mode="after")
    def _fits_its_kind(self) -> ChannelSettings:
        given = self.model_fields_set
        if self.kind == "email":
            for key in _HTTP_KEYS:
                if key in given:
                    raise SettingError(key, "only chat and webhook channels have it")
            if not self.host:
                raise SettingError("host", "the SMTP server's host name is required")
            if self.starttls and self.tls:
                raise SettingError("tls", "choose tls (port 465) or starttls (587), not both")
            if not self.sender:
                raise SettingError("from", "the sender address is required")
            if not self.to:
                raise SettingError("to", "a list of at least one e-mail address")
            if (self.username is None) != (self.password is None):
                raise SettingError("password", "set both username and password, or neither")
            return self
        for key in _MAIL_KEYS:
            if key in given:
                raise SettingError(key if key != "sender" else "from", "only e-mail has it")
        if self.url is None:
            raise SettingError("url", "required")
        if self.kind == "webhook" and (self.secret is None or len(self.secret) < MIN_SECRET_CHARS):
            raise SettingError(
                "secret", f"a webhook needs a secret of at least {MIN_SECRET_CHARS} characters"
            )
        if self.secret is not None and self.kind != "webhook":
            raise SettingError("secret", "only webhook channels are signed")
        return self

    @property
    def mail(self) -> MailSettings | None:
        """The SMTP settings of an e-mail channel."""
        if self.kind != "email":
            return None
        assert self.host and self.sender and self.to
        port = self.port or (465 if self.tls else 587 if self.starttls else 25)
        # Named here, not looked up: a slow or missing DNS must not delay every alert.
        helo = self.helo_name or self.sender.rpartition("@")[2] or "localhost"
        return MailSettings(
            self.host,
            port,
            self.sender,
            self.to,
            self.username,
            self.password,
            self.starttls,
            self.tls,
            helo,
        )


class NotifySettings(PluginSettings):
    channels: dict[str, ChannelSettings] = Field(default_factory=dict)
    web_url: Url | None = None  # the web client; default: the server's public URL
    snapshot_keep_hours: PositiveNumber = 72.0

    @field_validator("channels")
    @classmethod
    def _named(cls, channels: dict[str, ChannelSettings]) -> dict[str, ChannelSettings]:
        return {name: c.model_copy(update={"name": name}) for name, c in channels.items()}


def parse_settings(config: Mapping[str, Any]) -> NotifySettings:
    """``NotifySettings`` from the plug-in's table; raises ``ConfigError``."""
    return NotifySettings.parse(config)
