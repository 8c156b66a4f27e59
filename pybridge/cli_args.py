"""Command-line arguments that both the local and the remote `pybridge sync` read the same way.

Kept apart from pybridge.cli so that pybridge.remote.cli can use it without importing the
command line that imports it.

The DN argument is resolved here, once, at the entrance: white space and line ends around
it (a CRLF file, ``while read dn``) are dropped and the optional spaces that RFC 4514
readers and Active Directory accept ("CN=Jane Doe, OU=Users") are removed, escapes left as
typed, so that every step sees the same DN. An argument that is a userPrincipalName, a
DOMAIN\\sAMAccountName or an objectGUID instead of a DN is recognised here (:func:`identity_kind`)
and looked up in the directory by the caller.
"""
from __future__ import annotations

import re
from typing import Callable

from .errors import UsageError

#: Kinds of identity an argument may be instead of a DN, as the Directory port's find() names them.
UPN, SAM, GUID = "userPrincipalName", "sAMAccountName", "objectGUID"
LABELS = {UPN: "userPrincipalName", SAM: "sAMAccountName", GUID: "objectGUID"}

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


__all__ = ["resolve_dn", "normalize_argument", "identity_kind", "UPN", "SAM", "GUID", "LABELS"]
