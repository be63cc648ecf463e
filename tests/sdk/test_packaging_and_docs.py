import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_hook_reference_in_docs_is_up_to_date() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "sdk/tools/gen_hook_reference.py"), "--check"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    doc = (ROOT / "docs/plugins.md").read_text()
    for hook in ("vms_plugin_info", "vms_analyze_frame", "vms_notify", "ctx.submit"):
        assert f"`{hook}" in doc


def test_sdk_wheel_is_typed_and_self_contained(tmp_path: Path) -> None:
    # Build from a clean copy: an in-tree build/ could hold stale files.
    source = tmp_path / "src"
    shutil.copytree(
        ROOT / "sdk", source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__")
    )
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            str(source),
            "-w",
            str(tmp_path),
        ],
        check=True,
        capture_output=True,
        cwd=source,
    )
    [wheel] = tmp_path.glob("vms_sdk-1.2.0-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "vms_sdk/py.typed" in names
    assert any(n.endswith("LICENSE") for n in names)
    assert "vms_sdk/testing/__init__.py" in names and "vms_sdk/hookspecs.py" in names
    assert "vms_sdk/runtime/runner.py" in names and "vms_sdk/policy.py" in names
    assert not any(n.startswith(("vms_core", "tests", "tools")) for n in names)
    sources = [zipfile.ZipFile(wheel).read(n).decode() for n in names if n.endswith(".py")]
    assert not any("vms_core" in s for s in sources)  # the SDK never imports the server
