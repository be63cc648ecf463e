"""PTZ (tptz, ver20) replies and commands, driving the camera's PtzState."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime

from vms_core.simulator.context import CallContext, Handler
from vms_core.simulator.ptz import DEFAULT_MOVE_TIMEOUT_S, PtzPosition, PtzState, PtzVelocity
from vms_core.simulator.soap import SoapFault, attr, child, child_text, invalid_arg, text

PTZ_NODE = "ptznode0"
PTZ_CONFIGURATION = "ptzcfg0"
_SPACE = "http://www.onvif.org/ver10/tptz"
PAN_TILT_POSITION_SPACE = f"{_SPACE}/PanTiltSpaces/PositionGenericSpace"
ZOOM_POSITION_SPACE = f"{_SPACE}/ZoomSpaces/PositionGenericSpace"
PAN_TILT_VELOCITY_SPACE = f"{_SPACE}/PanTiltSpaces/VelocityGenericSpace"
ZOOM_VELOCITY_SPACE = f"{_SPACE}/ZoomSpaces/VelocityGenericSpace"
PAN_TILT_SPEED_SPACE = f"{_SPACE}/PanTiltSpaces/GenericSpeedSpace"
ZOOM_SPEED_SPACE = f"{_SPACE}/ZoomSpaces/ZoomGenericSpeedSpace"
_DURATION = re.compile(
    r"^P(?:(?P<d>\d+(?:\.\d+)?)D)?(?:T(?:(?P<h>\d+(?:\.\d+)?)H)?"
    r"(?:(?P<m>\d+(?:\.\d+)?)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?$"
)


def parse_duration(value: str | None, default: float) -> float:
    """xsd:duration such as PT5S, PT0.5S, PT1M -> seconds; default if absent or unreadable."""
    if not value:
        return default
    match = _DURATION.match(value.strip())
    if match is None:
        return default
    parts = {k: float(v) if v else 0.0 for k, v in match.groupdict().items()}
    return parts["d"] * 86400 + parts["h"] * 3600 + parts["m"] * 60 + parts["s"]


def _range(low: float, high: float, axes: str = "XY") -> str:
    return "".join(
        f"<tt:{axis}Range><tt:Min>{low:g}</tt:Min><tt:Max>{high:g}</tt:Max></tt:{axis}Range>"
        for axis in axes
    )


def ptz_configuration(element: str = "tt:PTZConfiguration") -> str:
    return (
        f'<{element} token="{PTZ_CONFIGURATION}"><tt:Name>{PTZ_CONFIGURATION}</tt:Name>'
        f"<tt:UseCount>2</tt:UseCount><tt:NodeToken>{PTZ_NODE}</tt:NodeToken>"
        f"<tt:DefaultAbsolutePantTiltPositionSpace>{PAN_TILT_POSITION_SPACE}"
        "</tt:DefaultAbsolutePantTiltPositionSpace>"
        f"<tt:DefaultAbsoluteZoomPositionSpace>{ZOOM_POSITION_SPACE}"
        "</tt:DefaultAbsoluteZoomPositionSpace>"
        f"<tt:DefaultContinuousPanTiltVelocitySpace>{PAN_TILT_VELOCITY_SPACE}"
        "</tt:DefaultContinuousPanTiltVelocitySpace>"
        f"<tt:DefaultContinuousZoomVelocitySpace>{ZOOM_VELOCITY_SPACE}"
        "</tt:DefaultContinuousZoomVelocitySpace>"
        "<tt:DefaultPTZSpeed>"
        f'<tt:PanTilt x="1" y="1" space="{PAN_TILT_SPEED_SPACE}"/>'
        f'<tt:Zoom x="1" space="{ZOOM_SPEED_SPACE}"/></tt:DefaultPTZSpeed>'
        f"<tt:DefaultPTZTimeout>PT{DEFAULT_MOVE_TIMEOUT_S:g}S</tt:DefaultPTZTimeout>"
        "<tt:PanTiltLimits><tt:Range>"
        f"<tt:URI>{PAN_TILT_POSITION_SPACE}</tt:URI>{_range(-1, 1)}</tt:Range></tt:PanTiltLimits>"
        "<tt:ZoomLimits><tt:Range>"
        f"<tt:URI>{ZOOM_POSITION_SPACE}</tt:URI>{_range(0, 1, 'X')}</tt:Range></tt:ZoomLimits>"
        f"</{element}>"
    )


def _space(tag: str, uri: str, low: float, high: float, axes: str) -> str:
    return f"<tt:{tag}><tt:URI>{uri}</tt:URI>{_range(low, high, axes)}</tt:{tag}>"


def _node(max_presets: int) -> str:
    return (
        f'<tptz:PTZNode token="{PTZ_NODE}" FixedHomePosition="false">'
        f"<tt:Name>{PTZ_NODE}</tt:Name><tt:SupportedPTZSpaces>"
        + _space("AbsolutePanTiltPositionSpace", PAN_TILT_POSITION_SPACE, -1, 1, "XY")
        + _space("AbsoluteZoomPositionSpace", ZOOM_POSITION_SPACE, 0, 1, "X")
        + _space("ContinuousPanTiltVelocitySpace", PAN_TILT_VELOCITY_SPACE, -1, 1, "XY")
        + _space("ContinuousZoomVelocitySpace", ZOOM_VELOCITY_SPACE, -1, 1, "X")
        + _space("PanTiltSpeedSpace", PAN_TILT_SPEED_SPACE, 0, 1, "X")
        + _space("ZoomSpeedSpace", ZOOM_SPEED_SPACE, 0, 1, "X")
        + "</tt:SupportedPTZSpaces>"
        f"<tt:MaximumNumberOfPresets>{max_presets}</tt:MaximumNumberOfPresets>"
        "<tt:HomeSupported>true</tt:HomeSupported></tptz:PTZNode>"
    )


def _require_ptz(ctx: CallContext) -> PtzState:
    if ctx.ptz is None:
        raise SoapFault(
            500,
            "Receiver",
            ("ter:ActionNotSupported", "ter:PTZNotSupported"),
            "PTZ is not supported",
        )
    return ctx.ptz


def _position_xml(position: PtzPosition, element: str) -> str:
    return (
        f"<{element}>"
        f'<tt:PanTilt x="{position.pan:.6f}" y="{position.tilt:.6f}" '
        f'space="{PAN_TILT_POSITION_SPACE}"/>'
        f'<tt:Zoom x="{position.zoom:.6f}" space="{ZOOM_POSITION_SPACE}"/>'
        f"</{element}>"
    )


def _float_attr(element: ET.Element | None, name: str, default: float) -> float:
    if element is None:
        return default
    try:
        return float(element.get(name, default))
    except ValueError:
        raise invalid_arg("ter:InvalidVector", f"{name} is not a number") from None


def _vector(element: ET.Element | None, base: PtzPosition) -> PtzPosition:
    pan_tilt = child(element, "PanTilt")
    zoom = child(element, "Zoom")
    return PtzPosition(
        pan=_float_attr(pan_tilt, "x", base.pan),
        tilt=_float_attr(pan_tilt, "y", base.tilt),
        zoom=_float_attr(zoom, "x", base.zoom),
    )


def get_nodes(ctx: CallContext) -> str:
    _require_ptz(ctx)
    return f"<tptz:GetNodesResponse>{_node(len(ctx.camera.presets))}</tptz:GetNodesResponse>"


def get_node(ctx: CallContext) -> str:
    _require_ptz(ctx)
    node = _node(len(ctx.camera.presets))
    return f"<tptz:GetNodeResponse>{node}</tptz:GetNodeResponse>"


def get_configurations(ctx: CallContext) -> str:
    _require_ptz(ctx)
    return (
        "<tptz:GetConfigurationsResponse>"
        + ptz_configuration("tptz:PTZConfiguration")
        + "</tptz:GetConfigurationsResponse>"
    )


def get_status(ctx: CallContext) -> str:
    ptz = _require_ptz(ctx)
    velocity = ptz.velocity()
    pan_tilt_state = "MOVING" if velocity.moving_pan_tilt else "IDLE"
    zoom_state = "MOVING" if velocity.zoom != 0.0 else "IDLE"
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return (
        "<tptz:GetStatusResponse><tptz:PTZStatus>"
        + _position_xml(ptz.position(), "tt:Position")
        + f"<tt:MoveStatus><tt:PanTilt>{pan_tilt_state}</tt:PanTilt>"
        f"<tt:Zoom>{zoom_state}</tt:Zoom></tt:MoveStatus>"
        f"<tt:UtcTime>{now}</tt:UtcTime>"
        "</tptz:PTZStatus></tptz:GetStatusResponse>"
    )


def continuous_move(ctx: CallContext) -> str:
    ptz = _require_ptz(ctx)
    velocity = _vector(child(ctx.operation, "Velocity"), PtzPosition())
    timeout = parse_duration(child_text(ctx.operation, "Timeout"), DEFAULT_MOVE_TIMEOUT_S)
    ptz.continuous_move(PtzVelocity(velocity.pan, velocity.tilt, velocity.zoom), timeout)
    return "<tptz:ContinuousMoveResponse/>"


def stop(ctx: CallContext) -> str:
    ptz = _require_ptz(ctx)
    pan_tilt = (child_text(ctx.operation, "PanTilt") or "true").lower() != "false"
    zoom = (child_text(ctx.operation, "Zoom") or "true").lower() != "false"
    ptz.stop(pan_tilt=pan_tilt, zoom=zoom)
    return "<tptz:StopResponse/>"


def absolute_move(ctx: CallContext) -> str:
    ptz = _require_ptz(ctx)
    ptz.absolute_move(_vector(child(ctx.operation, "Position"), ptz.position()))
    return "<tptz:AbsoluteMoveResponse/>"


def get_presets(ctx: CallContext) -> str:
    _require_ptz(ctx)
    body = "".join(
        f"<tptz:Preset token={attr(p.token)}><tt:Name>{text(p.name)}</tt:Name>"
        + _position_xml(PtzPosition(p.pan, p.tilt, p.zoom), "tt:PTZPosition")
        + "</tptz:Preset>"
        for p in ctx.camera.presets
    )
    return f"<tptz:GetPresetsResponse>{body}</tptz:GetPresetsResponse>"


def goto_preset(ctx: CallContext) -> str:
    ptz = _require_ptz(ctx)
    token = child_text(ctx.operation, "PresetToken")
    for preset in ctx.camera.presets:
        if preset.token == token:
            ptz.absolute_move(PtzPosition(preset.pan, preset.tilt, preset.zoom))
            return "<tptz:GotoPresetResponse/>"
    raise invalid_arg("ter:NoToken", f"No such preset: {token}")


def goto_home_position(ctx: CallContext) -> str:
    _require_ptz(ctx).absolute_move(PtzPosition())
    return "<tptz:GotoHomePositionResponse/>"


HANDLERS: dict[str, Handler] = {
    "GetNodes": get_nodes,
    "GetNode": get_node,
    "GetConfigurations": get_configurations,
    "GetStatus": get_status,
    "ContinuousMove": continuous_move,
    "Stop": stop,
    "AbsoluteMove": absolute_move,
    "GetPresets": get_presets,
    "GotoPreset": goto_preset,
    "GotoHomePosition": goto_home_position,
}
