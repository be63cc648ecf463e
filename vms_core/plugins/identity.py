"""Which user a plug-in runner runs as.

A server running as root starts runners as the dedicated unprivileged user ``vms-plugin``
(``scripts/setup.sh`` creates it), or ``nobody`` with a warning when it is missing; the
runner then cannot read what only root may (the server's secrets, ``/etc/shadow``).
A server that is not root starts runners as itself and relies on Landlock.
"""

from __future__ import annotations

import logging
import os
import pwd
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("vms.plugins")

PLUGIN_USER = "vms-plugin"
FALLBACK_USER = "nobody"


@dataclass(frozen=True)
class RunnerIdentity:
    """A user and group to run as, or the server's own (``uid is None``)."""

    user: str = ""
    uid: int | None = None
    gid: int | None = None

    @property
    def separate(self) -> bool:
        """Whether runners have a user of their own (not the server's)."""
        return self.uid is not None and self.uid != os.getuid()

    def subprocess_args(self) -> dict[str, Any]:
        if self.uid is None:
            return {}
        return {"user": self.uid, "group": self.gid, "extra_groups": []}

    def chown(self, path: str) -> None:
        """Give a runner's working folder to its user."""
        if self.uid is not None and os.geteuid() == 0:
            os.chown(path, self.uid, self.gid if self.gid is not None else -1)


_warned = False


def runner_identity(user: str = PLUGIN_USER) -> RunnerIdentity:
    """The identity runners get on this machine."""
    global _warned
    if os.geteuid() != 0:
        return RunnerIdentity()
    for name in (user, FALLBACK_USER):
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        if name != user and not _warned:
            _warned = True
            log.warning(
                "user %r does not exist (scripts/setup.sh creates it); plug-in runners run "
                "as %r, which other programs may share",
                user,
                name,
            )
        return RunnerIdentity(name, entry.pw_uid, entry.pw_gid)
    raise RuntimeError(f"neither {user!r} nor {FALLBACK_USER!r} exists: cannot drop root")
