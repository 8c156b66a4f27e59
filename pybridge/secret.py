"""Where a secret comes from: an environment variable or the first line of a file; never its value.

Every password and key pybridge uses (the AD connector account's password, the Entra client
secret and certificate key password, the sync servers' passwords) is a :class:`Secret`. The value
is read only when it is needed (:meth:`Secret.reveal`), is never kept, and never appears in a
repr, a log line or a message. Named ``secret`` rather than ``secrets`` so that it is never
mistaken for the standard library's module of that name.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Secret:
    """A secret read on demand from an environment variable or a file (its first line, stripped).

    Two secrets are equal when they come from the same place; *label* ("client secret",
    "password of CONTOSO\\svc") only describes it in messages.
    """

    env: str | None = None
    file: Path | None = None
    label: str | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if (self.env is None) == (self.file is None):
            raise ValueError("a Secret comes from exactly one of env and file")

    def problem(self) -> str | None:
        """Why the secret cannot be read, or None (the value itself is not kept)."""
        if self.env is not None:
            return None if os.environ.get(self.env) else f"environment variable {self.env} is not set or empty"
        try:
            return None if self.reveal() else f"file {self.file} is empty"
        except OSError as exc:
            return f"file {self.file} cannot be read ({exc.strerror})"

    def reveal(self) -> str:
        """The value, read now: the variable's, or the file's first line without surrounding blanks."""
        if self.env is not None:
            return os.environ.get(self.env, "")
        assert self.file is not None
        lines = self.file.read_text(encoding="utf-8").splitlines()
        return lines[0].strip() if lines else ""

    @property
    def source(self) -> str:
        return f"environment variable {self.env}" if self.env else f"file {self.file}"

    def __repr__(self) -> str:
        return f"Secret({self.label} from {self.source})" if self.label else f"Secret({self.source})"


__all__ = ["Secret"]
