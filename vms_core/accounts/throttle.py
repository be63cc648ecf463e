"""Login throttling: per login name and per client address, with a growing lock.

Every attempt counts as a failure the moment it starts (so a hundred guesses sent at once
cannot all be checked before the first is counted); a successful login clears its name's
failures. After ``max_failures`` failures of a name (or ``max_failures_per_address`` of
an address, across names) further attempts are refused with 429 and ``Retry-After``,
without checking the password, for a lock that doubles with each further failure (1 s,
2 s, 4 s, ... up to ``max_lock_s``). Failures are forgotten ``window_s`` after the last
one. An address's failures are not cleared by one good login, so a guesser with an account
of their own cannot reset them between guesses.

The name is counted whether or not such a user exists, and a refusal reads the same for
both, so throttling reveals nothing about which names exist. State is in memory (one
server); a restart forgets it.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

# Keys remembered at most; the least recently used go first (an attacker cycling names
# cannot grow memory without bound).
MAX_KEYS = 100_000


@dataclass
class _Failures:
    count: int = 0
    last: float = 0.0
    locked_until: float = 0.0


@dataclass(frozen=True)
class Refusal:
    """An attempt refused while locked: how long until the next is checked."""

    scope: str  # "user" or "address"
    retry_after_s: int


@dataclass(frozen=True)
class Lockout:
    """A lock that a failure just started (for the audit log)."""

    scope: str
    failures: int
    seconds: float


class LoginThrottle:
    def __init__(
        self,
        *,
        max_failures: int = 5,
        max_failures_per_address: int = 20,
        base_lock_s: float = 1.0,
        max_lock_s: float = 900.0,
        window_s: float = 900.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._now = clock
        self.limits = {"user": max_failures, "address": max_failures_per_address}
        self.base_lock_s = base_lock_s
        self.max_lock_s = max_lock_s
        self.window_s = window_s
        self._keys: OrderedDict[tuple[str, str], _Failures] = OrderedDict()

    def _get(self, scope: str, value: str, now: float) -> _Failures:
        key = (scope, value)
        state = self._keys.get(key)
        if state is None or now - state.last > self.window_s:
            state = _Failures()
            self._keys[key] = state
        self._keys.move_to_end(key)
        while len(self._keys) > MAX_KEYS:
            self._keys.popitem(last=False)
        return state

    def _targets(self, username: str, address: str) -> list[tuple[str, str]]:
        # Names are compared case-insensitively: "Admin" must not be a fresh budget.
        return [("user", username.casefold()), ("address", address)]

    def begin(self, username: str, address: str) -> tuple[Refusal | None, list[Lockout]]:
        """Start an attempt: a refusal if locked, else the attempt counts as a failure
        until :meth:`succeeded`. Returns the locks this attempt started."""
        now = self._now()
        states = [
            (scope, self._get(scope, value, now))
            for scope, value in self._targets(username, address)
        ]
        for scope, state in states:
            if state.locked_until > now:
                return Refusal(scope, max(1, math.ceil(state.locked_until - now))), []
        started = []
        for scope, state in states:
            state.count += 1
            state.last = now
            over = state.count - self.limits[scope]
            if over >= 0:
                seconds = min(self.max_lock_s, self.base_lock_s * 2**over)
                state.locked_until = now + seconds
                started.append(Lockout(scope, state.count, seconds))
        return None, started

    def succeeded(self, username: str, address: str) -> None:
        """The attempt begun for ``username`` was right: forget the name's failures, and
        take this attempt back from the address's count."""
        self._keys.pop(("user", username.casefold()), None)
        state = self._keys.get(("address", address))
        if state is not None:
            state.count = max(0, state.count - 1)
            if state.count < self.limits["address"]:
                state.locked_until = 0.0
