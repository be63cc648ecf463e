"""SOAP 1.2 envelopes as ONVIF cameras write them, and parsing of the requests they get.

Replies carry the same namespace prefixes as real cameras (SOAP-ENV, tt, tds, trt, tptz,
ter, ...), declared once on the Envelope, so clients that match on prefixes work too.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

import defusedxml.ElementTree as DET
from defusedxml import DefusedXmlException

SOAP_ENV = "http://www.w3.org/2003/05/soap-envelope"
NS = {
    "SOAP-ENV": SOAP_ENV,
    "SOAP-ENC": "http://www.w3.org/2003/05/soap-encoding",
    "xsi": "http://www.w3.org/2001/XMLSchema-instance",
    "xsd": "http://www.w3.org/2001/XMLSchema",
    "wsa5": "http://www.w3.org/2005/08/addressing",
    "wsu": "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd",
    "wsse": "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd",
    "tt": "http://www.onvif.org/ver10/schema",
    "tds": "http://www.onvif.org/ver10/device/wsdl",
    "trt": "http://www.onvif.org/ver10/media/wsdl",
    "tptz": "http://www.onvif.org/ver20/ptz/wsdl",
    "tev": "http://www.onvif.org/ver10/events/wsdl",
    "timg": "http://www.onvif.org/ver20/imaging/wsdl",
    "wsnt": "http://docs.oasis-open.org/wsn/b-2",
    "wstop": "http://docs.oasis-open.org/wsn/t-1",
    "tns1": "http://www.onvif.org/ver10/topics",
    "ter": "http://www.onvif.org/ver10/error",
}
_ENVELOPE_OPEN = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<SOAP-ENV:Envelope '
    + " ".join(f'xmlns:{prefix}="{uri}"' for prefix, uri in NS.items())
    + ">"
)


def text(value: object) -> str:
    """Escape a value for element content; booleans as xsd:boolean."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return escape(str(value))


def attr(value: object) -> str:
    """A quoted, escaped attribute value."""
    return quoteattr(str(value))


def envelope(body: str, header: str = "") -> str:
    head = f"<SOAP-ENV:Header>{header}</SOAP-ENV:Header>" if header else ""
    return f"{_ENVELOPE_OPEN}{head}<SOAP-ENV:Body>{body}</SOAP-ENV:Body></SOAP-ENV:Envelope>\n"


class SoapFault(Exception):
    """A fault to send back: HTTP status, SOAP Code (Sender/Receiver), ter: subcodes."""

    def __init__(self, status: int, code: str, subcodes: tuple[str, ...], reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.code = code
        self.subcodes = subcodes
        self.reason = reason

    def to_xml(self) -> str:
        nested = ""
        for sub in reversed(self.subcodes):
            nested = f"<SOAP-ENV:Subcode><SOAP-ENV:Value>{text(sub)}</SOAP-ENV:Value>{nested}"
            nested += "</SOAP-ENV:Subcode>"
        return envelope(
            "<SOAP-ENV:Fault><SOAP-ENV:Code>"
            f"<SOAP-ENV:Value>SOAP-ENV:{self.code}</SOAP-ENV:Value>{nested}</SOAP-ENV:Code>"
            f'<SOAP-ENV:Reason><SOAP-ENV:Text xml:lang="en">{text(self.reason)}'
            "</SOAP-ENV:Text></SOAP-ENV:Reason></SOAP-ENV:Fault>"
        )


def not_authorized() -> SoapFault:
    return SoapFault(400, "Sender", ("ter:NotAuthorized",), "Sender not authorized")


def action_not_supported(operation: str) -> SoapFault:
    # SOAP 1.2 HTTP binding: Receiver faults travel with status 500.
    return SoapFault(
        500,
        "Receiver",
        ("ter:ActionNotSupported",),
        f"Optional Action Not Implemented: {operation}",
    )


def invalid_arg(subcode: str, reason: str) -> SoapFault:
    return SoapFault(400, "Sender", ("ter:InvalidArgVal", subcode), reason)


def well_formed_error(reason: str) -> SoapFault:
    return SoapFault(400, "Sender", ("ter:WellFormed",), reason)


@dataclass(frozen=True, slots=True)
class SoapRequest:
    """A parsed request: the Body's first element and the Header (if any)."""

    operation: ET.Element
    header: ET.Element | None

    @property
    def namespace(self) -> str:
        return self.operation.tag[1:].split("}", 1)[0] if self.operation.tag[0] == "{" else ""

    @property
    def name(self) -> str:
        return self.operation.tag.rsplit("}", 1)[-1]


def parse_request(payload: bytes) -> SoapRequest:
    """Parse a SOAP 1.2 (or 1.1) request; DTDs and entities are refused."""
    try:
        root = DET.fromstring(payload, forbid_dtd=True)
    except (DET.ParseError, DefusedXmlException) as err:
        raise well_formed_error(f"Malformed request: {err}") from None
    if local_name(root.tag) != "Envelope":
        raise well_formed_error("Not a SOAP envelope")
    header = None
    body = None
    for child in root:
        if local_name(child.tag) == "Header":
            header = child
        elif local_name(child.tag) == "Body":
            body = child
    if body is None or len(body) == 0:
        raise well_formed_error("SOAP Body is missing or empty")
    return SoapRequest(operation=body[0], header=header)


def local_name(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def child(element: ET.Element | None, name: str) -> ET.Element | None:
    """First child with this local name, whatever its namespace (clients vary)."""
    if element is None:
        return None
    for item in element:
        if local_name(item.tag) == name:
            return item
    return None


def child_text(element: ET.Element | None, name: str) -> str | None:
    found = child(element, name)
    if found is None or found.text is None:
        return None
    return found.text.strip()
