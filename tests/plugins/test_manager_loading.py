import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from vms_sdk import API_VERSION

from tests.plugins import plugin_sources as src
from tests.plugins.conftest import MemoryServices, readable_dir, started
from vms_core.plugins import PluginManager


def status(manager: PluginManager) -> dict[str, tuple[str, str]]:
    return {s.name: (s.state, s.reason) for s in manager.list()}


@pytest.mark.allow_error_logs(
    "plug-in \\S+ \\(.*\\) refused", reason="refusing a broken plug-in is what the test checks"
)
async def test_incompatible_api_version_is_refused_with_a_clear_message(
    services: MemoryServices, plugin_dir: Callable[[str, str], Path]
) -> None:
    folder = plugin_dir("future", src.FUTURE_API)
    plugin_dir("good", src.GOOD)
    manager = await started(PluginManager(services, folders=[folder], use_entry_points=False))
    state, reason = status(manager)["future"]
    assert state == "refused"
    assert f"plug-in targets API 2.0, host provides API {API_VERSION}" in reason
    assert status(manager)["good"][0] == "running"
    await manager.stop()


@pytest.mark.allow_error_logs(
    "plug-in \\S+ \\(.*\\) refused", reason="refusing a broken plug-in is what the test checks"
)
async def test_config_error_names_the_key(
    services: MemoryServices, plugin_dir: Callable[[str, str], Path]
) -> None:
    folder = plugin_dir("strict", src.STRICT_CONFIG)
    manager = PluginManager(
        services, {"strict": {"api_key": "oops"}}, [folder], use_entry_points=False
    )
    await started(manager)
    assert status(manager)["strict"] == ("refused", "plugins.strict.api_key: must start with 'k-'")

    fixed = PluginManager(
        services, {"strict": {"api_key": "k-1"}}, [folder], use_entry_points=False
    )
    await started(fixed)
    assert status(fixed)["strict"][0] == "running"
    await fixed.stop()


async def test_disabled_plugin_is_never_imported(
    services: MemoryServices, plugin_dir: Callable[[str, str], Path]
) -> None:
    folder = plugin_dir("explodes", src.EXPLODES_ON_IMPORT)
    manager = PluginManager(
        services, {"explodes": {"enabled": False}}, [folder], use_entry_points=False
    )
    await started(manager)
    assert status(manager) == {"explodes": ("disabled", "")}


@pytest.mark.allow_error_logs(
    "plug-in \\S+ \\(.*\\) refused", reason="refusing a broken plug-in is what the test checks"
)
async def test_broken_plugins_are_refused_with_reasons(
    services: MemoryServices, plugin_dir: Callable[[str, str], Path]
) -> None:
    plugin_dir("noinfo", src.NO_INFO)
    plugin_dir("typo", src.TYPO)
    folder = plugin_dir("explodes", src.EXPLODES_ON_IMPORT)
    manager = await started(PluginManager(services, folders=[folder], use_entry_points=False))
    found = status(manager)
    assert found["noinfo"] == ("refused", "does not implement vms_plugin_info (required)")
    assert found["typo"] == ("refused", "implements unknown hook(s) vms_on_evnt")
    assert found["explodes"][0] == "refused"
    assert found["explodes"][1] == (
        "import failed: ImportError: SystemExit: this plug-in must never be imported when disabled"
    )


async def test_package_folder_plugin_with_relative_import(
    services: MemoryServices, tmp_path: Path
) -> None:
    pkg = tmp_path / "plugins" / "pkgplug"
    pkg.mkdir(parents=True)
    (pkg / "helpers.py").write_text("NAME = 'pkgplug'\n")
    (pkg / "__init__.py").write_text(
        textwrap.dedent(
            """
            from vms_sdk import PluginInfo, hookimpl
            from .helpers import NAME

            @hookimpl
            def vms_plugin_info():
                return PluginInfo(NAME, "0.1")
            """
        )
    )
    manager = await started(
        PluginManager(services, folders=[tmp_path / "plugins"], use_entry_points=False)
    )
    [line] = manager.list()
    assert (line.name, line.state, line.source) == ("pkgplug", "running", str(pkg))
    await manager.stop()


@pytest.fixture
def installed_distribution(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    """A tiny plug-in distribution made visible to importlib.metadata via sys.path (here)
    and PYTHONPATH (in runners).

    Same metadata pip writes (dist-info with entry_points.txt), without touching the
    shared virtualenv, so it is safe under pytest-xdist.
    """
    site = readable_dir(tmp_path_factory.mktemp("site"))
    dist_info = site / "vms_plugin_hello-0.3.0.dist-info"
    dist_info.mkdir(parents=True)
    (dist_info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: vms-plugin-hello\nVersion: 0.3.0\n"
    )
    (dist_info / "entry_points.txt").write_text("[vms.plugins]\nhello = vms_plugin_hello\n")
    (site / "vms_plugin_hello.py").write_text(
        textwrap.dedent(
            """
            from vms_sdk import PluginInfo, hookimpl

            @hookimpl
            def vms_plugin_info():
                return PluginInfo("hello", "0.3.0", description="says hello")
            """
        )
    )
    sys.path.insert(0, str(site))
    monkeypatch.setenv("PYTHONPATH", str(site))
    yield site
    sys.path.remove(str(site))
    sys.modules.pop("vms_plugin_hello", None)


async def test_entry_point_discovery(
    services: MemoryServices, installed_distribution: Path
) -> None:
    only = frozenset({"hello"})  # not the built-ins installed beside it
    manager = PluginManager(services, {"hello": {"greeting": "hi"}}, allow=only)
    await started(manager)
    line = {s.name: s for s in manager.list()}["hello"]
    assert (line.state, line.version, line.description) == ("running", "0.3.0", "says hello")
    assert line.source == "entry point vms_plugin_hello from vms-plugin-hello 0.3.0"
    await manager.stop()

    off = PluginManager(services, {"hello": {"enabled": False}}, allow=only)
    await started(off)
    assert {s.name: s.state for s in off.list()}["hello"] == "disabled"
