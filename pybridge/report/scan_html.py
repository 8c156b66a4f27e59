"""The scan's HTML summary: one self-contained file, a table of every object scanned (status, ErrorCode,
object, reason), counts per status and code, the whole-view findings, and each problem row expanding to
its ten steps. Sorting and filtering need JavaScript; without it the table is complete and readable."""
from __future__ import annotations

import datetime as dt
import os
import secrets
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from .. import __version__, platform

_env = Environment(loader=PackageLoader("pybridge.report", "templates"),
                   autoescape=select_autoescape(default=True, default_for_string=True),
                   trim_blocks=True, lstrip_blocks=True)


def render(summary: Any) -> str:
    return _env.get_template("scan.html.j2").render(nonce=secrets.token_urlsafe(16), s=summary, version=__version__)


def write(summary: Any, directory: Path) -> Path:
    """PyBridgeScanSummary-yyyyMMddHHmmss.htm (local time), owner-only, never overwriting another."""
    html = render(summary)
    if not directory.exists():
        platform.make_private_dir(directory)
    stamp = dt.datetime.now().strftime("%Y%m%d%H%M%S")
    for n in range(1, 1000):
        path = directory / (f"PyBridgeScanSummary-{stamp}" + (f"_{n}" if n > 1 else "") + ".htm")
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o600)
        except FileExistsError:
            continue
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(html)
        return path
    raise OSError(f"no free report name in {directory}")
