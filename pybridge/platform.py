"""Platform differences in one small module: directories and owner-only files.

The engine runs on Windows sync servers as well as Linux and macOS workstations.
Everything that differs between them lives here, behind an explicit ``system``
argument so tests can drive both branches on any machine.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import platformdirs

APP = "pybridge"


def _system(system: str | None) -> str:
    return system or sys.platform


def _program_data() -> Path:
    return Path(os.environ.get("ProgramData", r"C:\ProgramData"))


def config_path(system: str | None = None) -> Path:
    """Default configuration file when neither --config nor $PYBRIDGE_CONFIG is given."""
    if _system(system).startswith("win"):
        return _program_data() / APP / "pybridge.yaml"
    return Path(platformdirs.user_config_dir(APP, appauthor=False)) / "pybridge.yaml"


def state_dir(system: str | None = None) -> Path:
    if _system(system).startswith("win"):
        return _program_data() / APP
    return Path(platformdirs.user_state_dir(APP, appauthor=False))


def state_path(system: str | None = None) -> Path:
    return state_dir(system) / "pybridge.db"


def report_dir(system: str | None = None) -> Path:
    """Where HTML reports go by default (the original's folder on Windows)."""
    if _system(system).startswith("win"):
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
    try:
        import winreg  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return False
    try:  # pragma: no cover - Windows only
        winreg.OpenKey(winreg.HKEY_LOCAL_MACHINE, r"SYSTEM\CurrentControlSet\Services\ADSync").Close()
        return True
    except OSError:  # pragma: no cover
        return False


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
