"""Planted files and careless directories around the state, as real `pybridge sync` processes against the lab.

pybridge.platform is the one place that opens what pybridge writes: never through a link (O_NOFOLLOW;
temporary files O_CREAT|O_EXCL under an unpredictable name, then renamed), only regular files of this
user, in a state directory that this user owns and no one else can write to; a directory pybridge did
not create keeps its mode. Each attack here worked against pybridge before that module:

* a link at the token cache's temporary file received the bearer token; a link or a FIFO at the cache
  itself was read through (or blocked the run);
* a link at the lock file had its target truncated and overwritten with a pid (also under --what-if);
* a dangling link as state.path created a database at its target;
* a state directory of another user, or a shared 1777 one, was used (and the shared one chmod-ed 0700);
* --what-if left a state directory with a lock file and a token cache behind;
* directories created on the way to state.path were left world-writable under umask 000.
"""
from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.integration.conftest import Run

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
PRECIOUS = "precious: nothing may write here\n"


def pybridge(*args: str, umask: int | None = None, timeout: float = 180) -> Run:
    def preexec():  # pragma: no cover - runs in the child
        if umask is not None:
            os.umask(umask)
    proc = subprocess.run([sys.executable, "-m", "pybridge", *args], cwd=REPO, capture_output=True, text=True,
                          encoding="utf-8", errors="replace", timeout=timeout, stdin=subprocess.DEVNULL,
                          preexec_fn=preexec)
    return Run(proc.returncode, proc.stdout, proc.stderr)


def mode(p: Path) -> int:
    return stat.S_IMODE(os.lstat(p).st_mode)


def writes(emulator) -> list[dict]:
    return [r for r in emulator.requests if r["method"] in ("POST", "PATCH", "DELETE")
            and r["path"].startswith("/v1.0/")]


def state_failure(r: Run, *in_reason: str) -> dict:
    """The run could not start: exit 1, one failure result with StateStoreError, no traceback."""
    assert r.code == 1, (r.code, r.stdout[-2000:], r.stderr[-2000:])
    assert "Traceback" not in r.stderr, r.stderr
    info = r.json["StatusInfo"]
    assert info["Status"] == "Failure" and info["ErrorCode"] == "StateStoreError", info
    for text in in_reason:
        assert text in info["Reason"] + " " + info["RecommendedAction"], (text, info)
    assert "state.path" in info["RecommendedAction"]
    return info


def victim(tmp_path: Path, name: str = "victim") -> Path:
    v = tmp_path / name
    v.write_text(PRECIOUS)
    return v


def cache_path(cfg: Path) -> Path:
    from pybridge import config as configlib
    from pybridge.engine import token_cache_path
    return token_cache_path(configlib.load(cfg, check_secrets=False))


# -- the token cache ---------------------------------------------------------------------------------------

def test_links_at_the_token_cache_and_its_temporary_names_never_receive_the_token(lab, tmp_path):
    cfg = lab.config(tmp_path)
    cache = cache_path(cfg)
    cache.parent.mkdir(mode=0o700)
    planted = {}
    # the temporary name an earlier pybridge used, and other names an attacker would guess
    for name in (cache.with_suffix(".tmp").name, f".{cache.name}.tmp", f"{cache.name}.tmp", cache.name):
        planted[name] = victim(tmp_path, f"victim-{name}")
        (cache.parent / name).symlink_to(planted[name])
    r = pybridge("sync", "--config", str(cfg), "--no-html-report", lab.dns["user"])
    assert r.code == 0, r.stderr
    for name, v in planted.items():
        assert v.read_text() == PRECIOUS, f"written through the link at {name}"
    assert not cache.is_symlink() and mode(cache) == 0o600
    tokens = [t["secret"] for t in json.loads(cache.read_text()).get("AccessToken", {}).values()]
    assert tokens  # the token went to the cache's own new file, and only there
    assert not any(t in v.read_text() for t in tokens for v in planted.values())


def test_a_fifo_at_the_token_cache_is_ignored_not_waited_on(lab, tmp_path):
    cfg = lab.config(tmp_path)
    cache = cache_path(cfg)
    cache.parent.mkdir(mode=0o700)
    os.mkfifo(cache)  # read_text() on it waited for a writer forever
    r = pybridge("sync", "--config", str(cfg), "--no-html-report", lab.dns["user"], timeout=120)
    assert r.code == 0, r.stderr
    assert stat.S_ISREG(os.lstat(cache).st_mode) and mode(cache) == 0o600  # replaced by the new cache


# -- the lock file -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("what_if", [False, True])
def test_a_link_at_the_lock_file_is_refused_and_its_target_untouched(lab, tmp_path, what_if):
    cfg = lab.config(tmp_path)
    state = Path(yaml.safe_load(cfg.read_text())["state"]["path"])
    state.parent.mkdir(mode=0o700)
    target = victim(tmp_path)
    state.with_suffix(".lock").symlink_to(target)
    r = pybridge("sync", "--config", str(cfg), "--no-html-report", lab.dns["user"],
                 *(["--what-if"] if what_if else []))
    state_failure(r, "symbolic link", str(state.with_suffix(".lock")))
    assert target.read_text() == PRECIOUS
    assert writes(lab.emulator) == []


