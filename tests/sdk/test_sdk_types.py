from datetime import UTC, datetime

import numpy as np
import pytest
from vms_sdk import (
    API_VERSION,
    MAX_JSON_DEPTH,
    BadRequest,
    Camera,
    Event,
    HttpError,
    HttpRequest,
    HttpResponse,
    IncompatiblePluginError,
    NotFound,
    PluginInfo,
    Principal,
    Route,
    Severity,
    bearing_deg,
    cameras_near,
    check_api_compatible,
    haversine_m,
    parse_json,
)
from vms_sdk.testing import make_frame


def test_haversine_known_distances() -> None:
    # Paris (Notre-Dame) to London (Big Ben): about 343.5 km.
    assert haversine_m(48.8530, 2.3499, 51.5007, -0.1246) == pytest.approx(343_500, rel=0.005)
    # One degree of latitude is about 111.2 km everywhere.
    assert haversine_m(10.0, 20.0, 11.0, 20.0) == pytest.approx(111_195, rel=0.001)
    assert haversine_m(40.0, -75.0, 40.0, -75.0) == 0.0


def test_bearing_cardinal_directions() -> None:
    assert bearing_deg(0, 0, 1, 0) == pytest.approx(0.0)
    assert bearing_deg(0, 0, 0, 1) == pytest.approx(90.0)
    assert bearing_deg(0, 0, -1, 0) == pytest.approx(180.0)
    assert bearing_deg(0, 0, 0, -1) == pytest.approx(270.0)


def test_cameras_near_ranks_facing_cameras_first() -> None:
    spot = (40.0, -75.0)
    d = 0.0009  # about 100 m of latitude
    cams = [
        # 50 m south of the spot, pointing south (away): close but useless.
        Camera("away", "away", lat=40.0 - d / 2, lon=-75.0, heading_deg=180, fov_deg=60),
        # 100 m south, pointing north at the spot.
        Camera("facing", "facing", lat=40.0 - d, lon=-75.0, heading_deg=0, fov_deg=60),
        # 80 m north, heading unknown.
        Camera("unknown", "unknown", lat=40.0 + d * 0.8, lon=-75.0),
        # far away and without a position: excluded.
        Camera("far", "far", lat=41.0, lon=-75.0, heading_deg=180),
        Camera("nowhere", "nowhere"),
    ]
    ranked = cameras_near(cams, *spot, radius_m=200)
    assert [n.camera.id for n in ranked] == ["facing", "unknown", "away"]
    assert [n.facing for n in ranked] == [True, None, False]
    assert ranked[0].distance_m == pytest.approx(100, rel=0.01)


def test_event_rejects_naive_time_and_freezes_ids() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        Event("x.y", time=datetime(2024, 1, 1))
    ev = Event("x.y", camera_ids=["a", "b"], severity="high")  # type: ignore[arg-type]
    assert ev.camera_ids == ("a", "b")
    assert ev.severity is Severity.HIGH
    assert ev.time.tzinfo is UTC
    assert Severity.CRITICAL.rank > Severity.LOW.rank


def test_route_matching_with_placeholders() -> None:
    route = Route("get", "/cameras/{cid}/reads", lambda r: HttpResponse())
    assert route.match("GET", "/cameras/c7/reads") == {"cid": "c7"}
    assert route.match("POST", "/cameras/c7/reads") is None
    assert route.match("GET", "/cameras//reads") is None
    assert route.match("GET", "/cameras/c7") is None


def test_http_response_payload() -> None:
    assert HttpResponse(json={"a": 1}).payload() == (b'{"a": 1}', "application/json")
    assert HttpResponse(body=b"hi").payload() == (b"hi", "text/plain; charset=utf-8")


def test_plugin_info_name_rules() -> None:
    assert PluginInfo("alpr_x", "1").api_version == API_VERSION
    with pytest.raises(ValueError):
        PluginInfo("Bad-Name", "1")


def test_frame_format_from_shape() -> None:
    assert make_frame("c", 32, 18, fmt="gray").fmt == "gray"
    frame = make_frame("c", image=np.zeros((18, 32, 3), np.uint8))
    assert (frame.width, frame.height, frame.fmt) == (32, 18, "bgr24")


@pytest.mark.parametrize("plugin_api", ["1.0", "1"])
def test_compatible_versions_pass(plugin_api: str) -> None:
    check_api_compatible(plugin_api, "1.2")


def test_other_major_refused_with_clear_message() -> None:
    with pytest.raises(IncompatiblePluginError, match=r"major versions differ \(2 != 1\)"):
        check_api_compatible("2.0", "1.4")


def test_newer_minor_refused() -> None:
    with pytest.raises(IncompatiblePluginError, match="upgrade the server"):
        check_api_compatible("1.5", "1.4")


def test_garbage_version_refused() -> None:
    with pytest.raises(IncompatiblePluginError, match=r"MAJOR\.MINOR"):
        check_api_compatible("one", "1.0")


def test_principal_roles_and_visible_cameras() -> None:
    viewer = Principal(3, "vic", "viewer", ["1", 2])  # type: ignore[arg-type]
    assert viewer.camera_ids == frozenset({"1", "2"})
    assert viewer.can_see("2") and not viewer.can_see("3") and not viewer.all_cameras
    assert viewer.visible(["1", "2", "3"], str) == ["1", "2"]
    assert viewer.has_role("viewer") and not viewer.has_role("operator")
    admin = Principal(1, "ada", "admin")
    assert admin.all_cameras and admin.can_see("99") and admin.has_role("operator")
    with pytest.raises(ValueError, match="role"):
        Principal(2, "x", "root")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="public"):
        Route("POST", "/hook", lambda r: HttpResponse(), public=True, role="admin")
    guarded = Route("PUT", "/x", lambda r: HttpResponse(), role="operator")
    assert not guarded.admits(viewer) and guarded.admits(admin) and not guarded.admits(None)


def test_json_bodies_are_bounded_and_errors_are_client_errors() -> None:
    assert parse_json(b'{"a": [1, {"b": null}]}') == {"a": [1, {"b": None}]}
    assert parse_json(b"") is None
    assert parse_json(b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH) is not None
    for bad, says in [
        (b"[" * (MAX_JSON_DEPTH + 1) + b"]" * (MAX_JSON_DEPTH + 1), "nested"),
        (b"[" * 100_000, "nested"),
        (b"\xff\xfe", "UTF-8"),
        (b"{1: 2}", "not valid JSON"),
        (b"1" * 5000, "not valid JSON"),
    ]:
        with pytest.raises(BadRequest, match=says) as refused:
            parse_json(bad)
        assert refused.value.status == 400 and isinstance(refused.value, ValueError)
    with pytest.raises(BadRequest):
        HttpRequest("POST", "/x", body=b"[" * 100_000).json()
    assert NotFound("no such read").status == 404
    assert HttpError("slow down", status=429).code == "too_many_requests"
    with pytest.raises(ValueError, match="400-499"):
        HttpError("oops", status=500)
