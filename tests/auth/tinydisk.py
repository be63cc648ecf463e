"""A real full disk for the catalog, without touching the machine's mounts.

A helper process mounts a small tmpfs over a folder in a mount namespace of its own and
sleeps. A server started with :meth:`TinyDisk.command` joins that namespace (``nsenter``)
and sees the tmpfs at the folder's usual path; the test fills and frees it through
``/proc/<pid>/root/<folder>``. So the catalog lives on a disk that really fills up (ENOSPC
from the kernel, not a simulated error), the machine's own mounts are never touched, and
the mount disappears with the helper. (SQLite itself cannot be pointed at the
``/proc/<pid>/root`` path: it resolves that link back into the caller's namespace.)
Needs root, as the test run is.
"""

from __future__ import annotations

import errno
import subprocess
from pathlib import Path


class TinyDisk:
    def __init__(self, folder: Path, size_bytes: int = 16 * 1024 * 1024) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self._proc = subprocess.Popen(
            [
                "unshare",
                "--mount",
                "--propagation",
                "private",
                "--",
                "sh",
                "-c",
                f"mount -t tmpfs -o size={size_bytes} tmpfs '{folder}' && echo ready "
                "&& exec sleep infinity",
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._proc.stdout is not None
        ready = self._proc.stdout.readline().strip()
        if ready != "ready":
            self.close()
            raise RuntimeError(f"could not mount a tmpfs at {folder} (needs root)")
        self.folder = folder
        # The same folder, seen inside the helper's mount namespace: the tmpfs.
        self.path = Path(f"/proc/{self._proc.pid}/root") / folder.relative_to("/")
        self._filler = self.path / "filler"

    def command(self, argv: list[str]) -> list[str]:
        """``argv`` run in the helper's mount namespace, where ``folder`` is the tmpfs."""
        return ["nsenter", f"--mount=/proc/{self._proc.pid}/ns/mnt", "--", *argv]

    def fill(self) -> None:
        """Write a file until the disk refuses another byte."""
        chunk = b"\0" * (64 * 1024)
        with self._filler.open("ab", buffering=0) as out:
            while True:
                try:
                    out.write(chunk)
                except OSError as exc:
                    if exc.errno != errno.ENOSPC:
                        raise
                    if len(chunk) == 1:
                        return
                    chunk = chunk[: len(chunk) // 2]

    def free(self) -> None:
        self._filler.unlink(missing_ok=True)

    def close(self) -> None:
        self._proc.kill()
        self._proc.wait()
