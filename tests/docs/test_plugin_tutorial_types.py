"""The plug-in tutorial's code (docs/plugins.md) passes mypy --strict, and its own tests
pass: what a reader copies works as written."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.plugin_host.conftest import REPO, tutorial_files


def test_the_tutorial_plugin_and_its_tests_pass_mypy_strict_and_pytest(tmp_path: Path) -> None:
    files = tutorial_files((REPO / "docs/plugins.md").read_text())
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    python = [f for f in files if f.endswith(".py")]
    assert {"vms_plugin_shotalert/__init__.py", "tests/test_shotalert.py"} <= set(python)
    checked = subprocess.run(
        [
            sys.executable, "-m", "mypy", "--strict", "--no-incremental",
            "--cache-dir", str(tmp_path / ".mypy"), *python,
        ],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
        # The SDK is installed editable here, which mypy cannot follow: point it there.
        env={**os.environ, "MYPYPATH": str(REPO / "sdk")},
    )  # fmt: skip
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tested = subprocess.run(
        [
            sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
            "-o", "asyncio_mode=auto", "--rootdir", str(tmp_path),
            "tests/test_shotalert.py",
        ],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
        env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert tested.returncode == 0, tested.stdout + tested.stderr
