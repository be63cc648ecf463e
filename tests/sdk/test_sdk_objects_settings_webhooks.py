"""SDK 1.2: plug-ins as objects, refused hook options, the retiring-hook warning path,
the settings helper's key paths, signed webhooks, and VMS_TRACE_PLUGINS."""

from __future__ import annotations

import logging
from typing import Annotated, Any

import pluggy
import pytest
from pydantic import Field
from vms_sdk import ConfigError, HttpRequest, HttpResponse, PluginInfo, Route, hookimpl
from vms_sdk.errors import HttpError, Unauthorized
from vms_sdk.hookspecs import PROJECT_NAME
from vms_sdk.plugin import Plugin
from vms_sdk.runtime.loading import PluginRefused, new_pluggy, register
from vms_sdk.settings import Number, PluginSettings, Whole
from vms_sdk.testing import MemoryKeyValueStore, PluginTestHost
from vms_sdk.webhooks import SignedWebhook, sign


class Spot(PluginSettings):
    name: str
    lat: Annotated[Number, Field(ge=-90, le=90)]


class CounterSettings(PluginSettings):
    step: Annotated[Whole, Field(ge=1)] = 1
    spots: list[Spot] = []


class Counter(Plugin[CounterSettings]):
    """A plug-in object: its state is an attribute, not a module global."""

    info = PluginInfo("counter", "1.0.0")
    settings_type = CounterSettings

    async def start(self) -> None:
        self.count = 0

    @hookimpl
    def vms_routes(self) -> list[Route]:
        return [Route("POST", "/add", self.add)]

    def add(self, request: HttpRequest) -> HttpResponse:
        self.count += self.settings.step
        return HttpResponse(json={"count": self.count})


async def test_a_plugin_class_gets_an_instance_of_its_own_per_host() -> None:
    async with PluginTestHost(Counter, {"step": 2}) as one, PluginTestHost(Counter) as two:
        assert (await one.request("POST", "/add")).decoded_json() == {"count": 2}
        assert (await one.request("POST", "/add")).decoded_json() == {"count": 4}
        assert (await two.request("POST", "/add")).decoded_json() == {"count": 1}


@pytest.mark.parametrize(
    ("config", "key"),
    [
        ({"step": 0}, "step"),
        ({"stpe": 1}, "stpe"),
        ({"spots": [{"name": "a", "lat": 1}, {"name": "b", "lat": 91}]}, "spots[1].lat"),
        ({"spots": [{"lat": 1}]}, "spots[0].name"),
        ({"step": True}, "step"),
    ],
)
async def test_settings_errors_keep_their_key_paths(config: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        await PluginTestHost(Counter, config).start()
    assert caught.value.key == key, caught.value


def test_unknown_settings_name_the_known_ones() -> None:
    with pytest.raises(ConfigError) as caught:
        CounterSettings.parse({"stpe": 2})
    assert caught.value.message == "unknown setting (known: spots, step)"


class Wrapper:
    @hookimpl(hookwrapper=True)
    def vms_on_event(self) -> Any:
        yield


class First:
    @hookimpl(tryfirst=True)
    def vms_plugin_info(self) -> PluginInfo:
        return PluginInfo("first", "1.0.0")


@pytest.mark.parametrize(("plugin", "option"), [(Wrapper(), "hookwrapper"), (First(), "tryfirst")])
def test_hook_options_the_host_cannot_honour_are_refused(plugin: object, option: str) -> None:
    with pytest.raises(PluginRefused, match=f"@hookimpl\\({option}=True\\) is not supported"):
        register(new_pluggy(), plugin, "x")
    with pytest.raises(PluginRefused):
        PluginTestHost(plugin)


def test_a_retiring_hook_loads_with_a_warning_for_the_operator() -> None:
    """hookspecs.retiring() is pluggy's warn_on_impl; the host reports what it says."""
    spec = pluggy.HookspecMarker(PROJECT_NAME)

    class Specs:
        @spec(warn_on_impl=DeprecationWarning("vms_old is retired in API 2.0; use vms_new"))
        def vms_old(self) -> None: ...

    class Old:
        @hookimpl
        def vms_old(self) -> None: ...

    pm = new_pluggy()
    pm.add_hookspecs(Specs)
    warnings = register(pm, Old(), "old")
    assert warnings == ["vms_old is retired in API 2.0; use vms_new"]


def test_signed_webhook_accepts_once_and_refuses_forgeries_old_stamps_and_replays() -> None:
    secret = "0123456789abcdef0123"
    now = [1_000_000.0]
    hook = SignedWebhook(MemoryKeyValueStore(), secret, window_s=300, clock=lambda: now[0])
    body = b'{"lat": 1}'

    def request(stamp: float, signature: str) -> HttpRequest:
        headers = {"X-Timestamp": str(int(stamp)), "X-Signature": signature}
        return HttpRequest("POST", "/alerts", headers=headers, body=body)

    good = sign(secret, int(now[0]), body)
    hook.verify(request(now[0], good))
    with pytest.raises(HttpError) as replayed:
        hook.verify(request(now[0], good))
    assert (replayed.value.status, replayed.value.code) == (409, "replayed")
    with pytest.raises(Unauthorized, match="bad signature"):
        hook.verify(request(now[0], sign("another secret of 16+", int(now[0]), body)))
    old = now[0] - 301
    with pytest.raises(Unauthorized, match="outside the 300 s window"):
        hook.verify(request(old, sign(secret, int(old), body)))
    now[0] += 1000  # the remembered signature is forgotten once it cannot pass anyway
    fresh = sign(secret, int(now[0]), body)
    hook.verify(request(now[0], fresh))


async def test_trace_logs_every_hook_call_with_its_duration(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("VMS_TRACE_PLUGINS", "1")
    with caplog.at_level(logging.INFO, logger="vms.plugins.trace"):
        async with PluginTestHost(Counter) as host:
            await host.request("POST", "/add")
    traced = [r.getMessage() for r in caplog.records if r.name == "vms.plugins.trace"]
    assert any(m.startswith("plug-in counter route POST /add: ok in ") for m in traced), traced
    assert any("vms_startup: ok in" in m for m in traced), traced
