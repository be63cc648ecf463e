"""Snapshots kept for chat services to fetch.

Slack, Teams, Mattermost and Rocket.Chat show an image only from a URL they fetch
themselves, and they cannot log in. So each snapshot is saved under an unguessable
name (128 random bits) in the plug-in's data folder and served by a public route; files
older than ``keep_hours`` are deleted when the next one is saved.
"""

from __future__ import annotations

import re
import secrets
import time
from pathlib import Path

_NAME = re.compile(r"^[0-9a-f]{32}\.jpg$")


class SnapshotStore:
    def __init__(self, folder: Path, base_url: str, keep_hours: float) -> None:
        self.folder = folder
        self.base_url = base_url  # the plug-in's public URL, ending in "/"
        self.keep_s = keep_hours * 3600

    def save(self, jpeg: bytes) -> str:
        """Store ``jpeg``; returns its public URL. Blocking: call in a thread."""
        self.folder.mkdir(parents=True, exist_ok=True)
        self._prune()
        name = secrets.token_hex(16) + ".jpg"
        path = self.folder / name
        path.write_bytes(jpeg)
        return f"{self.base_url}snapshots/{name}"

    def load(self, name: str) -> bytes | None:
        """The JPEG called ``name``, or ``None`` (also for names that are not ours)."""
        if not _NAME.match(name):
            return None
        path = self.folder / name
        try:
            return path.read_bytes()
        except OSError:
            return None

    def _prune(self) -> None:
        cutoff = time.time() - self.keep_s
        for path in self.folder.glob("*.jpg"):
            try:
                if path.stat().st_mtime < cutoff:
                    path.unlink()
            except OSError:
                continue
