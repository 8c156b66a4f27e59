"""Platform differences in one small module: directories, and every file pybridge writes or trusts.

The engine runs on Windows sync servers as well as Linux and macOS workstations.
Everything that differs between them lives here, behind an explicit ``system``
argument so tests can drive both branches on any machine.

This is also pybridge's one safe-file module. Its rules (README, "Files and links"):

* Every file pybridge writes (the state database, the lock, the token cache and its
  temporary file, the HTML reports) is opened without following a link at its own name
  (``O_NOFOLLOW``; on Windows a link is looked for first), must turn out to be a regular
  file owned by this user, and is created owner-only (0600). Temporary files are created
  with ``O_CREAT | O_EXCL`` under an unpredictable name and then renamed into place.
* The state directory is trusted only when it is owned by this user (or root) and no one
  else can write to it (not group- or other-writable, so not a shared 1777 directory);
  otherwise :class:`UnsafeFileError` says why and how to fix it. pybridge never changes
  the mode of a directory it did not create; the ones it creates are 0700.
* Files pybridge reads for settings (the configuration, secret files, sync rules,
  certificates) must be regular files (not a device, FIFO or socket) of bounded size;
  secret files must be readable by their owner only.

On Windows, mode bits and owners do not apply (the directories under %ProgramData% inherit
an ACL granting administrators and SYSTEM); links are still refused.
"""
from __future__ import annotations

import errno
import os
import secrets
import stat
import sys
from pathlib import Path
from typing import IO, Any

APP = "pybridge"


class UnsafeFileError(OSError):
    """A file or directory pybridge refuses to use; ``fix`` says what to do about it."""

    def __init__(self, message: str, *, fix: str) -> None:
        super().__init__(message)
        self.strerror = message
        self.fix = fix

    def __str__(self) -> str:
        return self.strerror or ""


def _system(system: str | None) -> str:
    return system or sys.platform


def is_windows(system: str | None = None) -> bool:
    return _system(system).startswith("win")


def _program_data() -> Path:
    return Path(os.environ.get("ProgramData", r"C:\ProgramData"))


def config_path(system: str | None = None) -> Path:
    """Default configuration file when neither --config nor $PYBRIDGE_CONFIG is given."""
    if is_windows(system):
        return _program_data() / APP / "pybridge.yaml"
    import platformdirs  # only where a default is needed: most runs name their files
    return Path(platformdirs.user_config_dir(APP, appauthor=False)) / "pybridge.yaml"


def state_dir(system: str | None = None) -> Path:
    if is_windows(system):
        return _program_data() / APP
    import platformdirs
    return Path(platformdirs.user_state_dir(APP, appauthor=False))


def user_cache_dir(system: str | None = None) -> Path:
    """The user's cache directory for pybridge (what is kept before any state directory is known).

    On Linux it is read here, as the XDG Base Directory specification defines it ($XDG_CACHE_HOME when set
    to an absolute path, else ~/.cache), rather than through platformdirs: every sync needs it, and importing
    platformdirs costs a sync process more than the rest of the lookup (docs/performance.md). Elsewhere
    platformdirs answers (~/Library/Caches on macOS, %LOCALAPPDATA% on Windows)."""
    if _system(system).startswith("linux"):
        xdg = os.environ.get("XDG_CACHE_HOME", "")
        base = Path(xdg) if os.path.isabs(xdg) else Path(os.path.expanduser("~")) / ".cache"
        return base / APP
    import platformdirs
    return Path(platformdirs.user_cache_dir(APP, appauthor=False, opinion=False))


def state_path(system: str | None = None) -> Path:
    return state_dir(system) / "pybridge.db"


def report_dir(system: str | None = None) -> Path:
    """Where HTML reports go by default (the original's folder on Windows)."""
    if is_windows(system):
        return _program_data() / "AADConnect" / "ADSyncObjectDiagnostics"
    return state_dir(system) / "reports"


