"""Reading the PSRP that passes through the endpoint, without taking part in it.

The endpoint forwards PSRP fragments between the client and a real PowerShell; it reads them only to log what
the client asked for (the commands of each pipeline, with the types their parameters arrived as: ``calls``)
and to see when a pipeline has ended (WS-Management reports that as the command's state "Done"). The fragment
and message layouts are MS-PSRP's (2.2.4 Packet Fragment, 2.2.1 Message); the CLIXML is read with psrpcore.
"""
from __future__ import annotations

import logging
import struct
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("pybridge_lab.winrm_endpoint")

FRAGMENT_HEADER = 21  # object id (8), fragment id (8), start/end flags (1), blob length (4), big-endian
MESSAGE_HEADER = 40   # destination (4), message type (4), runspace pool id (16), pipeline id (16), little-endian
CREATE_PIPELINE = 0x00021006
PIPELINE_STATE = 0x00041006
PIPELINE_OUTPUT = 0x00041004
#: PSInvocationState values after which a pipeline runs no more: Stopped, Completed, Failed
TERMINAL_STATES = frozenset({3, 4, 5})


@dataclass
class Call:
    """One command a client sent: ``parameters`` maps each name to (the type it arrived as, its value).

    PSRP calls come from the CREATE_PIPELINE messages the client sent; WinRS calls are the command lines
    started, with what came on stdin (``parameters`` then holds ``Arguments`` and ``Input``).
    """

    transport: str  # psrp | winrs
    user: str
    command: str
    parameters: dict[str, tuple[str, Any]]
    is_script: bool = False


@dataclass(frozen=True)
class Message:
    message_type: int
    pipeline_id: uuid.UUID | None
    data: bytes


class Defragmenter:
    """PSRP fragments in, whole messages out (fragments of several objects may interleave)."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._partial: dict[int, bytearray] = {}

    def feed(self, data: bytes) -> list[Message]:
        self._buffer += data
        messages = []
        while len(self._buffer) >= FRAGMENT_HEADER:
            object_id, _fragment_id, flags, length = struct.unpack(">QQBI", self._buffer[:FRAGMENT_HEADER])
            if len(self._buffer) < FRAGMENT_HEADER + length:
                break
            blob = bytes(self._buffer[FRAGMENT_HEADER:FRAGMENT_HEADER + length])
            del self._buffer[:FRAGMENT_HEADER + length]
            if flags & 0x1:
                self._partial[object_id] = bytearray()
            self._partial.setdefault(object_id, bytearray()).extend(blob)
            if flags & 0x2:
                whole = bytes(self._partial.pop(object_id))
                if len(whole) < MESSAGE_HEADER:
                    continue
                _destination, message_type = struct.unpack("<II", whole[:8])
                pid = uuid.UUID(bytes_le=whole[24:40])
                body = whole[MESSAGE_HEADER:]
                if body.startswith(b"\xef\xbb\xbf"):
                    body = body[3:]
                messages.append(Message(message_type, None if pid.int == 0 else pid, body))
        return messages


def type_name(value: Any) -> str:
    """The .NET-ish type a parameter arrived as (psrpcore's PSString -> String, PSBool -> Boolean...)."""
    name = type(value).__name__
    return {"PSString": "String", "str": "String", "PSBool": "Boolean", "bool": "Boolean", "PSInt": "Int32",
            "PSInt64": "Int64", "int": "Int64", "PSSwitchParameter": "SwitchParameter",
            "PSObject": "Object", "NoneType": "Null"}.get(name, name)


def plain(value: Any) -> Any:
    """A psrpcore value as a plain Python value."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, str):
        return str(value)
    if isinstance(value, int):
        return int(value)
    if hasattr(value, "IsPresent"):
        return bool(value.IsPresent)
    return value


def _deserialize(data: bytes) -> Any:
    from psrpcore.types import deserialize

    return deserialize(ET.fromstring(data), cipher=None)


def pipeline_calls(message: Message, transport: str, user: str) -> list[Call]:
    """The commands of a CREATE_PIPELINE message."""
    from psrpcore import PSRPEvent
    from psrpcore.types import PSRPMessageType

    try:
        event = PSRPEvent.create(PSRPMessageType(message.message_type), _deserialize(message.data), uuid.UUID(int=0),
                                 message.pipeline_id)
        commands = list(event.pipeline.commands)  # type: ignore[attr-defined]
    except Exception:  # noqa: BLE001 - what cannot be read is forwarded all the same, and said
        log.warning("a CREATE_PIPELINE message could not be read", exc_info=True)
        return []
    calls = []
    for cmd in commands:
        params: dict[str, tuple[str, Any]] = {}
        for i, (name, value) in enumerate(cmd.parameters):
            params[str(name) if name else f"[{i}]"] = (type_name(value), plain(value))
        calls.append(Call(transport, user, str(cmd.command_text), params, bool(cmd.is_script)))
    return calls


def pipeline_state(message: Message) -> int | None:
    """The PSInvocationState of a PIPELINE_STATE message."""
    try:
        return int(_deserialize(message.data).PipelineState)
    except Exception:  # noqa: BLE001
        log.warning("a PIPELINE_STATE message could not be read", exc_info=True)
        return None


def tamper_report_chunk(data: bytearray) -> bool:
    """Change one byte of a report chunk in transit (the first character of its base64 ``Data``); True if done.

    Used to show that the client's SHA-256 check catches a copy that differs from the server's file.
    """
    marker = b'"Data":"'
    at = data.find(marker)
    if at < 0 or at + len(marker) >= len(data):
        return False
    i = at + len(marker)
    if not chr(data[i]).isalnum():
        return False  # an empty chunk: nothing to change
    data[i] = ord("B") if data[i] != ord("B") else ord("C")
    return True


__all__ = ["Call", "Defragmenter", "Message", "pipeline_calls", "pipeline_state", "tamper_report_chunk",
           "type_name", "plain", "TERMINAL_STATES", "CREATE_PIPELINE", "PIPELINE_STATE"]
