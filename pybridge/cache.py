"""What one sync process would otherwise redo every time, kept in files: the compiled sync rules, msal's HTTP
cache (the authority's OpenID metadata), and the parsed configuration.

Each lives in one file under ``<state directory>/cache/`` (the configuration, read before any state directory
is known, under the user's cache directory: :func:`user_files`), and is trusted only as far as it is checked:

* the directory is created 0700 inside an existing state directory, and used only while it is a real
  directory (not a link) of this user's that no one else can write;
* a file is read only when it is a regular file of this user's that no one else can read or write, opened
  without following a link (O_NOFOLLOW), and written as a new owner-only file renamed into place;
* every file is an envelope ``PYBRIDGE-CACHE/1 <kind> <key> <sha256> <length>`` + payload: a file of another
  kind, for another key (another pybridge version, other rule files, another authority...), cut short or
  damaged is ignored and rebuilt; nothing in it is trusted before the checks pass;
* with --what-if (``writable=False``) caches are read but never written.

A cache never makes a run fail: whatever goes wrong, the work is simply done again.
"""
from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any

from . import __version__, platform

MAGIC = b"PYBRIDGE-CACHE/1"
MAX_BYTES = 8 * 1024 * 1024  # larger than anything pybridge writes there: a bigger file is not one of ours
DIRECTORY = "cache"


def digest(*parts: object) -> str:
    """A key: the sha256 of *parts* (and the pybridge version, so that an upgrade rebuilds every cache)."""
    h = hashlib.sha256(f"pybridge {__version__}".encode())
    for part in parts:
        data = part if isinstance(part, bytes) else str(part).encode("utf-8", "surrogateescape")
        h.update(len(data).to_bytes(8, "big") + data)
    return h.hexdigest()


class FileCache:
    """The cache directory of one state directory (or, with *name*, the directory of that name in *state_dir*:
    see :func:`user_files`)."""

    def __init__(self, state_dir: Path, *, writable: bool = True, system: str | None = None,
                 name: str = DIRECTORY) -> None:
        self.state_dir = Path(state_dir)
        self.directory = self.state_dir / name
        self.writable = writable
        self._system = system

    def path(self, kind: str) -> Path:
        return self.directory / f"{kind}.cache"

    def _trusted(self) -> bool:
        """Whether the state directory is one the state itself may use (the user's, writable by no one else):
        a cache is never read from, or created in, a directory the state store would refuse."""
        try:
            platform.check_trusted_dir(self.state_dir, "state directory", self._system)
        except OSError:
            return False
        return True

    def load(self, kind: str, key: str) -> bytes | None:
        """The payload saved for (*kind*, *key*), or None (absent, another key, damaged, not private...)."""
        if not self._trusted() or platform.private_dir(self.directory, create=False, system=self._system) is None:
            return None
        raw = platform.read_private_file(self.path(kind), MAX_BYTES, system=self._system)
        if raw is None:
            return None
        head, sep, payload = raw.partition(b"\n")
        fields = head.split(b" ")
        if not sep or len(fields) != 5 or fields[0] != MAGIC:
            return None
        try:
            if fields[1].decode("ascii") != kind or fields[2].decode("ascii") != key or \
                    int(fields[4]) != len(payload):
                return None
        except (UnicodeDecodeError, ValueError):
            return None
        if hashlib.sha256(payload).hexdigest().encode("ascii") != fields[3]:
            return None
        return payload

    def save(self, kind: str, key: str, payload: bytes) -> bool:
        """Keep *payload* for (*kind*, *key*); False (and nothing written) under --what-if, when the state
        directory does not exist yet, or when the cache directory cannot be trusted or written."""
        if not self.writable or len(payload) > MAX_BYTES or not self.state_dir.is_dir() or not self._trusted():
            return False
        try:  # a state directory pybridge refuses (another user's, writable by others) gets no cache either
            platform.check_trusted_dir(self.state_dir, "state directory", self._system)
        except platform.UnsafeFileError:
            return False
        if platform.private_dir(self.directory, create=True, system=self._system) is None:
            return False
        head = b" ".join([MAGIC, kind.encode("ascii"), key.encode("ascii"),
                          hashlib.sha256(payload).hexdigest().encode("ascii"), str(len(payload)).encode("ascii")])
        return platform.write_private_file(self.path(kind), head + b"\n" + payload)


def user_files(*, writable: bool) -> FileCache:
    """The user's own cache directory, for what is kept before any state directory is known (the parsed
    configuration): pybridge.platform.user_cache_dir ($XDG_CACHE_HOME/pybridge or ~/.cache/pybridge on Linux,
    ~/Library/Caches/pybridge on macOS, %LOCALAPPDATA%\\pybridge on Windows). The same rules hold as under a
    state directory: created 0700 only inside an existing directory of this user's that no one else can write."""
    base = platform.user_cache_dir()
    return FileCache(base.parent, writable=writable, name=base.name)