#: Where Entra Connect installs its sync engine (miiserver.exe is the ADSync service's program).
ENTRA_CONNECT_ENGINE = ("Microsoft Azure AD Sync", "Bin", "miiserver.exe")


def entra_connect_installed(system: str | None = None) -> bool:
    """True on a Windows server where Entra Connect's own sync engine (the ADSync service) is installed.

    Only there can Entra Connect's scheduler start a sync cycle while pybridge syncs: pybridge runs
    no cycles of its own, and Entra Connect runs on Windows only.
    """
    if not _system(system).startswith("win"):
        return False
    program_files = Path(os.environ.get("ProgramFiles", r"C:\Program Files"))
    if program_files.joinpath(*ENTRA_CONNECT_ENGINE).is_file():
        return True
    if sys.platform != "win32":  # the registry is Windows' own (mypy, too, checks what follows for win32 only)
        return False
    import winreg  # pragma: no cover - Windows only
    try:  # pragma: no cover - Windows only
        winreg.OpenKey(winreg.HKEY_LOCAL_MACHINE, r"SYSTEM\CurrentControlSet\Services\ADSync").Close()
        return True
    except OSError:  # pragma: no cover
        return False


# -- directories ------------------------------------------------------------------------------------

def make_private_dir(path: Path, system: str | None = None) -> Path:
    """Create *path* and any missing parent, each owner-only (0700); an existing directory is left as it is.

    pybridge never changes the mode of a directory it did not create (a shared directory given
    as the state or report directory keeps its mode). On Windows the new directories inherit
    their parent's ACL; mode bits do not apply there.
    """
    missing: list[Path] = []
    p = Path(path)
    while not p.exists():
        if p.is_symlink():
            raise UnsafeFileError(f"{p} is a symbolic link to nothing; pybridge does not follow it",
                                  fix=f"remove the link {p} or point the setting at a real directory")
        missing.append(p)
        if p.parent == p:
            break
        p = p.parent
    for d in reversed(missing):
        try:
            os.mkdir(d, 0o700)
        except FileExistsError:
            continue  # made meanwhile by someone else: not ours, so its mode is not touched
        if not is_windows(system):
            os.chmod(d, 0o700)  # mkdir's mode is filtered by the umask; this one is ours
    return path


