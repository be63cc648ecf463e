"""Device management (tds, ver10) replies, shaped like those of real cameras."""

from __future__ import annotations

import hashlib
from urllib.parse import quote, urlsplit

from vms_core.simulator.context import (
    DEVICE_PATH,
    EVENTS_PATH,
    MEDIA_PATH,
    PTZ_PATH,
    CallContext,
    Handler,
)
from vms_core.simulator.soap import NS, child_text, text


def scopes(camera_name: str, model: str, location: str) -> list[str]:
    return [
        "onvif://www.onvif.org/type/video_encoder",
        "onvif://www.onvif.org/Profile/Streaming",
        f"onvif://www.onvif.org/name/{quote(camera_name)}",
        f"onvif://www.onvif.org/hardware/{quote(model)}",
        f"onvif://www.onvif.org/location/{location}",
    ]


def camera_location(ctx: CallContext) -> str:
    return location_scope(ctx.camera.location, ctx.camera.lat, ctx.camera.lon)


def location_scope(location: str | None, lat: float | None, lon: float | None) -> str:
    if lat is not None and lon is not None:
        return f"{lat},{lon}"
    return quote(location or "city")


def get_system_date_and_time(ctx: CallContext) -> str:
    now = ctx.camera_now()
    return (
        "<tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime>"
        "<tt:DateTimeType>NTP</tt:DateTimeType><tt:DaylightSavings>false</tt:DaylightSavings>"
        "<tt:TimeZone><tt:TZ>UTC0</tt:TZ></tt:TimeZone>"
        "<tt:UTCDateTime>"
        f"<tt:Time><tt:Hour>{now.hour}</tt:Hour><tt:Minute>{now.minute}</tt:Minute>"
        f"<tt:Second>{now.second}</tt:Second></tt:Time>"
        f"<tt:Date><tt:Year>{now.year}</tt:Year><tt:Month>{now.month}</tt:Month>"
        f"<tt:Day>{now.day}</tt:Day></tt:Date>"
        "</tt:UTCDateTime>"
        "</tds:SystemDateAndTime></tds:GetSystemDateAndTimeResponse>"
    )


def get_device_information(ctx: CallContext) -> str:
    camera = ctx.camera
    return (
        "<tds:GetDeviceInformationResponse>"
        f"<tds:Manufacturer>{text(camera.manufacturer)}</tds:Manufacturer>"
        f"<tds:Model>{text(camera.model)}</tds:Model>"
        f"<tds:FirmwareVersion>{text(camera.firmware)}</tds:FirmwareVersion>"
        f"<tds:SerialNumber>{text(camera.serial_number)}</tds:SerialNumber>"
        f"<tds:HardwareId>{text(camera.model)}</tds:HardwareId>"
        "</tds:GetDeviceInformationResponse>"
    )


def _device_capabilities(ctx: CallContext) -> str:
    return (
        f"<tt:Device><tt:XAddr>{text(ctx.base_url + DEVICE_PATH)}</tt:XAddr>"
        "<tt:Network><tt:IPFilter>false</tt:IPFilter>"
        "<tt:ZeroConfiguration>false</tt:ZeroConfiguration>"
        "<tt:IPVersion6>false</tt:IPVersion6><tt:DynDNS>false</tt:DynDNS></tt:Network>"
        "<tt:System><tt:DiscoveryResolve>false</tt:DiscoveryResolve>"
        "<tt:DiscoveryBye>true</tt:DiscoveryBye><tt:RemoteDiscovery>false</tt:RemoteDiscovery>"
        "<tt:SystemBackup>false</tt:SystemBackup><tt:SystemLogging>false</tt:SystemLogging>"
        "<tt:FirmwareUpgrade>false</tt:FirmwareUpgrade>"
        "<tt:SupportedVersions><tt:Major>2</tt:Major><tt:Minor>60</tt:Minor>"
        "</tt:SupportedVersions></tt:System>"
        "<tt:IO><tt:InputConnectors>0</tt:InputConnectors>"
        "<tt:RelayOutputs>0</tt:RelayOutputs></tt:IO>"
        "<tt:Security><tt:TLS1.1>false</tt:TLS1.1><tt:TLS1.2>false</tt:TLS1.2>"
        "<tt:OnboardKeyGeneration>false</tt:OnboardKeyGeneration>"
        "<tt:AccessPolicyConfig>false</tt:AccessPolicyConfig>"
        "<tt:X.509Token>false</tt:X.509Token><tt:SAMLToken>false</tt:SAMLToken>"
        "<tt:KerberosToken>false</tt:KerberosToken><tt:RELToken>false</tt:RELToken>"
        "</tt:Security></tt:Device>"
    )


def _media_capabilities(ctx: CallContext) -> str:
    return (
        f"<tt:Media><tt:XAddr>{text(ctx.base_url + MEDIA_PATH)}</tt:XAddr>"
        "<tt:StreamingCapabilities><tt:RTPMulticast>false</tt:RTPMulticast>"
        "<tt:RTP_TCP>true</tt:RTP_TCP><tt:RTP_RTSP_TCP>true</tt:RTP_RTSP_TCP>"
        "</tt:StreamingCapabilities></tt:Media>"
    )


