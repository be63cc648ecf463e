"""Request bodies for each chat service, as plain data (tested as data)."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from vms_plugin_notify_chat.message import Message, iso_z

# Slack attachment colours / Adaptive Card text colours by severity.
_COLOURS = {
    "info": "#439FE0",
    "low": "#2EB67D",
    "medium": "#ECB22E",
    "high": "#E01E5A",
    "critical": "#A30000",
}
_CARD_COLOURS = {"info": "Default", "low": "Good", "medium": "Warning"}
_MAX_BUTTONS = 5  # Slack allows more; five keeps the message readable


def slack(message: Message) -> dict[str, Any]:
    """Slack incoming webhook: Block Kit, with ``text`` as the notification fallback."""
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": message.title[:150]}},
    ]
    if message.text:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": message.text}})
    if message.snapshot_url:
        camera = next((c.name for c in message.cameras if c.id == message.snapshot_camera), "")
        blocks.append(
            {
                "type": "image",
                "image_url": message.snapshot_url,
                "alt_text": f"snapshot {camera}".strip(),
            }
        )
    buttons = [
        {
            "type": "button",
            "text": {"type": "plain_text", "text": f"Open {c.name}"[:75]},
            "url": c.link,
        }
        for c in message.cameras[:_MAX_BUTTONS]
    ]
    if not buttons and message.link:
        buttons = [
            {"type": "button", "text": {"type": "plain_text", "text": "Open"}, "url": message.link}
        ]
    if buttons:
        blocks.append({"type": "actions", "elements": buttons})
    blocks.append(
        {
            "type": "context",
            "elements": [
                {"type": "mrkdwn", "text": f"*{message.severity}* · {iso_z(message.time)}"}
            ],
        }
    )
    return {"text": _fallback(message), "blocks": blocks}


def slack_compatible(message: Message) -> dict[str, Any]:
    """Mattermost and Rocket.Chat incoming webhooks: Slack's ``text`` + ``attachments``
    (both render attachments with images; neither renders Block Kit)."""
    links = "\n".join(f"[{c.name}]({c.link})" for c in message.cameras)
    attachment: dict[str, Any] = {
        "fallback": _fallback(message),
        "color": _COLOURS.get(message.severity, "#439FE0"),
        "title": message.title,
        "text": "\n".join(part for part in (message.text, links) if part),
    }
    if message.link:
        attachment["title_link"] = message.link
    if message.snapshot_url:
        attachment["image_url"] = message.snapshot_url
    return {"text": f"**{message.title}**", "attachments": [attachment]}


def teams(message: Message) -> dict[str, Any]:
    """Microsoft Teams (Workflows webhook): one Adaptive Card 1.4 in a message."""
    body: list[dict[str, Any]] = [
        {
            "type": "TextBlock",
            "text": message.title,
            "weight": "Bolder",
            "size": "Medium",
            "wrap": True,
            "color": _CARD_COLOURS.get(message.severity, "Attention"),
        },
    ]
    if message.text:
        body.append({"type": "TextBlock", "text": message.text, "wrap": True})
    if message.snapshot_url:
        body.append({"type": "Image", "url": message.snapshot_url, "altText": "snapshot"})
    facts = [
        {"title": "Severity", "value": message.severity},
        {"title": "Time", "value": iso_z(message.time)},
    ]
    if message.cameras:
        facts.append({"title": "Cameras", "value": message.camera_names})
    body.append({"type": "FactSet", "facts": facts})
    card = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
        "actions": [
            {"type": "Action.OpenUrl", "title": f"Open {c.name}", "url": c.link}
            for c in message.cameras[:_MAX_BUTTONS]
        ],
    }
    return {
        "type": "message",
        "attachments": [
            {"contentType": "application/vnd.microsoft.card.adaptive", "content": card}
        ],
    }


def webhook(message: Message, channel: str) -> dict[str, Any]:
    """The generic JSON webhook body (documented in the README)."""
    return {
        "channel": channel,
        "title": message.title,
        "text": message.text,
        "severity": message.severity,
        "time": iso_z(message.time),
        "link": message.link,
        "cameras": [{"id": c.id, "name": c.name, "link": c.link} for c in message.cameras],
        "snapshot_url": message.snapshot_url,
        "event": message.event,
    }


def signature_headers(secret: str, body: bytes, timestamp: int) -> dict[str, str]:
    """``X-VMS-Timestamp`` and ``X-VMS-Signature: sha256=<HMAC(secret, "<ts>." + body)>``."""
    signed = str(timestamp).encode("ascii") + b"." + body
    digest = hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()
    return {"X-VMS-Timestamp": str(timestamp), "X-VMS-Signature": f"sha256={digest}"}


def summary_text(held: int, titles: list[str]) -> tuple[str, str]:
    """Title and text of the message that replaces alerts held back by the rate limit."""
    title = f"{held} more alert{'s' if held != 1 else ''} held back"
    shown = "\n".join(f"• {t}" for t in titles)
    more = f"\n… and {held - len(titles)} more" if held > len(titles) else ""
    text = f"The rate limit of this channel held back {held} alert(s). Latest:\n{shown}{more}"
    return title, text


def encode(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _fallback(message: Message) -> str:
    cams = f" ({message.camera_names})" if message.cameras else ""
    return f"{message.title}{cams}"
