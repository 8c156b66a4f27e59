"""pybridge's one bounded YAML reader.

:func:`pybridge.settings_reader.read_text`, then :func:`parse`, are how pybridge reads every YAML file it
is given (the configuration, and the sync rules in pybridge.core.rules.loader). They bound what a hostile or
careless file can cost before any Python object is built:

* only a regular file is read (not /dev/zero, a FIFO or a socket), of at most *limit* bytes;
* the text is first walked as a stream of parser events (libyaml's, which keeps its own stack):
  nesting deeper than :data:`MAX_DEPTH` levels, more than :data:`MAX_ALIASES` aliases, or a
  document that would expand through its aliases to more than :data:`MAX_EXPANDED` scalar
  characters and nodes (a "billion laughs" bomb) is refused with a YAML error at its line;
* only then is it loaded, with a safe loader; anything the loader still refuses (an integer of
  more digits than Python converts) is a YAML error too, never a traceback.

pybridge imports this module (and PyYAML) only when a file is actually parsed: a run whose configuration
and rules come from their caches (pybridge.cache) never does.
"""
from __future__ import annotations

from typing import Any

import yaml

#: Nesting levels (mappings and sequences) a document may have; pybridge's own files use fewer than ten.
MAX_DEPTH = 64
#: Aliases (*name) a document may use.
MAX_ALIASES = 10_000
#: Nodes plus scalar characters a document may stand for once every alias is expanded.
MAX_EXPANDED = 16 * 1024 * 1024

_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class YamlLimitError(yaml.MarkedYAMLError):
    """A document beyond one of the reader's limits (its ``problem`` says which; ``problem_mark`` where)."""


def check(text: str) -> None:
    """Raise YamlLimitError when *text* goes beyond the limits above (without building it)."""
    stack: list[list[Any]] = []  # [anchor, expanded size] of each open collection
    anchors: dict[str | None, int] = {}  # an alias event's anchor is typed optional
    aliases = 0

    def close(anchor: str | None, size: int, mark: Any) -> None:
        if anchor:
            anchors[anchor] = size
        if stack:
            stack[-1][1] += size
            size = stack[-1][1]
        if size > MAX_EXPANDED:
            raise YamlLimitError(problem=f"the document expands through its aliases to more than {MAX_EXPANDED} "
                                 "nodes and characters (pybridge's limit)", problem_mark=mark)

    for event in yaml.parse(text, Loader=_LOADER):
        if isinstance(event, yaml.CollectionStartEvent):
            if len(stack) >= MAX_DEPTH:
                # (a C loader's mark is a yaml._yaml.Mark: a mark too, though MarkedYAMLError's stubs name only yaml.Mark)
                raise YamlLimitError(problem=f"nested deeper than {MAX_DEPTH} levels (pybridge's limit)",
                                     problem_mark=event.start_mark)  # type: ignore[arg-type]
            stack.append([event.anchor, 1])
        elif isinstance(event, yaml.CollectionEndEvent):
            anchor, size = stack.pop()
            close(anchor, size, event.start_mark)
        elif isinstance(event, yaml.ScalarEvent):
            close(event.anchor, 1 + len(event.value), event.start_mark)
        elif isinstance(event, yaml.AliasEvent):
            aliases += 1
            if aliases > MAX_ALIASES:
                # (a C loader's mark, as above)
                raise YamlLimitError(problem=f"more than {MAX_ALIASES} aliases (pybridge's limit)",
                                     problem_mark=event.start_mark)  # type: ignore[arg-type]
            close(None, anchors.get(event.anchor, 1), event.start_mark)


def parse(text: str, loader: Any = None) -> Any:
    """*text* checked (:func:`check`), then loaded with *loader* (a safe loader; the default is yaml's).

    Every failure is a yaml.YAMLError, with ``problem`` and ``problem_mark`` where they are known.
    """
    check(text)
    try:
        return yaml.load(text, Loader=loader or _LOADER)  # noqa: S506 - a SafeLoader or a subclass of one
    except yaml.YAMLError:
        raise
    except (ValueError, RecursionError, OverflowError) as exc:  # e.g. an integer of more digits than int() takes
        why = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise YamlLimitError(problem=f"a value cannot be read ({why})") from None