def check_trusted_dir(path: Path, what: str = "directory", system: str | None = None) -> None:
    """Raise UnsafeFileError unless *path* is a directory only its owner (this user, or root) can write to."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise UnsafeFileError(f"the {what} {path} does not exist",
                              fix=f"create it (mkdir -m 700 {path}) or let pybridge create it") from None
    if not stat.S_ISDIR(st.st_mode):
        raise UnsafeFileError(f"the {what} {path} is not a directory",
                              fix="point the setting at a directory (pybridge creates it when it does not exist)")
    if is_windows(system):
        return  # ACLs, not modes and owners: %ProgramData%\pybridge inherits administrators and SYSTEM
    uid = os.geteuid()
    if st.st_uid not in (uid, 0):
        raise UnsafeFileError(
            f"the {what} {path} belongs to another user (uid {st.st_uid}, not {uid}), who could plant files in it",
            fix=f"use a directory of your own (pybridge creates one when state.path names a directory that does not "
                f"exist), or chown {uid} {path}")
    if st.st_mode & 0o022:
        mode = stat.S_IMODE(st.st_mode)
        raise UnsafeFileError(
            f"the {what} {path} is writable by others (mode {mode:04o}), who could plant files in it",
            fix=f"use a directory of your own (pybridge creates one, mode 0700, when it does not exist), or "
                f"chmod go-w {path}")


def trusted_dir(path: Path, what: str = "directory", system: str | None = None) -> Path:
    """*path* created owner-only when missing, then checked (:func:`check_trusted_dir`)."""
    make_private_dir(path, system)
    check_trusted_dir(path, what, system)
    return path


# -- opening files ----------------------------------------------------------------------------------

def _link_error(path: Path) -> UnsafeFileError:
    return UnsafeFileError(f"{path} is a symbolic link; pybridge does not follow links for files it writes",
                           fix=f"remove the link {path} (pybridge then creates the file itself), or point the "
                               "setting at the real file")


def _open_no_link(path: Path, flags: int, system: str | None) -> int:
    """os.open that never follows a link at *path* and returns only a regular file owned by this user."""
    win = is_windows(system)
    if win:
        # no O_NOFOLLOW on Windows: look for a link first (creating one needs a privilege there)
        if os.path.islink(path):
            raise _link_error(path)
        fd = os.open(path, flags | getattr(os, "O_BINARY", 0) | getattr(os, "O_NOINHERIT", 0), 0o600)
    else:
        try:
            fd = os.open(path, flags | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            if exc.errno == errno.ELOOP or (exc.errno == errno.EEXIST and os.path.islink(path)):
                raise _link_error(path) from None
            if exc.errno == errno.ENXIO:  # a FIFO without a reader
                raise _not_regular(path) from None
            raise
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise _not_regular(path)
        if not win:
            if st.st_uid not in (os.geteuid(), 0):
                raise UnsafeFileError(f"{path} belongs to another user (uid {st.st_uid})",
                                      fix=f"remove {path}; pybridge then creates it itself")
            os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _not_regular(path: Path) -> UnsafeFileError:
    return UnsafeFileError(f"{path} is not a regular file (a device, FIFO, socket or directory)",
                           fix=f"point the setting at a regular file, or remove {path}")


def open_private(path: Path, mode: str = "w", encoding: str | None = "utf-8", *, exclusive: bool = False,
                 system: str | None = None) -> IO[Any]:
    """Open a file for writing that is owner-only from the moment it exists, never through a link.

    An existing regular file of this user is truncated; with *exclusive* the file must not exist yet
    (``O_EXCL``: a temporary file, a report).
    """
    flags = os.O_WRONLY | os.O_CREAT | (os.O_EXCL if exclusive else 0)
    fd = _open_no_link(path, flags, system)
    if not exclusive:
        os.ftruncate(fd, 0)
    if "b" in mode:
        return os.fdopen(fd, mode)
    return os.fdopen(fd, mode, encoding=encoding)


def open_lock_file(path: Path, *, create: bool = True, system: str | None = None) -> int:
    """A read-write descriptor on the lock file (created owner-only with *create*), never through a link."""
    return _open_no_link(path, os.O_RDWR | (os.O_CREAT if create else 0), system)


def write_private_atomic(path: Path, data: str | bytes, system: str | None = None) -> None:
    """Replace *path* with *data*: a new owner-only temporary file (O_EXCL, unpredictable name), then a rename.

    A link planted at *path* is replaced, never written through; a reader never sees half a file.
    """
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    raw = data.encode("utf-8") if isinstance(data, str) else data
    try:
        with open_private(tmp, "wb", exclusive=True, system=system) as fh:
            fh.write(raw)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def refuse_link(path: Path) -> None:
    """Raise UnsafeFileError when *path* itself is a symbolic link (dangling or not)."""
    if os.path.islink(path):
        raise _link_error(path)


def check_own_file(path: Path, system: str | None = None) -> None:
    """Raise UnsafeFileError unless *path* is a regular file of this user (not a link, device or FIFO)."""
    os.close(_open_no_link(path, os.O_RDONLY, system))


# -- reading files ----------------------------------------------------------------------------------

def read_regular_file(path: Path, limit: int, *, owner_only: bool = False, follow_links: bool = True,
                      what: str = "file", system: str | None = None) -> bytes:
    """The bytes of *path*, which must be a regular file of at most *limit* bytes.

    A device (/dev/zero), a FIFO or a socket is refused without blocking; a longer file is
    refused without reading it. With *owner_only*, a file that others may read (or write) is
    refused as ssh refuses such a private key (POSIX only). A link at *path* is followed
    (configuration management links files into place) unless *follow_links* is False.
    """
    win = is_windows(system)
    if win:
        st0 = os.stat(path)
        if not stat.S_ISREG(st0.st_mode):
            raise _not_regular_read(path, what)
        if not follow_links and os.path.islink(path):
            raise _link_error(path)
        flags = os.O_RDONLY | getattr(os, "O_BINARY", 0) | getattr(os, "O_NOINHERIT", 0)
    else:
        flags = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | (0 if follow_links else os.O_NOFOLLOW)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if exc.errno == errno.ELOOP and not follow_links:
            raise _link_error(path) from None
        raise
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise _not_regular_read(path, what)
        if owner_only and not win and st.st_mode & 0o077:
            raise UnsafeFileError(
                f"{what} {path} is accessible by others (mode {stat.S_IMODE(st.st_mode):04o}); a secret file must "
                "be readable by its owner only", fix=f"chmod 600 {path}")
        if st.st_size > limit:
            raise _too_big(path, what, limit)
        chunks: list[bytes] = []
        size = 0
        while True:
            chunk = os.read(fd, min(1 << 20, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
            if size > limit:  # the file grew while it was read
                raise _too_big(path, what, limit)
        return b"".join(chunks)
    finally:
        os.close(fd)


def _not_regular_read(path: Path, what: str) -> UnsafeFileError:
    return UnsafeFileError(f"{what} {path} is not a regular file (a device, FIFO, socket or directory)",
                           fix="point the setting at a regular file")


def _too_big(path: Path, what: str, limit: int) -> UnsafeFileError:
    return UnsafeFileError(f"{what} {path} is larger than {limit} bytes, pybridge's limit for it",
                           fix="point the setting at the right file")


def file_is_private(path: Path, system: str | None = None) -> bool:
    """True when no one but the owner can read *path* (always True where modes do not apply)."""
    if is_windows(system) or os.name != "posix":
        return True
    return (path.stat().st_mode & 0o077) == 0


# -- the lock ---------------------------------------------------------------------------------------

class FileLock:
    """An exclusive, non-blocking lock on a file, released when the process ends (even on SIGKILL).

    fcntl.flock on POSIX, msvcrt.locking on Windows: the OS drops the lock with the
    process, so a crashed sync never leaves a stale lock behind. The lock file and its
    directory are opened as :func:`open_lock_file` and :func:`trusted_dir` say. Without
    *create* (a what-if run) nothing is created or written: a missing lock file means that
    no one holds the lock.
    """

    def __init__(self, path: Path, *, create: bool = True, system: str | None = None) -> None:
        self.path = path
        self.create = create
        self.system = system
        self._fd: int | None = None
        self._held = False

    def try_acquire(self) -> bool:
        return self._acquire(self.create, write_pid=self.create)

    def _acquire(self, create: bool, write_pid: bool) -> bool:
        if create:
            trusted_dir(self.path.parent, "state directory", self.system)
        elif self.path.parent.exists():
            check_trusted_dir(self.path.parent, "state directory", self.system)
        try:
            fd = open_lock_file(self.path, create=create, system=self.system)
        except FileNotFoundError:
            if create:
                raise
            self._held = True  # no lock file: no one holds the lock, and nothing is created
            return True
        try:
            if is_windows(self.system) and sys.platform == "win32":  # pragma: no cover - exercised on Windows only
                import msvcrt
                msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
            else:
                import fcntl
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        self._fd = fd
        self._held = True
        if write_pid:
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
        return True

    def is_held_elsewhere(self) -> bool:
        """True when another process holds the lock (a probe that takes and drops it, creating nothing)."""
        if self._held:
            return False
        if not os.path.lexists(self.path):
            return False
        if self._acquire(create=False, write_pid=False):
            self.release()
            return False
        return True

    def release(self) -> None:
        self._held = False
        if self._fd is None:
            return
        try:
            if is_windows(self.system) and sys.platform == "win32":  # pragma: no cover
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
