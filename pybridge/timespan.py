"""Time spans as Entra Connect's scheduler writes them: ``d.hh:mm:ss`` (``00:30:00``, ``7.00:00:00``).

The scheduler's settings (pybridge.scheduler) and the run-history purge (pybridge.store) both
read them, so the format, its defaults and its bounds live here, below both.

Parsing is bounded: a span longer than :data:`MAXIMUM` is refused, so that every accepted value
can be added to or subtracted from the current time (Python's datetime ends at year 9999).
"""
from __future__ import annotations

import datetime as dt
import re

from .errors import UsageError

#: Entra Connect's AllowedSyncCycleInterval: the shortest (and default) sync cycle interval.
DEFAULT_SYNC_INTERVAL = "00:30:00"
#: How long run history is kept unless PurgeRunHistoryInterval says otherwise.
DEFAULT_PURGE = "7.00:00:00"
#: The longest span accepted: 100 years, far beyond any retention or interval, far inside datetime's range.
MAXIMUM = "36500.00:00:00"
_MAX_DAYS = 36500
_TIMESPAN = re.compile(r"^(?:(\d+)\.)?(\d{1,2}):(\d{2}):(\d{2})$")


def parse(text: str) -> dt.timedelta:
    """``d.hh:mm:ss`` -> timedelta; anything else, or a span longer than :data:`MAXIMUM`, is a UsageError."""
    m = _TIMESPAN.match(text.strip())
    if not m:
        raise UsageError(f"{text!r} is not a time span like 00:30:00 or 7.00:00:00 (d.hh:mm:ss)")
    raw_days = m.group(1) or "0"
    # compare the digits before int(): a day count of thousands of digits is refused, not converted
    if len(raw_days.lstrip("0")) > len(str(_MAX_DAYS)):
        raise _too_long(text)
    days, h, mi, s = int(raw_days), int(m.group(2)), int(m.group(3)), int(m.group(4))
    if mi > 59 or s > 59:
        raise UsageError(f"{text!r} is not a valid time span")
    span = dt.timedelta(days=days, hours=h, minutes=mi, seconds=s)
    if span > dt.timedelta(days=_MAX_DAYS):
        raise _too_long(text)
    return span


def _too_long(text: str) -> UsageError:
    return UsageError(f"{text.strip()!r} is too long a time span: at most {MAXIMUM} ({_MAX_DAYS} days) is allowed")


def format(span: dt.timedelta) -> str:  # noqa: A001 - timespan.format reads as what it is
    """timedelta -> ``d.hh:mm:ss`` (the day part only when there are days)."""
    total = int(span.total_seconds())
    days, rest = divmod(total, 86400)
    h, rest = divmod(rest, 3600)
    m, s = divmod(rest, 60)
    return (f"{days}." if days else "") + f"{h:02d}:{m:02d}:{s:02d}"


__all__ = ["DEFAULT_SYNC_INTERVAL", "DEFAULT_PURGE", "MAXIMUM", "parse", "format"]