# -- the state file ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("plant", ["dangling-link", "link-to-a-database-elsewhere"])
def test_a_state_file_that_is_a_link_is_refused(lab, tmp_path, plant):
    cfg = lab.config(tmp_path)
    state = Path(yaml.safe_load(cfg.read_text())["state"]["path"])
    state.parent.mkdir(mode=0o700)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    if plant == "dangling-link":
        state.symlink_to(elsewhere / "created.db")
    else:
        (elsewhere / "created.db").write_text("")
        state.symlink_to(elsewhere / "created.db")
    r = pybridge("sync", "--config", str(cfg), "--no-html-report", lab.dns["user"], timeout=120)
    state_failure(r, str(state), "symbolic link")
    assert not (elsewhere / "created.db").exists() or (elsewhere / "created.db").read_text() == ""
    assert writes(lab.emulator) == []


# -- the state directory ---------------------------------------------------------------------------------------

def test_a_state_directory_of_another_user_is_refused(lab, tmp_path):
    if os.geteuid() != 0:
        pytest.skip("giving a directory to another user needs root")
    cfg = lab.config(tmp_path)
    state_dir = Path(yaml.safe_load(cfg.read_text())["state"]["path"]).parent
    state_dir.mkdir(mode=0o700)
    os.chown(state_dir, 65534, 65534)  # nobody's: they could plant anything in it
    r = pybridge("sync", "--config", str(cfg), "--no-html-report", lab.dns["user"])
    state_failure(r, str(state_dir), "belongs to another user")
    assert list(state_dir.iterdir()) == [] and writes(lab.emulator) == []
    assert pybridge("history", "list", "--config", str(cfg)).code == 1  # reading it is refused too


@pytest.mark.parametrize("bits", [0o1777, 0o777, 0o770])
def test_a_shared_state_directory_is_refused_and_keeps_its_mode(lab, tmp_path, bits):
    cfg = lab.config(tmp_path)
    state_dir = Path(yaml.safe_load(cfg.read_text())["state"]["path"]).parent
    state_dir.mkdir()
    os.chmod(state_dir, bits)
    r = pybridge("sync", "--config", str(cfg), "--no-html-report", lab.dns["user"])
    info = state_failure(r, str(state_dir), f"mode {bits:04o}")
    assert "chmod go-w" in info["RecommendedAction"]
    assert mode(state_dir) == bits, "pybridge changed the mode of a directory it did not create"
    assert list(state_dir.iterdir()) == [] and writes(lab.emulator) == []


def test_directories_it_creates_are_0700_those_it_finds_keep_their_mode_and_report_names_are_never_followed(
        lab, tmp_path):
    """Under umask 000: the directories made on the way to state.path are 0700 (they were 0777); an existing
    shared report directory keeps its mode, and report names planted there as links are skipped."""
    reports = tmp_path / "shared-reports"
    reports.mkdir()
    os.chmod(reports, 0o1777)
    target = victim(tmp_path)
    import datetime as dt

    from pybridge.core import dn as dnlib
    from pybridge.report.html import report_name
    now = dt.datetime.now(dt.timezone.utc)
    for second in range(-2, 180):  # the names of the next three minutes' reports of this object, all links
        name = report_name(now + dt.timedelta(seconds=second), 0, dnlib.rdn_value(lab.dns["user"]))
        (reports / name).symlink_to(target)
    cfg = lab.config(tmp_path, **{"state.path": str(tmp_path / "s1" / "s2" / "state" / "pybridge.db"),
                                  "report.directory": str(reports)})
    r = pybridge("sync", "--config", str(cfg), lab.dns["user"], umask=0)
    assert r.code == 0, r.stderr
    made = [tmp_path / "s1", tmp_path / "s1" / "s2", tmp_path / "s1" / "s2" / "state"]
    assert {str(p): oct(mode(p)) for p in made} == {str(p): oct(0o700) for p in made}
    report = Path(r.json["ReportPath"])
    assert report.parent == reports and not report.is_symlink() and mode(report) == 0o600
    assert report.name.endswith("_2.htm")  # its own name was a planted link, skipped
    assert target.read_text() == PRECIOUS and mode(reports) == 0o1777


# -- what-if persists nothing ------------------------------------------------------------------------------------

def test_what_if_leaves_no_state_directory_lock_or_token_cache_behind(lab, tmp_path):
    cfg = lab.config(tmp_path)
    state_dir = Path(yaml.safe_load(cfg.read_text())["state"]["path"]).parent
    r = pybridge("sync", "--config", str(cfg), "--what-if", "--no-html-report", lab.dns["user"])
    assert r.code == 0, r.stderr
    assert json.loads(r.stdout)["StatusInfo"]["Status"] == "Success"
    assert not state_dir.exists(), sorted(str(p) for p in state_dir.rglob("*"))
    assert writes(lab.emulator) == []


def test_what_if_in_an_existing_state_changes_no_file(lab, tmp_path):
    cfg = lab.config(tmp_path)
    state_dir = Path(yaml.safe_load(cfg.read_text())["state"]["path"]).parent
    assert pybridge("sync", "--config", str(cfg), "--no-html-report", lab.dns["user"]).code == 0
    lab.emulator.clear_log()
    def files() -> dict:  # every file below the state directory (the caches live in state/cache/), and each folder
        return {str(p.relative_to(state_dir)): (p.stat().st_mtime_ns, p.read_bytes() if p.is_file() else None)
                for p in sorted(state_dir.rglob("*"))}
    before = files()
    assert "cache" in before  # a real run keeps its caches there; what-if must leave them as they are
    time.sleep(0.05)
    r = pybridge("sync", "--config", str(cfg), "--what-if", "--no-html-report", lab.dns["user"])
    assert r.code == 0, r.stderr
    after = files()
    assert after == before and writes(lab.emulator) == []
