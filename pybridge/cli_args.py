"""Command-line arguments that both the local and the remote `pybridge sync` read the same way.

Kept apart from pybridge.cli so that pybridge.remote.cli can use it without importing the
command line that imports it.

The DN argument is resolved here, once, at the entrance: white space and line ends around
it (a CRLF file, ``while read dn``) are dropped and the optional spaces that RFC 4514
readers and Active Directory accept ("CN=Jane Doe, OU=Users") are removed, escapes left as
typed, so that every step sees the same DN. An argument that is a userPrincipalName, a
DOMAIN\\sAMAccountName or an objectGUID instead of a DN is recognised here (:func:`identity_kind`)
and looked up in the directory by the caller.

The numeric options of every command are read here too, by the argparse type functions below
(``type=seconds(...)``, ``type=integer(...)``): each accepts only a finite number within its
bounds, so NaN, infinity, a negative wait or a 20-digit limit is a usage error (exit 2) before
anything runs.
"""
from __future__ import annotations

import argparse
import math
import re
from typing import Callable, TextIO

from .errors import UsageError

#: Kinds of identity an argument may be instead of a DN, as the Directory port's find() names them.
UPN, SAM, GUID = "userPrincipalName", "sAMAccountName", "objectGUID"
LABELS = {UPN: "userPrincipalName", SAM: "sAMAccountName", GUID: "objectGUID"}

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


_GUID = re.compile(r"^\{?[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\}?$")
_GUID_DN = re.compile(r"^<GUID=([^>]*)>$", re.IGNORECASE)
_AROUND = " \t\r\n\v\f"


def _strip(text: str) -> tuple[str, str | None]:
    """*text* without white space around it, and what was removed (for the note), or None."""
    lead = len(text) - len(text.lstrip(_AROUND))
    body = text[lead:]
    stripped = body.rstrip(_AROUND)
    # an escaped space at the end belongs to the value ("OU=Excluded\ "): give it back
    if len(stripped) < len(body) and stripped.endswith("\\"):
        slashes = len(stripped) - len(stripped.rstrip("\\"))
        if slashes % 2 == 1:
            stripped += body[len(stripped)]
    trail = body[len(stripped):]
    if not lead and not trail:
        return text, None
    parts = []
    if lead:
        parts.append("leading white space")
    if "\r" in trail or "\n" in trail:
        parts.append("a line end (" + " ".join("CR" if c == "\r" else "LF" for c in trail if c in "\r\n") + ")"
                     + (" and trailing white space" if trail.strip("\r\n") else ""))
    elif trail:
        parts.append("trailing white space")
    return stripped, " and ".join(parts)


def normalize_argument(text: str, note: Callable[[str], None] | None = None) -> str:
    """The DN (or identity) argument as every step will see it; *note* hears what was changed, and why."""
    stripped, removed = _strip(text)
    if removed and note is not None:
        note(f"removed {removed} around the argument: {stripped}")
    if identity_kind(stripped) is not None:
        return stripped
    from .core.dn import tidy
    tidied = tidy(stripped)
    if tidied != stripped and note is not None:
        note(f"removed the optional spaces around ',' and '=' in the DN: {tidied}")
    return tidied


def identity_kind(text: str) -> tuple[str, str] | None:
    """(kind, value) when *text* names an object by another identity than its DN, else None.

    ``<GUID=...>`` or a GUID string is an objectGUID; text without '=' holding a backslash is
    DOMAIN\\sAMAccountName, and holding an '@' a userPrincipalName. Anything else is taken as a DN
    (and refused by the DN check when it is none).
    """
    guid = _GUID_DN.match(text)
    if guid:
        return GUID, guid.group(1).strip()
    if _GUID.match(text):
        return GUID, text
    if "=" in text:
        return None
    domain, sep, name = text.partition("\\")
    if sep and domain and name and "\\" not in name:
        return SAM, text
    local, at, suffix = text.rpartition("@")
    if at and local and suffix and "\\" not in text:
        return UPN, text
    return None


def resolve_dn(option: str | None, positional: str | None, *, allow_blank: bool = True,
               note: Callable[[str], None] | None = None) -> str:
    """The DN of `pybridge sync`, from ``--distinguished-name`` or the positional argument, normalised.

    Exactly one of the two must be given (a UsageError says which rule was broken). Bytes of
    argv that are not UTF-8 reach Python as lone surrogates; they come back as visible
    backslash escapes, which the DN check then refuses with a result instead of a crash.
    Without *allow_blank* a DN of only white space counts as missing (a remote server cannot
    be asked to sync nothing); locally it goes on to be refused as an invalid DN. White space
    around the DN and optional spaces inside it are removed (:func:`normalize_argument`); *note*
    hears of each change.
    """
    if option is not None and positional is not None:
        raise UsageError("give the DN once (positional or --distinguished-name)")
    dn = option if option is not None else positional
    if dn is None or (not allow_blank and not dn.strip()):
        raise UsageError("the distinguished name is required (--distinguished-name DN)")
    dn = dn.encode("utf-8", "backslashreplace").decode("utf-8")
    if not dn.strip(_AROUND):
        return dn
    return normalize_argument(dn, note)


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


__all__ = ["integer", "read_input", "resolve_dn", "normalize_argument", "identity_kind", "seconds", "UPN", "SAM", "GUID",
           "LABELS"]
