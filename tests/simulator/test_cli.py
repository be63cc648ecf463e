"""``python -m vms_core.simulator`` as an operator runs it."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from vms_core.simulator.cli import main

SMALL_CAMERAS = """
discovery = false  # multicast is tested in its own network namespaces

[[cameras]]
name = "sim-cam-1"
password = "pass-1"
ptz = true
scene = { loop_seconds = 2 }
main = { width = 320, height = 180, fps = 10 }
sub = { width = 160, height = 90, fps = 5 }
"""


def test_json_lines_then_clean_exit_on_sigterm(tmp_path: Path) -> None:
    config = tmp_path / "cams.toml"
    config.write_text(SMALL_CAMERAS)
    command = [sys.executable, "-m", "vms_core.simulator", "--cameras", "2", "--json"]
    # Camera 1 from the file (small media); camera 2 is a default one, without media here.
    process = subprocess.Popen(
        [*command, "--config", str(config), "--no-media", "--cache-dir", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        lines = [json.loads(process.stdout.readline()) for _ in range(2)]
        assert [c["name"] for c in lines] == ["sim-cam-1", "sim-cam-2"]
        assert [c["password"] for c in lines] == ["pass-1", "pass-2"]
        assert [c["ptz"] for c in lines] == [True, False]
        for camera in lines:
            assert camera["onvif_url"].startswith("http://127.0.0.1:")
            assert camera["onvif_url"].endswith("/onvif/device_service")
            assert camera["rtsp_main_url"].endswith(f"/{camera['name']}/main")
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_media_loops_are_encoded_and_cached(tmp_path: Path) -> None:
    config = tmp_path / "cams.toml"
    config.write_text(SMALL_CAMERAS)
    cache = tmp_path / "cache"
    command = [sys.executable, "-m", "vms_core.simulator", "--config", str(config)]
    process = subprocess.Popen(
        [*command, "--cache-dir", str(cache)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline().startswith("sim-cam-1 (")
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=15) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert any(cache.iterdir())  # the next start reuses these


def test_config_errors_name_the_key_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "cams.toml"
    config.write_text(
        """
[[cameras]]
name = "a"

[[cameras]]
name = "b"
main = { width = "wide", height = 90 }
"""
    )
    assert main(["--config", str(config)]) == 2
    assert "cameras[1].main.width" in capsys.readouterr().err