def _events_capabilities(ctx: CallContext) -> str:
    return (
        f"<tt:Events><tt:XAddr>{text(ctx.base_url + EVENTS_PATH)}</tt:XAddr>"
        "<tt:WSSubscriptionPolicySupport>false</tt:WSSubscriptionPolicySupport>"
        "<tt:WSPullPointSupport>true</tt:WSPullPointSupport>"
        "<tt:WSPausableSubscriptionManagerInterfaceSupport>false"
        "</tt:WSPausableSubscriptionManagerInterfaceSupport></tt:Events>"
    )


def get_capabilities(ctx: CallContext) -> str:
    category = child_text(ctx.operation, "Category") or "All"
    parts = {
        "Device": _device_capabilities(ctx),
        "Events": _events_capabilities(ctx),
        "Media": _media_capabilities(ctx),
    }
    if ctx.camera.ptz:
        parts["PTZ"] = f"<tt:PTZ><tt:XAddr>{text(ctx.base_url + PTZ_PATH)}</tt:XAddr></tt:PTZ>"
    chosen = parts.values() if category == "All" else [parts.get(category, "")]
    return (
        "<tds:GetCapabilitiesResponse><tds:Capabilities>"
        + "".join(chosen)
        + "</tds:Capabilities></tds:GetCapabilitiesResponse>"
    )


def get_services(ctx: CallContext) -> str:
    services = [
        (NS["tds"], DEVICE_PATH, 2, 60),
        (NS["trt"], MEDIA_PATH, 2, 60),
        (NS["tev"], EVENTS_PATH, 2, 60),
    ]
    if ctx.camera.ptz:
        services.append((NS["tptz"], PTZ_PATH, 2, 60))
    body = "".join(
        f"<tds:Service><tds:Namespace>{text(namespace)}</tds:Namespace>"
        f"<tds:XAddr>{text(ctx.base_url + path)}</tds:XAddr>"
        f"<tds:Version><tt:Major>{major}</tt:Major><tt:Minor>{minor}</tt:Minor></tds:Version>"
        "</tds:Service>"
        for namespace, path, major, minor in services
    )
    return f"<tds:GetServicesResponse>{body}</tds:GetServicesResponse>"


def get_scopes(ctx: CallContext) -> str:
    items = scopes(ctx.camera.name, ctx.camera.model, camera_location(ctx))
    body = "".join(
        f"<tds:Scopes><tt:ScopeDef>{'Fixed' if i < 2 else 'Configurable'}</tt:ScopeDef>"
        f"<tt:ScopeItem>{text(item)}</tt:ScopeItem></tds:Scopes>"
        for i, item in enumerate(items)
    )
    return f"<tds:GetScopesResponse>{body}</tds:GetScopesResponse>"


def get_hostname(ctx: CallContext) -> str:
    return (
        "<tds:GetHostnameResponse><tds:HostnameInformation>"
        f"<tt:FromDHCP>false</tt:FromDHCP><tt:Name>{text(ctx.camera.name)}</tt:Name>"
        "</tds:HostnameInformation></tds:GetHostnameResponse>"
    )


def mac_address(camera_name: str) -> str:
    """A stable, locally administered MAC per camera."""
    raw = bytearray(hashlib.sha256(camera_name.encode()).digest()[:6])
    raw[0] = (raw[0] | 0x02) & 0xFE
    return ":".join(f"{b:02x}" for b in raw)


def get_network_interfaces(ctx: CallContext) -> str:
    address = urlsplit(ctx.base_url).hostname or "127.0.0.1"
    return (
        '<tds:GetNetworkInterfacesResponse><tds:NetworkInterfaces token="eth0">'
        "<tt:Enabled>true</tt:Enabled>"
        f"<tt:Info><tt:Name>eth0</tt:Name><tt:HwAddress>{mac_address(ctx.camera.name)}"
        "</tt:HwAddress><tt:MTU>1500</tt:MTU></tt:Info>"
        "<tt:IPv4><tt:Enabled>true</tt:Enabled><tt:Config>"
        f"<tt:Manual><tt:Address>{text(address)}</tt:Address>"
        "<tt:PrefixLength>24</tt:PrefixLength></tt:Manual>"
        "<tt:DHCP>false</tt:DHCP></tt:Config></tt:IPv4>"
        "</tds:NetworkInterfaces></tds:GetNetworkInterfacesResponse>"
    )


HANDLERS: dict[str, Handler] = {
    "GetSystemDateAndTime": get_system_date_and_time,
    "GetDeviceInformation": get_device_information,
    "GetCapabilities": get_capabilities,
    "GetServices": get_services,
    "GetScopes": get_scopes,
    "GetHostname": get_hostname,
    "GetNetworkInterfaces": get_network_interfaces,
}
