"""Platform differences in one small module: directories and owner-only files.

The engine runs on Windows sync servers as well as Linux and macOS workstations.
Everything that differs between them lives here, behind an explicit ``system``
argument so tests can drive both branches on any machine.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

APP = "pybridge"


def _system(system: str | None) -> str:
    return system or sys.platform


def _program_data() -> Path:
    return Path(os.environ.get("ProgramData", r"C:\ProgramData"))


def config_path(system: str | None = None) -> Path:
    """Default configuration file when neither --config nor $PYBRIDGE_CONFIG is given."""
    if _system(system).startswith("win"):
        return _program_data() / APP / "pybridge.yaml"
    import platformdirs  # only where a default is needed: most runs name their files
    return Path(platformdirs.user_config_dir(APP, appauthor=False)) / "pybridge.yaml"


def state_dir(system: str | None = None) -> Path:
    if _system(system).startswith("win"):
        return _program_data() / APP
    import platformdirs
    return Path(platformdirs.user_state_dir(APP, appauthor=False))


def state_path(system: str | None = None) -> Path:
    return state_dir(system) / "pybridge.db"


def report_dir(system: str | None = None) -> Path:
    """Where HTML reports go by default (the original's folder on Windows)."""
    if _system(system).startswith("win"):
        return _program_data() / "AADConnect" / "ADSyncObjectDiagnostics"
    return state_dir(system) / "reports"


def make_private_dir(path: Path) -> Path:
    """Create *path* (and parents) so that only its owner can list it.

    On Windows, directories under %ProgramData% inherit an ACL that grants
    administrators and SYSTEM; mode bits are ignored there, so nothing more is done.
    """
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    if os.name == "posix":
        try:
            os.chmod(path, 0o700)
        except PermissionError:
            pass  # not ours (e.g. a shared parent given explicitly): leave it as it is
    return path


def restrict_file(path: Path) -> None:
    """Make an existing file readable and writable by its owner only."""
    if os.name == "posix":
        os.chmod(path, 0o600)


def open_private(path: Path, mode: str = "w", encoding: str | None = "utf-8"):  # type: ignore[no-untyped-def]
    """Open a new file for writing that is owner-only from the moment it exists."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_BINARY", 0)
    fd = os.open(path, flags, 0o600)
    if "b" in mode:
        return os.fdopen(fd, mode)
    return os.fdopen(fd, mode, encoding=encoding)


def file_is_private(path: Path) -> bool:
    """True when no one but the owner can read *path* (always True where modes do not apply)."""
    if os.name != "posix":
        return True
    return (path.stat().st_mode & 0o077) == 0


class FileLock:
    """An exclusive, non-blocking lock on a file, released when the process ends (even on SIGKILL).

    fcntl.flock on POSIX, msvcrt.locking on Windows: the OS drops the lock with the
    process, so a crashed sync never leaves a stale lock behind.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def try_acquire(self) -> bool:
        make_private_dir(self.path.parent)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            if os.name == "nt":  # pragma: no cover - exercised on Windows only
                import msvcrt
                msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
            else:
                import fcntl
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        self._fd = fd
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        return True

    def is_held_elsewhere(self) -> bool:
        """True when another process holds the lock (a probe that takes and drops it)."""
        if self._fd is not None:
            return False
        if not self.path.exists():
            return False
        if self.try_acquire():
            self.release()
            return False
        return True

    def release(self) -> None:
        if self._fd is None:
            return
        try:
            if os.name == "nt":  # pragma: no cover
                import msvcrt
                os.lseek(self._fd, 0, os.SEEK_SET)
                msvcrt.locking(self._fd, msvcrt.LK_UNLCK, 1)
            else:
                import fcntl
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            os.close(self._fd)
            self._fd = None


# -- cache files: read only when ours and private, written without ever following a link -------------------

#: os.O_NOFOLLOW where the platform has it (POSIX); Windows has no such flag, links are refused by lstat there.
NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


def _is_private(st: os.stat_result, system: str | None = None, *, writable_only: bool = False) -> bool:
    """True when *st* is owned by this user and grants nothing (or, for a directory, no write) to anyone else.

    On Windows, ownership and access are the ACL's (inherited from %ProgramData%): nothing to check here.
    """
    if _system(system).startswith("win"):
        return True
    mask = 0o022 if writable_only else 0o077
    return st.st_uid == os.geteuid() and (st.st_mode & mask) == 0


def private_dir(path: Path, *, create: bool, system: str | None = None) -> Path | None:
    """*path* as a directory only its owner (this user) can change, created 0700 if *create*; None when it is
    absent (and not to be created), a link, not a directory, someone else's, or writable by others."""
    import stat
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        if not create:
            return None
        try:
            os.mkdir(path, 0o700)
            st = os.lstat(path)
        except OSError:
            return None
    except OSError:
        return None
    if not stat.S_ISDIR(st.st_mode) or not _is_private(st, system, writable_only=True):
        return None
    return path


def read_private_file(path: Path, max_bytes: int, system: str | None = None) -> bytes | None:
    """The bytes of *path* when it is a regular file of this user's that no one else can read or write, reached
    without following a link and at most *max_bytes* long; None for anything else (absent, a link, a FIFO,
    someone else's, shared, too large, unreadable)."""
    import stat
    if not NOFOLLOW and os.path.islink(path):
        return None
    flags = os.O_RDONLY | NOFOLLOW | getattr(os, "O_BINARY", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_size > max_bytes or not _is_private(st, system):
            return None
        with os.fdopen(os.dup(fd), "rb") as fh:
            data = fh.read(max_bytes + 1)
        return data if len(data) <= max_bytes else None
    except OSError:
        return None
    finally:
        os.close(fd)


def write_private_file(path: Path, data: bytes) -> bool:
    """Replace *path* with *data* atomically: a new owner-only file created exclusively beside it (never through
    a link), then renamed over it (a link at *path* is replaced, not followed). False when it cannot be done."""
    import secrets
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | NOFOLLOW | getattr(os, "O_BINARY", 0), 0o600)
    except OSError:
        return False
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
        return True
    except OSError:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        return False
