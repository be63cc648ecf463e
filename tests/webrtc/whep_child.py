"""A WHEP viewer in its own process: ``python -m tests.webrtc.whep_child URL TOKEN FRAMES``.

Prints one JSON line: the POST status and how many frames it decoded. Keeping the viewer's
decoder out of the server's process lets a test look for codecs opened by the server.
"""

from __future__ import annotations

import asyncio
import json
import sys

import aiohttp

from tests.webrtc.conftest import WhepViewer
from vms_core.webrtc.ice import set_loopback_policy


async def main(url: str, token: str, count: int) -> None:
    set_loopback_policy("only")
    viewer = WhepViewer()
    async with aiohttp.ClientSession() as http:
        status = await viewer.connect(http, url, {"Authorization": f"Bearer {token}"})
        frames = await viewer.frames(count, timeout=15) if status == 201 else []
        print(json.dumps({"status": status, "frames": len(frames)}), flush=True)
        # Stay connected until told to go, so the server is inspected mid-session.
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        await viewer.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
