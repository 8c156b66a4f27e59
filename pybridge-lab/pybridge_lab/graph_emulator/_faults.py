"""A fault to inject: what the emulator keeps (inject_fault) and the HTTP side carries out."""
from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass
class Fault:
    method: str
    path_regex: re.Pattern[str]
    status: int | None
    retry_after: float | None
    count: int
    body: dict | None
    delay: float
    drop_after_commit: bool
