"""pybridge.platform, the one safe-file module, driven for both systems (``system="linux"`` and ``"win32"``).

Files pybridge writes are never opened through a link and must be regular files of this user; the state
directory must be this user's and writable by no one else; directories pybridge did not create keep their
mode; files read for settings must be regular and bounded. On Windows (ACLs, not modes) the owner and mode
checks do not apply, and links are looked for before opening instead of O_NOFOLLOW.
"""
from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from pybridge import platform
from pybridge.platform import UnsafeFileError

SYSTEMS = ["linux", "win32"]
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def mode(p: Path) -> int:
    return stat.S_IMODE(os.stat(p).st_mode)


@pytest.fixture
def umask0():
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


@pytest.mark.parametrize("system", SYSTEMS)
def test_directories_it_creates_are_owner_only_and_existing_ones_keep_their_mode(tmp_path, umask0, system):
    made = platform.make_private_dir(tmp_path / "a" / "b" / "c", system)
    if system == "linux":
        assert [mode(p) for p in (tmp_path / "a", tmp_path / "a" / "b", made)] == [0o700] * 3
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o1777)
    platform.make_private_dir(shared, system)
    platform.make_private_dir(shared / "inner", system)
    assert mode(shared) == 0o1777


@pytest.mark.parametrize("bits", [0o1777, 0o777, 0o775, 0o757])
def test_a_directory_others_can_write_to_is_not_trusted_and_not_changed(tmp_path, bits):
    d = tmp_path / "shared"
    d.mkdir()
    os.chmod(d, bits)
    with pytest.raises(UnsafeFileError) as info:
        platform.trusted_dir(d, "state directory", "linux")
    assert f"mode {bits:04o}" in str(info.value) and f"chmod go-w {d}" in info.value.fix
    assert mode(d) == bits
    platform.trusted_dir(d, "state directory", "win32")  # ACLs there: not judged by mode bits


@pytest.mark.skipif(not IS_ROOT, reason="changing a directory's owner needs root")
def test_a_directory_of_another_user_is_not_trusted(tmp_path):
    d = tmp_path / "theirs"
    d.mkdir(mode=0o700)
    os.chown(d, 65534, 65534)
    with pytest.raises(UnsafeFileError, match="belongs to another user"):
        platform.check_trusted_dir(d, "state directory", "linux")
    platform.check_trusted_dir(d, "state directory", "win32")


@pytest.mark.parametrize("system", SYSTEMS)
def test_a_link_at_a_file_it_writes_is_refused_and_its_target_untouched(tmp_path, system):
    target = tmp_path / "victim"
    target.write_text("precious\n")
    link = tmp_path / "state.lock"
    link.symlink_to(target)
    for open_it in (lambda: platform.open_private(link, system=system),
                    lambda: platform.open_private(link, exclusive=True, system=system),
                    lambda: platform.open_lock_file(link, system=system),
                    lambda: platform.check_own_file(link, system)):
        with pytest.raises(UnsafeFileError, match="symbolic link"):
            open_it()
    assert target.read_text() == "precious\n"


@pytest.mark.parametrize("system", SYSTEMS)
def test_a_dangling_link_creates_nothing_at_its_target(tmp_path, system):
    link = tmp_path / "pybridge.db"
    link.symlink_to(tmp_path / "elsewhere" / "created.db")
    (tmp_path / "elsewhere").mkdir()
    with pytest.raises(UnsafeFileError):
        platform.open_private(link, "wb", exclusive=True, system=system)
    with pytest.raises(UnsafeFileError):
        platform.refuse_link(link)
    assert not (tmp_path / "elsewhere" / "created.db").exists()


