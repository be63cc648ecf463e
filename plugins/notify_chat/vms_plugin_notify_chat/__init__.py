"""vms-plugin-notify-chat: notifications to Slack, Mattermost, Rocket.Chat, Teams,
signed JSON webhooks and e-mail.

A rule's ``notify`` action (or another plug-in's ``ctx.notify``) names a channel; each
``[plugins.notify_chat.channels.<name>]`` table is one channel. See the README. The
entry point names :class:`~vms_plugin_notify_chat.plugin.NotifyChatPlugin`.
"""

from __future__ import annotations

from vms_plugin_notify_chat.plugin import VERSION, NotifyChatPlugin

__version__ = VERSION

__all__ = ["NotifyChatPlugin", "__version__"]
