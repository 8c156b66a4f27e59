"""Text for a person's terminal: control and bidi characters are shown, never obeyed.

Values from Active Directory (a displayName, an adminDescription, a DN), from Graph and
from files reach stderr, tables and log files. A value holding ESC, BEL, CR, BS or a
bidi override could clear the screen, move the cursor, recolour or reorder what follows,
and so print a green "Success" over a failure. :func:`for_terminal` is the one function
everything printed for a person goes through: such characters come out as visible
escapes (``\\x1b``, ``\\u202e``). JSON on stdout is never passed through it: it stays
exact, and a JSON parser reads the escapes JSON itself uses.

:func:`table` lays out rows in columns whose widths come from the values (wide East
Asian characters count two cells, combining marks none), after the same escaping.
"""
from __future__ import annotations

import logging
import sys
import unicodedata
from typing import Iterable, Sequence

#: The logger that copies what the CLI says on stderr into --log-file (it has no handler otherwise).
CONSOLE_LOG = "pybridge.console"

#: Bidi controls: embeddings and overrides (U+202A-202E), isolates (U+2066-2069), the marks
#: (LRM, RLM, ALM); also the Unicode line and paragraph separators, which some terminals break on.
BIDI_CONTROLS = frozenset({*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F, 0x061C,
                           0x2028, 0x2029})


def _escape(code: int) -> str:
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _table(keep_newlines: bool) -> dict[int, str]:
    codes = [*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0), *sorted(BIDI_CONTROLS)]
    return {c: _escape(c) for c in codes if not (keep_newlines and c == 0x0A)}


_ONE_LINE = _table(keep_newlines=False)
_LINES = _table(keep_newlines=True)


def for_terminal(text: object, *, newlines: bool = False) -> str:
    """*text* with C0 and C1 control characters, DEL and bidi controls rendered as visible escapes.

    With *newlines*, a line feed stays a line feed (a message meant to span lines); a carriage
    return never does, so nothing can overwrite a line already printed.
    """
    return str(text).translate(_LINES if newlines else _ONE_LINE)


def width(text: str) -> int:
    """Terminal cells *text* takes: East Asian wide and full-width characters two, combining marks none."""
    cells = 0
    for ch in text:
        if unicodedata.combining(ch):
            continue
        cells += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
    return cells


def table(headers: Sequence[str], rows: Iterable[Sequence[object]], *,
          right: Sequence[int] = (), gap: str = "  ") -> str:
    """*rows* under *headers*, one line each, columns as wide as their widest value (the last one unpadded).

    Every value is escaped with :func:`for_terminal` first, so a value cannot break the layout or the
    terminal; None is shown empty. Columns whose index is in *right* are right-aligned (numbers).
    """
    cells = [[for_terminal(h) for h in headers]]
    cells += [[for_terminal("" if v is None else v) for v in row] for row in rows]
    widths = [max(width(row[i]) for row in cells) for i in range(len(headers))]
    lines = []
    for row in cells:
        parts = []
        for i, value in enumerate(row):
            pad = " " * (widths[i] - width(value))
            if i == len(row) - 1 and i not in right:
                parts.append(value)
            else:
                parts.append(pad + value if i in right else value + pad)
        lines.append(gap.join(parts).rstrip())
    return "\n".join(lines) + "\n"


def say(text: str) -> None:
    """Write *text* (escaped; line feeds kept) as a line on stderr, and into the log file when there is one."""
    line = for_terminal(text, newlines=True)
    sys.stderr.write(line + "\n")
    console = logging.getLogger(CONSOLE_LOG)
    if console.handlers:
        console.info(line)


__all__ = ["for_terminal", "table", "width", "say", "BIDI_CONTROLS", "CONSOLE_LOG"]
