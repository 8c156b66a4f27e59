"""Helpers for directory values: case-insensitive lookup, display, JSON-safe encoding."""
from __future__ import annotations

import base64
import uuid
from typing import Any

from .model import Attributes, Value


def get_values(attrs: Attributes, name: str) -> list[Value]:
    """Values of *name*, looked up case-insensitively (LDAP attribute names are)."""
    if name in attrs:
        return attrs[name]
    lowered = name.lower()
    for key, values in attrs.items():
        if key.lower() == lowered:
            return values
    return []


def get_one(attrs: Attributes, name: str) -> Value | None:
    values = get_values(attrs, name)
    return values[0] if values else None


def guid_string(raw: bytes) -> str:
    """objectGUID bytes (little-endian, as AD stores them) -> 'xxxxxxxx-xxxx-...'."""
    return str(uuid.UUID(bytes_le=bytes(raw)))


def sid_string(raw: bytes) -> str:
    """objectSid bytes -> 'S-1-5-21-...'."""
    b = bytes(raw)
    revision, count = b[0], b[1]
    authority = int.from_bytes(b[2:8], "big")
    subs = [str(int.from_bytes(b[8 + 4 * i:12 + 4 * i], "little")) for i in range(count)]
    return "-".join(["S", str(revision), str(authority), *subs])


def display(value: Value | bytearray | None) -> str | None:
    """A value as the report shows it: binary as base64, booleans as True/False (as PowerShell prints)."""
    if value is None:
        return None
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, bool):
        return "True" if value else "False"
    return str(value)


def display_list(values: list[Value] | Value | None) -> str | None:
    if values is None:
        return None
    if not isinstance(values, list):
        return display(values)
    if not values:
        return None
    return "; ".join(display(v) or "" for v in values)


def to_json(attrs: dict[str, Any]) -> dict[str, Any]:
    """Attributes -> JSON-safe dict (bytes tagged as {"$b64": ...}) for the state store."""
    def enc(v: Any) -> Any:
        if isinstance(v, (bytes, bytearray)):
            return {"$b64": base64.b64encode(bytes(v)).decode("ascii")}
        if isinstance(v, list):
            return [enc(x) for x in v]
        return v
    return {k: enc(v) for k, v in attrs.items()}


def from_json(data: dict[str, Any]) -> dict[str, Any]:
    def dec(v: Any) -> Any:
        if isinstance(v, dict) and set(v) == {"$b64"}:
            return base64.b64decode(v["$b64"])
        if isinstance(v, list):
            return [dec(x) for x in v]
        return v
    return {k: dec(v) for k, v in data.items()}