# -- msal's HTTP cache ------------------------------------------------------------------------------------

class _CachedResponse:
    """What msal reads of a cached answer (its oauth2cli.http.Response shape)."""

    def __init__(self, status_code: int, text: str, headers: dict[str, str]) -> None:
        self.status_code = status_code
        self.text = text
        self.headers = headers

    def raise_for_status(self) -> None:
        if self.status_code >= 400:
            raise RuntimeError(f"HTTP Error: {self.status_code}")


class MsalHttpCache(dict[Any, Any]):  # msal chooses the keys and values
    """msal's ``http_cache`` (a dict it manages), persisted as msal's documentation suggests for command-line
    tools, but as checked JSON rather than pickle, and only its successful GETs: the authority's OpenID
    metadata, which msal keeps for 24 hours. Token requests and error answers (throttling) stay in memory.

    msal files entries under keys it builds and indexes their expiry under ``_index_``; both are rebuilt here
    from plain values, and an entry whose shape is not what msal wrote is dropped.
    """

    KIND = "msal-http"
    INDEX = "_index_"  # msal's own key for its expiry index
    MAX_AGE = 24 * 3600  # what msal gives a successful GET; a longer life in a file is not msal's

    def __init__(self, files: FileCache | None, key: str) -> None:
        super().__init__()
        self._files = files
        self._key = key
        self.changed = False
        if files is not None:
            self._load(files.load(self.KIND, key))

    @classmethod
    def for_authority(cls, files: FileCache | None, authority: str) -> "MsalHttpCache":
        try:
            from msal import __version__ as msal_version
        except ImportError:  # pragma: no cover - msal is a dependency
            msal_version = "?"
        return cls(files, digest(cls.KIND, msal_version, authority))

    def _load(self, payload: bytes | None) -> None:
        if payload is None:
            return
        try:
            doc = json.loads(payload)
        except ValueError:
            return
        entries = doc.get("entries") if isinstance(doc, dict) else None
        if not isinstance(entries, dict):
            return
        now = int(time.time())
        sequence: list[list[Any]] = []
        timestamps: dict[str, list[int]] = {}
        for key, e in entries.items():
            if not (isinstance(key, str) and key.startswith("GET ") and isinstance(e, dict)):
                continue
            status, text, headers = e.get("status"), e.get("text"), e.get("headers")
            expires, created = e.get("expires_at"), e.get("created_at")
            if not (isinstance(status, int) and 200 <= status < 300 and isinstance(text, str)
                    and isinstance(headers, dict) and all(isinstance(k, str) and isinstance(v, str)
                                                          for k, v in headers.items())
                    and type(expires) is int and type(created) is int
                    and created <= now < expires <= created + self.MAX_AGE):
                continue
            dict.__setitem__(self, key, _CachedResponse(status, text, dict(headers)))
            sequence.append([expires, created, key])
            timestamps[key] = [expires, created]
        if timestamps:
            sequence.sort()
            dict.__setitem__(self, self.INDEX, (sequence, timestamps))

    # msal writes through these; only its entries (not the index it rewrites as it reads) make a change
    def __setitem__(self, key: Any, value: Any) -> None:
        super().__setitem__(key, value)
        if key != self.INDEX:
            self.changed = True

    def __delitem__(self, key: Any) -> None:
        super().__delitem__(key)
        self.changed = True

    def pop(self, key: Any, *default: Any) -> Any:
        if key in self and key != self.INDEX:
            self.changed = True
        return super().pop(key, *default)

    def payload(self) -> bytes:
        """The successful GETs that are still fresh, as JSON."""
        index = dict.get(self, self.INDEX)
        timestamps = index[1] if isinstance(index, tuple) and len(index) == 2 and isinstance(index[1], dict) else {}
        now = int(time.time())
        entries = {}
        for key, value in self.items():
            stamp = timestamps.get(key)
            status = getattr(value, "status_code", None)
            if not (isinstance(key, str) and key.startswith("GET ") and isinstance(status, int)
                    and 200 <= status < 300 and isinstance(stamp, (list, tuple)) and len(stamp) == 2):
                continue
            expires, created = int(stamp[0]), int(stamp[1])
            if not created <= now < expires:
                continue
            entries[key] = {"status": status, "text": str(getattr(value, "text", "")),
                            "headers": {str(k): str(v) for k, v in (getattr(value, "headers", None) or {}).items()},
                            "expires_at": expires, "created_at": created}
        return json.dumps({"entries": entries}, sort_keys=True).encode("utf-8")

    def save(self) -> None:
        """Write the cache back if msal added or dropped an entry (and the cache is writable)."""
        if self.changed and self._files is not None and self._files.save(self.KIND, self._key, self.payload()):
            self.changed = False
