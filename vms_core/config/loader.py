"""Load vms.toml into Settings, turning every problem into a message that names the key."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from vms_core.config.settings import Settings


class ConfigError(Exception):
    """The configuration cannot be used. ``problems`` holds one line per problem."""

    def __init__(self, source: str, problems: Sequence[str]) -> None:
        self.source = source
        self.problems = list(problems)
        super().__init__(f"{source}: " + "; ".join(self.problems))

    def report(self) -> str:
        lines = [f"{self.source}: invalid configuration"]
        lines += [f"  {p}" for p in self.problems]
        return "\n".join(lines)


def format_loc(loc: Sequence[str | int]) -> str:
    """("cameras", 2, "rtsp_url") -> "cameras[2].rtsp_url"."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out


def _message(error: Any) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "missing":
        return "required key missing"
    expected = _EXPECTED.get(kind)
    if expected:
        got = error.get("input")
        return f"expected {expected}, got {type(got).__name__} {got!r}"
    message = str(error["msg"])
    return re.sub(r"^(Value error|Assertion failed), ", "", message)


_EXPECTED = {
    "string_type": "a string",
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "an integer",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "list_type": "a list",
    "dict_type": "a table",
    "model_type": "a table",
    "model_attributes_type": "a table",
}


def _loc_of(error: Any) -> list[str | int]:
    # pydantic puts union/function-validator tags into loc; keep only real keys.
    loc = [p for p in error["loc"] if not (isinstance(p, str) and p.startswith("function-"))]
    return loc


def validate(data: dict[str, Any], source: str, base_dir: Path) -> Settings:
    """Validate parsed TOML. Raises ConfigError naming every bad key path."""
    try:
        settings = Settings.model_validate({**data, "base_dir": base_dir})
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            loc = format_loc(_loc_of(error))
            problems.append(f"{loc}: {_message(error)}" if loc else _message(error))
        raise ConfigError(source, problems) from None
    if "base_dir" in data:
        raise ConfigError(source, ["base_dir: unknown key"])
    problems = _duplicate_camera_names(settings) + _plugin_switches(settings)
    if problems:
        raise ConfigError(source, problems)
    return settings


def _duplicate_camera_names(settings: Settings) -> list[str]:
    seen: dict[str, int] = {}
    problems = []
    for index, camera in enumerate(settings.cameras):
        if camera.name in seen:
            problems.append(
                f'cameras[{index}].name: duplicate camera name "{camera.name}" '
                f"(also cameras[{seen[camera.name]}])"
            )
        else:
            seen[camera.name] = index
    return problems


def _plugin_switches(settings: Settings) -> list[str]:
    return [
        f"plugins.{name}.enabled: expected true or false, got {table['enabled']!r}"
        for name, table in settings.plugins.items()
        if not isinstance(table.get("enabled", True), bool)
    ]


def load_config(path: Path | str) -> Settings:
    """Read and validate a vms.toml. Relative paths in it are relative to its folder."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(str(path), ["file not found"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(str(path), [f"cannot read: {exc}"]) from None
    return parse_config(text, source=str(path), base_dir=path.resolve().parent)


def parse_config(text: str, source: str = "<config>", base_dir: Path | None = None) -> Settings:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # tomllib says "... (at line 3, column 7)"; lead with the line so it is seen first.
        match = re.search(r"\(at line (\d+), column (\d+)\)", str(exc))
        if match:
            where = f"line {match.group(1)}, column {match.group(2)}"
        else:
            where = f"line {text.count(chr(10)) + 1} (end of file)"
        reason = re.sub(r"\s*\(at (line \d+, column \d+|end of document)\)", "", str(exc))
        raise ConfigError(source, [f"{where}: TOML syntax error: {reason}"]) from None
    return validate(data, source, base_dir or Path.cwd())
