"""Real ffmpeg/ffprobe runs as asyncio subprocesses (the server shares the test's loop)."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any


@dataclass
class ToolResult:
    returncode: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


async def run_tool(*args: str, timeout: float = 15) -> ToolResult:
    """Run /usr/bin/ffmpeg or ffprobe without blocking the event loop the server runs on."""
    process = await asyncio.create_subprocess_exec(
        *args,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), timeout)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    assert process.returncode is not None
    return ToolResult(process.returncode, stdout.decode(), stderr.decode())


async def ffprobe(url: str, transport: str = "tcp", *extra: str) -> ToolResult:
    return await run_tool(
        "/usr/bin/ffprobe",
        "-v",
        "error",
        "-rtsp_transport",
        transport,
        "-show_streams",
        "-show_format",
        "-of",
        "json",
        *extra,
        url,
    )
