"""The ``[plugins.notify_chat]`` table, checked once; errors name the key."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

from vms_sdk import ConfigError

ChannelKind = Literal["slack", "mattermost", "rocketchat", "teams", "webhook", "email"]
KINDS: tuple[ChannelKind, ...] = ("slack", "mattermost", "rocketchat", "teams", "webhook", "email")
HTTP_KINDS = ("slack", "mattermost", "rocketchat", "teams", "webhook")
MIN_SECRET_CHARS = 16

_TOP_KEYS = {"channels", "web_url", "snapshot_keep_hours"}
_COMMON_KEYS = {
    "type",
    "timeout_s",
    "max_attempts",
    "backoff_s",
    "backoff_max_s",
    "rate_limit",
    "rate_window_s",
    "dedupe_window_s",
    "snapshot",
    "snapshot_timeout_s",
    "first_attempt_wait_s",
    "queue_size",
}
_HTTP_KEYS = {"url", "secret"}
_MAIL_KEYS = {"host", "port", "username", "password", "starttls", "tls", "from", "to", "helo_name"}


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


@dataclass(frozen=True, slots=True)
class ChannelSettings:
    """One channel: where it goes and how hard to try."""

    name: str
    kind: ChannelKind
    url: str = ""
    secret: str | None = None
    mail: MailSettings | None = None
    timeout_s: float = 10.0
    max_attempts: int = 8
    backoff_s: float = 1.0
    backoff_max_s: float = 60.0
    rate_limit: int = 10  # messages per window, summary included
    rate_window_s: float = 60.0
    dedupe_window_s: float = 600.0
    snapshot: bool = True
    snapshot_timeout_s: float = 2.0
    first_attempt_wait_s: float = 5.0  # vms_notify waits this long to report the outcome
    queue_size: int = 100


@dataclass(frozen=True, slots=True)
class NotifySettings:
    channels: Mapping[str, ChannelSettings] = field(default_factory=dict)
    web_url: str | None = None  # the web client; default: the server's public URL
    snapshot_keep_hours: float = 72.0


def parse_settings(config: Mapping[str, Any]) -> NotifySettings:
    """``NotifySettings`` from the plug-in's table; raises ``ConfigError``."""
    _no_unknown(config, _TOP_KEYS, "")
    web_url = config.get("web_url")
    if web_url is not None:
        web_url = _url(web_url, "web_url")
    raw_channels = config.get("channels", {})
    if not isinstance(raw_channels, Mapping):
        raise ConfigError("channels", "must be a table of [channels.<name>] tables")
    channels = {str(n): _channel(str(n), raw) for n, raw in raw_channels.items()}
    return NotifySettings(
        channels, web_url, _number(config, "snapshot_keep_hours", 72.0, "snapshot_keep_hours")
    )


def _channel(name: str, raw: Any) -> ChannelSettings:
    where = f"channels.{name}"
    if not isinstance(raw, Mapping):
        raise ConfigError(where, "must be a table")
    kind = raw.get("type")
    if kind not in KINDS:
        raise ConfigError(f"{where}.type", f"must be one of {', '.join(KINDS)}")
    allowed = _COMMON_KEYS | (_MAIL_KEYS if kind == "email" else _HTTP_KEYS)
    _no_unknown(raw, allowed, where + ".")
    common: dict[str, Any] = {
        "timeout_s": _number(raw, "timeout_s", 10.0, where),
        "max_attempts": int(_number(raw, "max_attempts", 8, where, integer=True)),
        "backoff_s": _number(raw, "backoff_s", 1.0, where),
        "backoff_max_s": _number(raw, "backoff_max_s", 60.0, where),
        "rate_limit": int(_number(raw, "rate_limit", 10, where, integer=True)),
        "rate_window_s": _number(raw, "rate_window_s", 60.0, where),
        "dedupe_window_s": _number(raw, "dedupe_window_s", 600.0, where),
        "snapshot": _bool(raw, "snapshot", True, where),
        "snapshot_timeout_s": _number(raw, "snapshot_timeout_s", 2.0, where),
        "first_attempt_wait_s": _number(raw, "first_attempt_wait_s", 5.0, where),
        "queue_size": int(_number(raw, "queue_size", 100, where, integer=True)),
    }
    if common["rate_limit"] < 2:
        raise ConfigError(f"{where}.rate_limit", "must be at least 2 (one slot is the summary)")
    if kind == "email":
        return ChannelSettings(name, kind, mail=_mail(raw, where), **common)
    url = _url(raw.get("url"), f"{where}.url")
    secret = raw.get("secret")
    if kind == "webhook" and (not isinstance(secret, str) or len(secret) < MIN_SECRET_CHARS):
        raise ConfigError(
            f"{where}.secret", f"a webhook needs a secret of at least {MIN_SECRET_CHARS} characters"
        )
    if secret is not None and kind != "webhook":
        raise ConfigError(f"{where}.secret", "only webhook channels are signed")
    return ChannelSettings(name, kind, url=url, secret=secret, **common)


