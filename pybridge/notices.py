"""What a run tells the person waiting for it while it works: waits and progress.

The connectors and the lock do not print: they hand a notice to the *notify* callback
they were given (the CLI's writes a line on stderr; the in-process API may pass its
own, or none). A notice is plain data; :func:`describe` words it for a person.
"""
from __future__ import annotations

from typing import Callable, Union

from msgspec import Struct


class Waiting(Struct, frozen=True):
    """The run is about to wait *seconds* because of *cause*."""

    seconds: float
    cause: str  # e.g. "Microsoft Graph throttled the request (429 Too Many Requests, Retry-After: 1 s)"
    then: str = "trying again"  # what happens after the wait (not said for a limit)
    waited: float | None = None  # waited in this run before this wait (None: no budget applies)
    budget: float | None = None  # the run's wait limit
    at_most: bool = False  # *seconds* is a limit (the lock), not a fixed wait


class Progress(Struct, frozen=True):
    """*done* of *total* items of *what* are done (e.g. members: 400/1,200 added)."""

    what: str
    done: int
    total: int
    verb: str = "done"


Notice = Union[Waiting, Progress]
Notify = Callable[[Notice], None]


def seconds(value: float) -> str:
    """1 s, 0.5 s, 18 s: whole seconds without decimals, short waits with one."""
    if value >= 10:
        return f"{value:.0f} s"
    return f"{value:.1f}".rstrip("0").rstrip(".") + " s"


def describe(notice: Notice) -> str:
    """The notice as one line for a person."""
    if isinstance(notice, Progress):
        return f"{notice.what}: {notice.done:,}/{notice.total:,} {notice.verb}"
    if notice.at_most:
        head = f"waiting up to {seconds(notice.seconds)}: {notice.cause}"
    elif notice.seconds <= 0:
        head = f"{notice.then} at once: {notice.cause}"
    else:
        head = f"waiting {seconds(notice.seconds)}, then {notice.then}: {notice.cause}"
    if notice.budget is not None and notice.waited is not None:
        head += f" ({seconds(notice.waited + notice.seconds)} of at most {seconds(notice.budget)} of waiting " \
                "in this run)"
    return head


__all__ = ["Waiting", "Progress", "Notice", "Notify", "describe", "seconds"]
