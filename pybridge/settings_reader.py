"""Reading settings files: the bounded text of a file, and a settings tree read while every problem is
collected with its key path (``ad_connectors[0].servers[1]: ...``), for pybridge.config's readers.

Parsing YAML is pybridge.yamlcheck's (loaded only when a file is parsed, not when its parse comes from a cache).
"""
from __future__ import annotations

from collections.abc import Collection
from pathlib import Path
from typing import Any

from . import platform

#: Bytes of a configuration file.
MAX_CONFIG_BYTES = 1024 * 1024


def read_text(path: Path, limit: int = MAX_CONFIG_BYTES, what: str = "file") -> str:
    """The UTF-8 text of *path*: a regular file of at most *limit* bytes (OSError or UnicodeDecodeError else)."""
    return platform.read_regular_file(path, limit, what=what).decode("utf-8")


class Reader:
    def __init__(self, base: Path) -> None:
        self.base = base
        self.problems: list[str] = []

    def err(self, path: str, msg: str) -> None:
        self.problems.append(f"{path}: {msg}")

    def mapping(self, value: Any, path: str, allowed: Collection[str]) -> dict[str, Any]:
        """*value* as a mapping ({} when absent), every key outside *allowed* reported."""
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.err(path or "(top)", f"must be a mapping, got {type(value).__name__}")
            return {}
        for key in value:
            if key not in allowed:
                self.err(f"{path}.{key}" if path else str(key),
                         f"unknown key (allowed: {', '.join(sorted(allowed))})")
        return value

    def string(self, d: dict[str, Any], key: str, path: str, default: str | None = None,
               required: bool = False) -> str | None:
        """A non-empty string, stripped; None when absent (reported when *required*)."""
        value = d.get(key, default)
        if value is None:
            if required:
                self.err(f"{path}.{key}", "is required")
            return None
        if not isinstance(value, str) or not value.strip():
            self.err(f"{path}.{key}", "must be a non-empty string")
            return None
        return value.strip()
