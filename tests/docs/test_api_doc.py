"""docs/api.md and docs/configuration.md stay in step with the code they describe."""

from __future__ import annotations

import subprocess
import sys
import typing
from pathlib import Path

from pydantic import BaseModel

from vms_core.api.registry import ApiRegistry
from vms_core.api.routes import register_all
from vms_core.config.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
TOOL = ROOT / "docs/tools/gen_api_table.py"


def _check(doc: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(TOOL), "--check", "--doc", str(doc)],
        capture_output=True,
        text=True,
    )


def test_endpoint_table_in_api_doc_is_up_to_date() -> None:
    result = _check(ROOT / "docs/api.md")
    assert result.returncode == 0, result.stderr
    doc = (ROOT / "docs/api.md").read_text()
    api = ApiRegistry()
    register_all(api)
    for method, path in api.endpoints:
        assert f"| `{method}` | `{path}` |" in doc, f"{method} {path} missing from docs/api.md"


def test_check_fails_on_a_stale_table(tmp_path: Path) -> None:
    stale = tmp_path / "api.md"
    text = (ROOT / "docs/api.md").read_text()
    row = next(line for line in text.splitlines() if "`/api/exports/signing-key`" in line)
    stale.write_text(text.replace(row + "\n", ""))
    result = _check(stale)
    assert result.returncode == 1
    assert "out of date" in result.stderr


def _leaf_keys(model: type[BaseModel], prefix: str = "") -> list[str]:
    keys: list[str] = []
    for name, field in model.model_fields.items():
        if field.exclude:  # set by the loader, not by the file
            continue
        path = f"{prefix}.{name}" if prefix else name
        nested = [
            arg
            for outer in (field.annotation, *typing.get_args(field.annotation))
            for arg in (outer, *typing.get_args(outer))
            if isinstance(arg, type) and issubclass(arg, BaseModel)
        ]
        if nested:
            keys += _leaf_keys(nested[0], path)
        elif name == "plugins":
            keys.append("plugins.<name>")
        else:
            keys.append(path)
    return keys


def test_every_config_key_is_documented() -> None:
    doc = (ROOT / "docs/configuration.md").read_text()
    missing = []
    for path in _leaf_keys(Settings):
        section, _, key = path.partition(".")
        if path == "plugins.<name>":
            found = "[plugins.<name>]" in doc
        else:
            # The row names the key (or the dotted key under [[cameras]]) in backticks, in
            # the section's own part of the doc.
            start = doc.find(f"[{section}]")
            part = doc[start:] if start >= 0 else ""
            leaf = key.rsplit(".", 1)[-1]
            found = any(f"`{name}`" in part for name in (key, leaf)) or f"`{leaf}`, `" in part
        if not found:
            missing.append(path)
    assert not missing, f"undocumented in docs/configuration.md: {missing}"
