"""Who is calling, and what the roles rank: every authorisation decision looks at these."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Role = Literal["viewer", "operator", "admin"]
ROLE_RANK: dict[str, int] = {"viewer": 0, "operator": 1, "admin": 2}


@dataclass(frozen=True)
class Principal:
    """Who is calling: what every authorisation decision looks at."""

    user_id: int
    username: str
    role: str
    # None: every camera (admins). Otherwise the ids granted to this user.
    camera_ids: frozenset[int] | None
    via: str  # "session" | "token"

    def has_role(self, role: str) -> bool:
        return ROLE_RANK[self.role] >= ROLE_RANK[role]

    def can_see(self, camera_id: int) -> bool:
        return self.camera_ids is None or camera_id in self.camera_ids