def _mail(raw: Mapping[str, Any], where: str) -> MailSettings:
    host = raw.get("host")
    if not isinstance(host, str) or not host:
        raise ConfigError(f"{where}.host", "the SMTP server's host name is required")
    starttls = _bool(raw, "starttls", False, where)
    tls = _bool(raw, "tls", False, where)
    if starttls and tls:
        raise ConfigError(f"{where}.tls", "choose tls (port 465) or starttls (587), not both")
    default_port = 465 if tls else 587 if starttls else 25
    port = int(_number(raw, "port", default_port, where, integer=True))
    sender = raw.get("from")
    if not isinstance(sender, str) or "@" not in sender:
        raise ConfigError(f"{where}.from", "the sender address is required")
    to = raw.get("to")
    if isinstance(to, str):
        to = [to]
    if not isinstance(to, list) or not to or not all(isinstance(a, str) and "@" in a for a in to):
        raise ConfigError(f"{where}.to", "a list of at least one e-mail address")
    username, password = raw.get("username"), raw.get("password")
    if (username is None) != (password is None):
        raise ConfigError(f"{where}.password", "set both username and password, or neither")
    # Named here, not looked up: a slow or missing DNS must not delay every alert.
    helo = raw.get("helo_name", sender.rpartition("@")[2] or "localhost")
    if not isinstance(helo, str) or not helo:
        raise ConfigError(f"{where}.helo_name", "the name to greet the SMTP server with")
    return MailSettings(host, port, sender, tuple(to), username, password, starttls, tls, helo)


def _no_unknown(raw: Mapping[str, Any], allowed: set[str], prefix: str) -> None:
    for key in raw:
        if key not in allowed:
            raise ConfigError(
                f"{prefix}{key}", f"unknown setting (known: {', '.join(sorted(allowed))})"
            )


def _number(
    raw: Mapping[str, Any], key: str, default: float, where: str, integer: bool = False
) -> float:
    value = raw.get(key, default)
    name = key if where == key else f"{where}.{key}" if where else key
    kinds = int if integer else int | float
    if isinstance(value, bool) or not isinstance(value, kinds) or not value > 0:
        what = "a positive integer" if integer else "a positive number"
        raise ConfigError(name, f"must be {what}, got {value!r}")
    return float(value)


def _bool(raw: Mapping[str, Any], key: str, default: bool, where: str) -> bool:
    value = raw.get(key, default)
    if not isinstance(value, bool):
        raise ConfigError(f"{where}.{key}", "must be true or false")
    return value


def _url(value: Any, key: str) -> str:
    if not isinstance(value, str) or urlsplit(value).scheme not in ("http", "https"):
        raise ConfigError(key, "must be an http:// or https:// URL")
    if not urlsplit(value).netloc:
        raise ConfigError(key, "must name a host")
    return value
