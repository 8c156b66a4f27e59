"""The scan's HTML summary: one self-contained file, a table of every object scanned (status, ErrorCode,
object, reason), counts per status and code, the whole-view findings, and each problem row expanding to
its ten steps. Sorting and filtering need JavaScript; without it the table is complete and readable."""
from __future__ import annotations

import datetime as dt
import secrets
from pathlib import Path
from typing import Any, Iterator

from .. import __version__, platform
from .html import environment


def render(summary: Any) -> Iterator[str]:
    """The page in pieces (a scan of many objects is never one string in memory)."""
    return environment().get_template("scan.html.j2").generate(nonce=secrets.token_urlsafe(16), s=summary,
                                                               version=__version__)


def write(summary: Any, directory: Path) -> Path:
    """PyBridgeScanSummary-yyyyMMddHHmmss.htm (local time), owner-only, created new and never through a link
    (a name planted in a shared directory is skipped), never overwriting another."""
    if not directory.exists():
        platform.make_private_dir(directory)
    stamp = dt.datetime.now().strftime("%Y%m%d%H%M%S")
    for n in range(1, 1000):
        path = directory / (f"PyBridgeScanSummary-{stamp}" + (f"_{n}" if n > 1 else "") + ".htm")
        try:
            fh = platform.open_private(path, exclusive=True)
        except (FileExistsError, platform.UnsafeFileError):
            continue
        with fh:
            for piece in render(summary):
                fh.write(piece)
        return path
    raise OSError(f"no free report name in {directory}")
