"""WS-Management SOAP envelopes for the test endpoint: parse a request, build answers and faults.

Only what pypsrp and pywinrm send and read: MS-WSMV's shell operations (Create,
Command, Send, Receive, Signal, Delete) on the PowerShell and cmd resource URIs.
"""
from __future__ import annotations

import re
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass

NS = {
    "s": "http://www.w3.org/2003/05/soap-envelope",
    "wsa": "http://schemas.xmlsoap.org/ws/2004/08/addressing",
    "wsman": "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd",
    "wsmv": "http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd",
    "rsp": "http://schemas.microsoft.com/wbem/wsman/1/windows/shell",
    "x": "http://schemas.xmlsoap.org/ws/2004/09/transfer",
    "f": "http://schemas.microsoft.com/wbem/wsman/1/wsmanfault",
    "pwsh": "http://schemas.microsoft.com/powershell",
    "xml": "http://www.w3.org/XML/1998/namespace",
}
for _prefix, _uri in NS.items():
    if _prefix != "xml":
        ET.register_namespace(_prefix, _uri)

TRANSFER = "http://schemas.xmlsoap.org/ws/2004/09/transfer/"
SHELL = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/"
ACTIONS = {
    TRANSFER + "Create": "Create", TRANSFER + "Delete": "Delete", TRANSFER + "Get": "Get",
    SHELL + "Command": "Command", SHELL + "Send": "Send", SHELL + "Receive": "Receive", SHELL + "Signal": "Signal",
    SHELL + "Connect": "Connect", SHELL + "Reconnect": "Reconnect", SHELL + "Disconnect": "Disconnect",
}
RESPONSE_ACTION = {"Create": TRANSFER + "CreateResponse", "Delete": TRANSFER + "DeleteResponse",
                   "Command": SHELL + "CommandResponse", "Send": SHELL + "SendResponse",
                   "Receive": SHELL + "ReceiveResponse", "Signal": SHELL + "SignalResponse"}
CMD_URI = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd"
POWERSHELL_URI_PREFIX = "http://schemas.microsoft.com/powershell/"
FAULT_ACTION = "http://schemas.dmtf.org/wbem/wsman/1/wsman/fault"
COMMAND_STATE = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/CommandState/"

# MS-WSMV fault codes used by the endpoint
OPERATION_TIMEOUT = 2150858793
SHELL_NOT_FOUND = 2150858843
ACCESS_DENIED = 5
QUOTA_MAX_SHELLS = 2150859173
UNSUPPORTED = 2150858782
INVALID = 2150858769


def q(prefix: str, name: str) -> str:
    return f"{{{NS[prefix]}}}{name}"


class WSManFault(Exception):
    """Answered as a SOAP fault with a WSManFault detail (HTTP 500)."""

    def __init__(self, code: int, message: str, *, subcode: str = "w:InternalError", status: int = 500) -> None:
        super().__init__(message)
        self.code, self.message, self.subcode, self.status = code, message, subcode, status


@dataclass
class Request:
    action: str
    resource_uri: str
    message_id: str
    shell_id: str | None
    options: dict[str, str]
    operation_timeout: float
    body: ET.Element


_DURATION = re.compile(r"^PT(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?$")


def parse_duration(text: str | None, default: float) -> float:
    m = _DURATION.match((text or "").strip())
    if not m or not any(m.groups()):
        return default
    minutes, seconds = m.groups()
    return float(minutes or 0) * 60 + float(seconds or 0)


def parse_request(data: bytes) -> Request:
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise WSManFault(INVALID, f"The request is not well-formed XML: {exc}", subcode="w:InvalidMessageInformationHeader",
                         status=400) from None
    header, body = root.find("s:Header", NS), root.find("s:Body", NS)
    if header is None or body is None:
        raise WSManFault(INVALID, "The request is not a SOAP envelope", status=400)

    def text(path: str) -> str:
        el = header.find(path, NS)
        return (el.text or "").strip() if el is not None else ""

    action_uri = text("wsa:Action")
    action = ACTIONS.get(action_uri)
    if action is None:
        raise WSManFault(UNSUPPORTED, f"The action {action_uri!r} is not supported by this endpoint",
                         subcode="wsa:ActionNotSupported")
    shell_id = None
    for sel in header.findall("wsman:SelectorSet/wsman:Selector", NS):
        if sel.get("Name") == "ShellId":
            shell_id = (sel.text or "").strip()
    options = {o.get("Name", ""): (o.text or "").strip() for o in header.findall("wsman:OptionSet/wsman:Option", NS)}
    return Request(action=action, resource_uri=text("wsman:ResourceURI"), message_id=text("wsa:MessageID"),
                   shell_id=shell_id, options=options,
                   operation_timeout=parse_duration(text("wsman:OperationTimeout"), 60.0), body=body)


