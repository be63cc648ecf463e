"""Reading what `vms serve` / `vms demo` print on a first start."""

from __future__ import annotations

from typing import IO

PASSWORD_LINE = "created user admin with password "


def read_first_password(stdout: IO[str]) -> str:
    """The first admin password, from the box printed after the "listening on" line."""
    seen = []
    for _ in range(8):  # the box's height, with room to spare
        line = stdout.readline()
        seen.append(line)
        if PASSWORD_LINE in line:
            assert seen[0].startswith("+--"), f"not framed: {seen}"
            return line.split(PASSWORD_LINE, 1)[1].split(" ", 1)[0]
    raise AssertionError(f"no first admin password in {seen}")
