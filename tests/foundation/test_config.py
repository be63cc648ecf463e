"""vms.toml validation: every broken file is refused with the key path or line named."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from vms_core.config import ConfigError, load_config, parse_config

REPO = Path(__file__).resolve().parents[2]
VMS = [sys.executable, "-m", "vms_core.cli"]

CAMERA = '[[cameras]]\nname = "cam-a"\nrtsp_url = "rtsp://127.0.0.1/a"\n'

BROKEN = {
    "wrong type": ('[server]\nport = "eighty"\n', "server.port: expected an integer"),
    "unknown key": ("[storage]\nsegment_secs = 10\n", "storage.segment_secs: unknown key"),
    "bad url": (
        '[[cameras]]\nname = "x"\nrtsp_url = "htp://x"\n',
        'cameras[0].rtsp_url: expected an rtsp:// or rtsps:// URL, got "htp://x"',
    ),
    "missing camera field": (
        '[[cameras]]\nrtsp_url = "rtsp://h/x"\n',
        "cameras[0].name: required key missing",
    ),
    "duplicate camera name": (
        CAMERA + CAMERA,
        'cameras[1].name: duplicate camera name "cam-a" (also cameras[0])',
    ),
    "toml syntax": ('[server]\nport = 8080\nhost = "127.0.0.1\n', "line 3, column"),
    "camera without source": (
        '[[cameras]]\nname = "x"\n',
        "cameras[0]: a camera needs onvif_url or rtsp_url",
    ),
    "out of range": (
        '[[cameras]]\nname = "x"\nrtsp_url = "rtsp://h/x"\nlat = 91\n',
        "cameras[0].lat:",
    ),
    "plugin switch": ('[plugins.gunshot]\nenabled = "yes"\n', "plugins.gunshot.enabled"),
    "rule action": (
        '[[rules]]\nname = "r"\nmatch = "a.*"\n[[rules.actions]]\ntype = "notify"\n',
        "rules[0].actions[0]: a notify action needs channel",
    ),
}


def test_shipped_config_is_valid() -> None:
    settings = load_config(REPO / "vms.toml")
    assert settings.server.port == 8080
    assert settings.database_url.startswith("sqlite:///")
    assert settings.data_dir == (REPO / "data").resolve()


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_broken_config_names_the_problem(case: str, tmp_path: Path) -> None:
    text, expected = BROKEN[case]
    with pytest.raises(ConfigError) as info:
        parse_config(text, source="vms.toml", base_dir=tmp_path)
    assert any(expected in p for p in info.value.problems), info.value.problems


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_check_config_and_serve_refuse(case: str, tmp_path: Path) -> None:
    text, expected = BROKEN[case]
    path = tmp_path / "broken.toml"
    path.write_text(text)
    check = subprocess.run(
        [*VMS, "check-config", str(path)], capture_output=True, text=True, timeout=60
    )
    assert check.returncode != 0
    assert expected in check.stderr
    serve = subprocess.run(
        [*VMS, "--config", str(path), "serve"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert serve.returncode != 0
    assert expected in serve.stderr
    assert "listening" not in serve.stdout


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    text = '[server]\nport = "x"\nfoo = 1\n[[cameras]]\nname = "bad name"\nrtsp_url = "x"\n'
    with pytest.raises(ConfigError) as info:
        parse_config(text, base_dir=tmp_path)
    joined = "\n".join(info.value.problems)
    for key in ("server.port", "server.foo", "cameras[0].name", "cameras[0].rtsp_url"):
        assert key in joined


def test_relative_paths_follow_the_config_file(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    path = tmp_path / "etc" / "vms.toml"
    path.write_text('[server]\ndata_dir = "../state"\n[storage]\nrecordings_dir = "rec"\n')
    settings = load_config(path)
    assert settings.data_dir == (tmp_path / "state").resolve()
    assert settings.recordings_dir == (tmp_path / "etc" / "rec").resolve()
    assert settings.database_url == f"sqlite:///{(tmp_path / 'state' / 'vms.db').resolve()}"
