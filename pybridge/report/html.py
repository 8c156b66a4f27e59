"""The HTML report: one self-contained file, rendered with Jinja2 (autoescape on).

No CDN, script or font is fetched from anywhere; the page is readable opened from
disk, printable, usable on a narrow screen, and without JavaScript the tabs
degrade to sections one after another. Directory values are always data: Jinja2
escapes every value, and nothing from the directory is marked safe.
"""
from __future__ import annotations

import datetime as dt
import os
import re
import secrets
from pathlib import Path
from typing import Any

from .. import __version__, platform
from ..core.errorcodes import lookup
from ..core.model import AttributeInfo, Status, StepKey, StepType, SyncResult, iso

MAX_LIST = 200  # values listed per multi-valued attribute; the rest are counted ("... and N more")
_SPLIT = re.compile(r"(?<!\\); ")  # AttributeInfo joins values with "; " (RFC 4514 escapes ';' inside DNs)

_ENV: Any = None


def environment(bytecode_cache: Any = None) -> Any:
    """The template environment, built on first use and kept for the process (jinja2 is imported only when a
    report is rendered); *bytecode_cache* (pybridge.cache.template_cache) keeps the compiled template between
    processes, so a run loads it instead of compiling it."""
    global _ENV
    if _ENV is None:
        from jinja2 import Environment, PackageLoader, select_autoescape
        _ENV = Environment(loader=PackageLoader("pybridge.report", "templates"),
                           autoescape=select_autoescape(default=True, default_for_string=True),
                           trim_blocks=True, lstrip_blocks=True, bytecode_cache=bytecode_cache)
    return _ENV


def _values(a: AttributeInfo, text: str | None) -> dict[str, Any] | None:
    if text is None:
        return None
    items = _SPLIT.split(text) if a.is_multi_valued else [text]
    return {"count": len(items), "shown": items[:MAX_LIST], "more": max(0, len(items) - MAX_LIST),
            "multi": a.is_multi_valued}


def _attr_rows(attrs: list[AttributeInfo]) -> list[dict[str, Any]]:
    return [{"a": a, "value": _values(a, a.value), "add": _values(a, a.add), "delete": _values(a, a.delete)}
            for a in attrs]


def _duration(result: SyncResult) -> str:
    if not result.end_time:
        return ""
    ms = int((result.end_time - result.start_time).total_seconds() * 1000)
    return f"{ms / 1000:.3f} s"


def _local(ts: dt.datetime | None) -> str:
    return ts.astimezone().strftime("%Y-%m-%d %H:%M:%S %Z") if ts else ""


def render(result: SyncResult, bytecode_cache: Any = None) -> str:
    s = result.status_info
    info = lookup(s.error_code) if s.error_code else None
    export = result.step(StepKey.EXPORT)
    export_attrs = {a.name: a for a in (export.attributes if export else [])}
    modified = []
    for p in result.modified_properties:
        base = p.name[:-len(" - Count")] if p.name.endswith(" - Count") else p.name
        a = export_attrs.get(base)
        modified.append({"p": p, "anchor": f"export-attr-{base}" if a else None,
                         "adds": _values(a, a.add) if a and a.is_multi_valued else None,
                         "deletes": _values(a, a.delete) if a and a.is_multi_valued else None})
    steps = []
    for st in result.steps:
        details = {k: v for k, v in st.details.items() if k != "AttributeInfoJson"}
        steps.append({"st": st, "details": details, "attrs": _attr_rows(st.attributes),
                      "anchors": st.key == StepKey.EXPORT})
    return environment(bytecode_cache).get_template("report.html.j2").render(
        nonce=secrets.token_urlsafe(16), r=result, s=s, steps=steps, modified=modified, info=info, version=__version__,
        start=_local(result.start_time), end=_local(result.end_time), start_utc=iso(result.start_time),
        duration=_duration(result), Status=Status, StepType=StepType, StepKey=StepKey)


def report_name(when: dt.datetime, suffix: int = 0) -> str:
    stamp = when.astimezone().strftime("%Y%m%d%H%M%S")
    return f"ADSyncSingleObjectSyncResult-{stamp}" + (f"_{suffix}" if suffix else "") + ".htm"


def write(result: SyncResult, directory: Path, bytecode_cache: Any = None) -> Path:
    """Write the report as ADSyncSingleObjectSyncResult-yyyyMMddHHmmss.htm (local time), owner-only.

    A report of the same second is never overwritten: the name then gets _2, _3, ...
    """
    html = render(result, bytecode_cache)
    if not directory.exists():
        platform.make_private_dir(directory)
    when = result.start_time
    for n in range(1, 1000):
        path = directory / report_name(when, n if n > 1 else 0)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o600)
        except FileExistsError:
            continue
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(html)
        return path
    raise OSError(f"no free report name in {directory}")
