"""Command-line arguments that both the local and the remote `pybridge sync` read the same way.

Kept apart from pybridge.cli so that pybridge.remote.cli can use it without importing the
command line that imports it.
"""
from __future__ import annotations

from .errors import UsageError


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


__all__ = ["resolve_dn"]
