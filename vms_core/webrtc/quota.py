"""How many live views one user, and everyone together, may hold at once.

Each live view costs the server a peer connection, a relay queue and send work on the event
loop, so an unlimited number per user lets one account (or one leaked token) starve every
other viewer. A slot is taken before an offer is worked on and given back when the
negotiation fails or the session ends, so concurrent offers cannot overshoot a limit.
"""

from __future__ import annotations

from collections import Counter
from typing import Literal


class OverQuota(Exception):
    """No slot: ``limit`` says which limit is reached."""

    def __init__(self, limit: Literal["user", "total"], allowed: int) -> None:
        super().__init__(limit)
        self.limit = limit
        self.allowed = allowed


class LiveQuota:
    def __init__(self, per_user: int, total: int) -> None:
        self.per_user = per_user
        self.total = total
        self._held: Counter[int] = Counter()

    def take(self, user_id: int) -> None:
        """Take a slot for ``user_id``; raise ``OverQuota`` when a limit is reached."""
        if self._held[user_id] >= self.per_user:
            raise OverQuota("user", self.per_user)
        if self._held.total() >= self.total:
            raise OverQuota("total", self.total)
        self._held[user_id] += 1

    def give_back(self, user_id: int) -> None:
        self._held[user_id] -= 1
        if self._held[user_id] <= 0:
            del self._held[user_id]

    def held(self, user_id: int | None = None) -> int:
        """Slots held by ``user_id``, or by everyone."""
        return self._held.total() if user_id is None else self._held[user_id]