@pytest.mark.parametrize("system", SYSTEMS)
def test_atomic_write_replaces_a_planted_link_instead_of_writing_through_it(tmp_path, umask0, system):
    target = tmp_path / "victim"
    target.write_text("precious\n")
    cache = tmp_path / "msal-token-cache.json"
    cache.symlink_to(target)
    platform.write_private_atomic(cache, '{"token": "t"}', system)
    assert target.read_text() == "precious\n"
    assert not cache.is_symlink() and cache.read_text() == '{"token": "t"}'
    if system == "linux":
        assert mode(cache) == 0o600
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_atomic_write_never_uses_a_predictable_temporary_name(tmp_path):
    target = tmp_path / "victim"
    target.write_text("precious\n")
    cache = tmp_path / "cache.json"
    for name in ("cache.tmp", ".cache.json.tmp", "cache.json.tmp"):
        (tmp_path / name).symlink_to(target)
    platform.write_private_atomic(cache, "x")
    assert target.read_text() == "precious\n" and cache.read_text() == "x"


@pytest.mark.parametrize("system", SYSTEMS)
def test_settings_files_must_be_regular_and_bounded(tmp_path, system):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    for special in (fifo, Path("/dev/zero"), tmp_path):
        with pytest.raises(UnsafeFileError, match="not a regular file"):
            platform.read_regular_file(special, 1024, system=system)
    big = tmp_path / "big"
    big.write_bytes(b"x" * 2048)
    with pytest.raises(UnsafeFileError, match="larger than 1024 bytes"):
        platform.read_regular_file(big, 1024, system=system)
    assert platform.read_regular_file(big, 2048, system=system) == b"x" * 2048


@pytest.mark.parametrize("system", SYSTEMS)
def test_secret_files_must_be_owner_only_where_modes_apply(tmp_path, system):
    secret = tmp_path / "secret"
    secret.write_text("pw\n")
    secret.chmod(0o644)
    if system == "linux":
        with pytest.raises(UnsafeFileError) as info:
            platform.read_regular_file(secret, 1024, owner_only=True, what="secret file", system=system)
        assert info.value.fix == f"chmod 600 {secret}"
    else:
        assert platform.read_regular_file(secret, 1024, owner_only=True, system=system) == b"pw\n"
    secret.chmod(0o600)
    assert platform.read_regular_file(secret, 1024, owner_only=True, system=system) == b"pw\n"


@pytest.mark.parametrize("system", SYSTEMS)
def test_the_lock_never_follows_a_link_and_creates_nothing_without_create(tmp_path, system):
    state = tmp_path / "state"
    target = tmp_path / "victim"
    target.write_text("precious\n")
    state.mkdir(mode=0o700)
    (state / "pybridge.lock").symlink_to(target)
    for create in (True, False):
        with pytest.raises(UnsafeFileError, match="symbolic link"):
            platform.FileLock(state / "pybridge.lock", create=create, system=system).try_acquire()
    assert target.read_text() == "precious\n"
    fresh = tmp_path / "new-state" / "pybridge.lock"
    lock = platform.FileLock(fresh, create=False, system=system)
    assert lock.try_acquire() and not lock.is_held_elsewhere()
    lock.release()
    assert not fresh.parent.exists()


def test_the_lock_probe_writes_nothing(tmp_path):
    lock_path = tmp_path / "state" / "pybridge.lock"
    holder = platform.FileLock(lock_path)
    assert holder.try_acquire()
    before = lock_path.read_bytes()
    assert platform.FileLock(lock_path).is_held_elsewhere()
    holder.release()
    assert not platform.FileLock(lock_path).is_held_elsewhere()
    assert lock_path.read_bytes() == before


@pytest.mark.parametrize("xdg", [None, "", "/srv/cache-home", "relative/cache"])  # relative: ignored (XDG spec)
def test_the_user_cache_directory_on_linux_is_the_one_platformdirs_names(monkeypatch, tmp_path, xdg):
    import platformdirs
    monkeypatch.setenv("HOME", str(tmp_path))
    if xdg is None:
        monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    else:
        monkeypatch.setenv("XDG_CACHE_HOME", xdg)
    expected = Path(platformdirs.unix.Unix("pybridge", appauthor=False, opinion=False).user_cache_dir)
    assert platform.user_cache_dir("linux") == expected
