"""Command-line arguments that both the local and the remote `pybridge sync` read the same way.

Kept apart from pybridge.cli so that pybridge.remote.cli can use it without importing the
command line that imports it. The numeric options of every command are read here too, by the
argparse type functions below (``type=seconds(...)``, ``type=integer(...)``): each accepts only a
finite number within its bounds, so NaN, infinity, a negative wait or a 20-digit limit is a
usage error (exit 2) before anything runs.
"""
from __future__ import annotations

import argparse
import math
from typing import Callable, TextIO

from .errors import UsageError

#: The longest wait or timeout any option takes: one day, in seconds.
MAX_SECONDS = 86400.0


def seconds(*, minimum: float = 0.0, allow_minimum: bool = True,
            maximum: float = MAX_SECONDS) -> Callable[[str], float]:
    """An argparse type: a finite number of seconds from *minimum* (excluded unless *allow_minimum*) to *maximum*."""
    low = f"{minimum:g} or more" if allow_minimum else f"more than {minimum:g}"

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
        if not math.isfinite(value) or value < minimum or (value == minimum and not allow_minimum) \
                or value > maximum:
            raise argparse.ArgumentTypeError(f"{text!r}: give a number of seconds, {low} and at most {maximum:g}")
        return value
    parse.__name__ = "seconds"  # argparse names the type in its messages
    return parse


def integer(*, minimum: int, maximum: int) -> Callable[[str], int]:
    """An argparse type: a whole number from *minimum* to *maximum* (digits are counted before conversion)."""
    def parse(text: str) -> int:
        digits = text.strip().lstrip("+-").lstrip("0")
        if len(digits) > len(str(max(abs(minimum), abs(maximum)))) + 1:
            raise argparse.ArgumentTypeError(f"{text[:30]!r}...: give a whole number from {minimum} to {maximum}")
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if not minimum <= value <= maximum:
            raise argparse.ArgumentTypeError(f"{text!r}: give a whole number from {minimum} to {maximum}")
        return value
    parse.__name__ = "integer"
    return parse


def resolve_dn(option: str | None, positional: str | None, *, allow_blank: bool = True) -> str:
    """The DN of `pybridge sync`, from ``--distinguished-name`` or the positional argument.

    Exactly one of the two must be given (a UsageError says which rule was broken). Bytes of
    argv that are not UTF-8 reach Python as lone surrogates; they come back as visible
    backslash escapes, which the DN check then refuses with a result instead of a crash.
    Without *allow_blank* a DN of only white space counts as missing (a remote server cannot
    be asked to sync nothing); locally it goes on to be refused as an invalid DN.
    """
    if option is not None and positional is not None:
        raise UsageError("give the DN once (positional or --distinguished-name)")
    dn = option if option is not None else positional
    if dn is None or (not allow_blank and not dn.strip()):
        raise UsageError("the distinguished name is required (--distinguished-name DN)")
    return dn.encode("utf-8", "backslashreplace").decode("utf-8")


def read_input(source: str, limit: int, stdin: TextIO) -> str:
    """The text of a file named on the command line, or of stdin for ``-``, read up to *limit* characters.

    A pipe (``<(...)``) is read to its end like a file, but nothing is read past *limit*: /dev/zero or an
    endless pipe is a ValueError, not a process that fills its memory. OSError and UnicodeDecodeError
    (a ValueError) pass through.
    """
    if source == "-":
        text = stdin.read(limit + 1)
    else:
        with open(source, encoding="utf-8") as fh:
            text = fh.read(limit + 1)
    if len(text) > limit:
        raise ValueError(f"{'stdin' if source == '-' else source} holds more than {limit} characters, more than "
                         "pybridge reads from one input")
    return text


__all__ = ["integer", "read_input", "resolve_dn", "seconds"]
