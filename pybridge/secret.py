"""Where a secret comes from: an environment variable or the first line of a file; never its value.

Every password and key pybridge uses (the AD connector account's password, the Entra client
secret and certificate key password, the sync servers' passwords) is a :class:`Secret`. The value
is read only when it is needed (:meth:`Secret.reveal`), is never kept, and never appears in a
repr, a log line or a message. Named ``secret`` rather than ``secrets`` so that it is never
mistaken for the standard library's module of that name.

A secret file must be a regular file of at most :data:`MAX_SECRET_FILE` bytes, in UTF-8, that only
its owner can read (as ssh requires of a private key: ``chmod 600 FILE``); anything else is a
configuration error that names the file and the fix. A device (/dev/zero) or a FIFO is refused
without being read or waited on.
"""
from __future__ import annotations

import os
from pathlib import Path

from msgspec import Struct

from . import platform
from .errors import ConfigError

#: A secret file holds one line; anything longer is not the file meant.
MAX_SECRET_FILE = 64 * 1024


class Secret(Struct, frozen=True):
    """A secret read on demand from an environment variable or a file (its first line, stripped).

    Two secrets are equal when they come from the same place; *label* ("client secret",
    "password of CONTOSO\\svc") only describes it in messages.
    """

    env: str | None = None
    file: Path | None = None
    label: str | None = None

    def __post_init__(self) -> None:
        if (self.env is None) == (self.file is None):
            raise ValueError("a Secret comes from exactly one of env and file")

    def __eq__(self, other: object) -> bool:  # the label only describes: not part of which secret it is
        if type(other) is not Secret:
            return NotImplemented
        return (self.env, self.file) == (other.env, other.file)

    def __hash__(self) -> int:
        return hash((self.env, self.file))

    def problem(self) -> str | None:
        """Why the secret cannot be read, or None (the value itself is not kept)."""
        if self.env is not None:
            return None if self.reveal() else f"environment variable {self.env} is not set or empty"
        try:
            return None if self.reveal() else f"file {self.file} is empty"
        except ConfigError as exc:
            return exc.message

    def reveal(self) -> str:
        """The value, read now.

        From a variable: its value without the line end a file or a Windows shell leaves (CR LF, LF);
        other white space is part of the secret. From a file: its first line without surrounding
        blanks. A file that cannot be used raises ConfigError naming the file and the fix.
        """
        if self.env is not None:
            return os.environ.get(self.env, "").rstrip("\r\n")
        assert self.file is not None
        try:
            data = platform.read_regular_file(self.file, MAX_SECRET_FILE, owner_only=True, what="secret file")
        except platform.UnsafeFileError as exc:
            raise ConfigError(f"{exc}: {exc.fix}", problems=[f"{exc}: {exc.fix}"]) from None
        except OSError as exc:
            message = f"file {self.file} cannot be read ({exc.strerror or exc})"
            raise ConfigError(message, problems=[message]) from None
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            message = (f"file {self.file} is not UTF-8 text (byte {exc.start + 1}); save the secret as UTF-8")
            raise ConfigError(message, problems=[message]) from None
        lines = text.splitlines()
        return lines[0].strip() if lines else ""

    @property
    def source(self) -> str:
        return f"environment variable {self.env}" if self.env else f"file {self.file}"

    def __repr__(self) -> str:
        return f"Secret({self.label} from {self.source})" if self.label else f"Secret({self.source})"


__all__ = ["Secret", "MAX_SECRET_FILE"]