def envelope(action_uri: str, relates_to: str, body_children: list[ET.Element]) -> bytes:
    env = ET.Element(q("s", "Envelope"))
    header = ET.SubElement(env, q("s", "Header"))
    ET.SubElement(header, q("wsa", "To")).text = "http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous"
    ET.SubElement(header, q("wsa", "Action"), {q("s", "mustUnderstand"): "true"}).text = action_uri
    ET.SubElement(header, q("wsa", "MessageID")).text = f"uuid:{str(uuid.uuid4()).upper()}"
    ET.SubElement(header, q("wsa", "RelatesTo")).text = relates_to
    body = ET.SubElement(env, q("s", "Body"))
    for child in body_children:
        body.append(child)
    return ET.tostring(env, encoding="utf-8", xml_declaration=False)


def response(req: Request, body_children: list[ET.Element]) -> bytes:
    return envelope(RESPONSE_ACTION[req.action], req.message_id, body_children)


def fault(fault: WSManFault, relates_to: str, machine: str) -> bytes:
    f = ET.Element(q("s", "Fault"))
    code = ET.SubElement(f, q("s", "Code"))
    ET.SubElement(code, q("s", "Value")).text = "s:Receiver" if fault.status >= 500 else "s:Sender"
    sub = ET.SubElement(code, q("s", "Subcode"))
    ET.SubElement(sub, q("s", "Value")).text = fault.subcode
    reason = ET.SubElement(f, q("s", "Reason"))
    ET.SubElement(reason, q("s", "Text"), {q("xml", "lang"): "en-US"}).text = fault.message
    detail = ET.SubElement(f, q("s", "Detail"))
    wf = ET.SubElement(detail, q("f", "WSManFault"), {"Code": str(fault.code), "Machine": machine})
    ET.SubElement(wf, q("f", "Message")).text = fault.message
    return envelope(FAULT_ACTION, relates_to, [f])


def shell_created(req: Request, shell_id: str, resource_uri: str, endpoint_url: str, owner: str, client_ip: str,
                  input_streams: str, output_streams: str) -> bytes:
    rc = ET.Element(q("x", "ResourceCreated"))
    ET.SubElement(rc, q("wsa", "Address")).text = endpoint_url
    ref = ET.SubElement(rc, q("wsa", "ReferenceParameters"))
    ET.SubElement(ref, q("wsman", "ResourceURI")).text = resource_uri
    sels = ET.SubElement(ref, q("wsman", "SelectorSet"))
    ET.SubElement(sels, q("wsman", "Selector"), {"Name": "ShellId"}).text = shell_id
    shell = ET.Element(q("rsp", "Shell"))
    for name, value in (("ShellId", shell_id), ("ResourceUri", resource_uri), ("Owner", owner),
                        ("ClientIP", client_ip), ("IdleTimeOut", "PT7200.000S"), ("InputStreams", input_streams),
                        ("OutputStreams", output_streams), ("ShellRunTime", "P0DT0H0M0S"),
                        ("ShellInactivity", "P0DT0H0M0S")):
        ET.SubElement(shell, q("rsp", name)).text = value
    return response(req, [rc, shell])


def command_response(req: Request, command_id: str) -> bytes:
    el = ET.Element(q("rsp", "CommandResponse"))
    ET.SubElement(el, q("rsp", "CommandId")).text = command_id
    return response(req, [el])


def receive_response(req: Request, streams: list[tuple[str, str | None, bytes]], command_id: str | None,
                     done: bool, exit_code: int | None = None) -> bytes:
    import base64

    el = ET.Element(q("rsp", "ReceiveResponse"))
    for name, cid, data in streams:
        attrs = {"Name": name}
        if cid:
            attrs["CommandId"] = cid
        ET.SubElement(el, q("rsp", "Stream"), attrs).text = base64.b64encode(data).decode("ascii")
    if command_id is not None:
        state = ET.SubElement(el, q("rsp", "CommandState"),
                              {"CommandId": command_id, "State": COMMAND_STATE + ("Done" if done else "Running")})
        if done:
            ET.SubElement(state, q("rsp", "ExitCode")).text = str(exit_code if exit_code is not None else 0)
    return response(req, [el])


def empty_response(req: Request, element: str | None = None) -> bytes:
    return response(req, [ET.Element(q("rsp", element))] if element else [])
