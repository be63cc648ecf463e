"""``python -m vms_core.simulator`` as an operator runs it."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from vms_core.simulator.cli import main


def test_json_lines_then_clean_exit_on_sigterm() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "vms_core.simulator", "--cameras", "2", "--json"],
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
