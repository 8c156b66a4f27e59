"""Faults around a sync, against the real Samba AD DC and the Graph emulator.

Whatever happens around it - the process killed with SIGKILL in the middle of the export or of the state
commit, a second sync started at the same time, Graph committing a create and then not answering, the DC
going away after the import, a read-only, full, corrupt or foreign state store - pybridge must never
create an Entra object twice, never lose or half-write its state, and either finish the run or say
clearly why it could not. Every test checks the result JSON, the exit code, the state store (with
sqlite3) and the emulator's request log.

The 500/503/429-storm/504/connection-reset cases of reads and of PATCH live in test_throttling.py; the
DC stopping before the import (step 7) in test_sync.py.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import ldap3
import pytest
import yaml

from tests.integration.conftest import Run, run_cli

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
POST_USERS = r"^/v1\.0/users$"
POST_GROUPS = r"^/v1\.0/groups$"


# -- helpers --------------------------------------------------------------------------------------------

class Proc:
    """`python -m pybridge ...` as a real process, its stderr read line by line while it runs."""

    def __init__(self, *args: str, script: Path | None = None) -> None:
        cmd = [sys.executable, str(script)] if script else [sys.executable, "-m", "pybridge"]
        self.p = subprocess.Popen([*cmd, *args], cwd=REPO, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True, encoding="utf-8", errors="replace")
        self.err: list[str] = []
        self.out: list[str] = []
        self._threads = [threading.Thread(target=self._pump, args=(self.p.stderr, self.err), daemon=True),
                         threading.Thread(target=self._pump, args=(self.p.stdout, self.out), daemon=True)]
        for t in self._threads:
            t.start()

    @staticmethod
    def _pump(stream, sink: list[str]) -> None:
        for line in stream:
            sink.append(line)

    def progress(self) -> list[dict]:
        return [json.loads(line.split(" ", 1)[1]) for line in list(self.err)
                if line.startswith("PYBRIDGE-PROGRESS ")]

    def step_done(self, number: int) -> bool:
        return any(p["step"] == number for p in self.progress())

    def wait_until(self, predicate, timeout: float = 30.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            if self.p.poll() is not None:
                return bool(predicate())
            time.sleep(0.02)
        return False

    def running(self) -> bool:
        return self.p.poll() is None

    def kill9(self) -> int:
        os.kill(self.p.pid, signal.SIGKILL)
        code = self.p.wait(timeout=10)
        for t in self._threads:
            t.join(timeout=5)
        return code

    def finish(self, timeout: float = 90.0) -> Run:
        try:
            code = self.p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.p.kill()
            raise
        for t in self._threads:
            t.join(timeout=5)
        return Run(code, "".join(self.out), "".join(self.err))


def sync_proc(cfg: Path, dn: str, *extra: str, script: Path | None = None) -> Proc:
    return Proc("sync", "--config", str(cfg), "--progress", "json", "--no-html-report", *extra, dn, script=script)


def state_path(cfg: Path) -> Path:
    return Path(yaml.safe_load(cfg.read_text())["state"]["path"])


def rows(cfg: Path, sql: str, *params) -> list[tuple]:
    conn = sqlite3.connect(state_path(cfg))
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def assert_state_consistent(cfg: Path) -> None:
    """The file is a sound SQLite database and pybridge's tables agree with each other."""
    assert rows(cfg, "PRAGMA integrity_check") == [("ok",)]
    assert rows(cfg, "PRAGMA foreign_key_check") == []
    assert rows(cfg, "SELECT j.connector, j.anchor FROM joins j LEFT JOIN connector_space c "
                     "ON c.connector=j.connector AND c.anchor=j.anchor WHERE c.anchor IS NULL") == []
    assert rows(cfg, "SELECT count(*) FROM (SELECT mv_id FROM joins GROUP BY mv_id, connector "
                     "HAVING count(*) > 1)") == [(0,)]


def graph(emulator, method: str, regex: str) -> list[dict]:
    return [r for r in emulator.requests if r["method"] == method and re.search(regex, r["path"])]


def writes(emulator) -> list[dict]:
    return [r for r in emulator.requests if r["method"] in ("POST", "PATCH", "DELETE")
            and r["path"].startswith("/v1.0/")]


def users_named(emulator, upn: str) -> list[dict]:
    return [u for u in emulator.users.values() if u.get("userPrincipalName", "").lower() == upn]


def fault_taken(emulator) -> bool:
    """True once every injected fault has been consumed: the delayed request is in the emulator's hands."""
    return not emulator._faults


def cli(*args: str) -> Run:
    """run_cli, with an exception escaping main() turned into a failed assertion (a traceback for a user)."""
    try:
        return run_cli(*args)
    except Exception as exc:  # noqa: BLE001
        raise AssertionError(f"pybridge's main() raised {type(exc).__name__}: {exc}") from exc


def assert_failure_json(r: Run, code: str, *in_reason: str) -> dict:
    assert r.code == 1, (r.stdout, r.stderr)
    assert "Traceback" not in r.stderr, r.stderr
    info = r.json["StatusInfo"]
    assert info["Status"] == "Failure" and info["ErrorCode"] == code, info
    for text in in_reason:
        assert text in info["Reason"], (text, info["Reason"])
    assert info["RecommendedAction"]
    return info


# -- SIGKILL ----------------------------------------------------------------------------------------------

def test_sigkill_while_the_create_is_in_flight_then_the_rerun_creates_nothing_twice(lab, tmp_path):
    """Killed while Graph holds the POST: Graph still commits it; the state holds what the run recorded before
    sending the create (the AD object's connector-space and metaverse rows and the create intent, no Entra
    join and no run); the next run finds the user by its source anchor (hard match) and creates nothing."""
    cfg = lab.config(tmp_path)
    lab.emulator.inject_fault(method="POST", path_regex=POST_USERS, status=None, delay=3)
    first = sync_proc(cfg, lab.dns["user"])
    assert first.wait_until(lambda: first.step_done(9) and fault_taken(lab.emulator)), "".join(first.err)
    time.sleep(0.3)  # well inside the 3 s the emulator holds the request
    assert first.running()
    assert first.kill9() == -signal.SIGKILL
    assert first.out == []  # no result was printed for the killed run
    # Graph finishes the request it was given (as real Graph would): the user exists, the answer went nowhere
    deadline = time.monotonic() + 10
    while not graph(lab.emulator, "POST", POST_USERS) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [q["status"] for q in graph(lab.emulator, "POST", POST_USERS)] == [201]
    (created,) = users_named(lab.emulator, "jdoe@contoso.com")
    assert_state_consistent(cfg)
    assert rows(cfg, "SELECT count(*) FROM runs") == [(0,)]
    # the intent was committed before the POST: without the answer, no Entra id and no Entra join
    assert rows(cfg, "SELECT connector FROM connector_space") == [("contoso.com",)]
    assert rows(cfg, "SELECT count(*) FROM metaverse") == [(1,)]
    assert rows(cfg, "SELECT connector, kind, entra_id FROM pending_creates") == [("contoso.com", "user", None)]
    assert rows(cfg, "SELECT count(*) FROM joins WHERE connector='entra'") == [(0,)]

    lab.emulator.clear_log()
    second = sync_proc(cfg, lab.dns["user"]).finish()
    assert second.code == 0, second.stderr
    doc = second.json
    assert doc["StatusInfo"]["Status"] == "Success"
    assert doc["ProvisioningSteps"][7]["Details"]["Match"] == "Hard match on onPremisesImmutableId"
    assert doc["TargetIdentity"]["Id"] == created["id"]
    assert graph(lab.emulator, "POST", POST_USERS) == []
    assert len(users_named(lab.emulator, "jdoe@contoso.com")) == 1
    assert_state_consistent(cfg)
    ((run_dn, status, result),) = rows(cfg, "SELECT dn, status, result FROM runs")
    assert (run_dn, status) == (lab.dns["user"], "Success")
    assert json.loads(result)["StartTime"] == doc["StartTime"]  # the run recorded is the second process's
    assert rows(cfg, "SELECT anchor FROM joins WHERE connector='entra'") == [(created["id"],)]
    assert rows(cfg, "SELECT count(*) FROM pending_creates") == [(0,)]  # the intent is settled


# A wrapper around the CLI that pauses the state commit with its transaction open (every row of the run
# written, COMMIT not yet sent) and says so through a marker file: the window in which a SIGKILL would
# leave a half-written store if pybridge did not commit in one transaction. cache_size=1 makes SQLite
# spill the changed pages into the database file before COMMIT, so at the pause the file on disk really
# is half-written and only the rollback journal can restore it.
COMMIT_PAUSE = r'''
import os, sqlite3, sys, time
marker = os.environ["PYBRIDGE_TEST_COMMIT_MARKER"]
_connect = sqlite3.connect
def connect(*args, **kwargs):
    conn = _connect(*args, **kwargs)
    conn.execute("PRAGMA cache_size=1")
    seen = {"run": False}
    def trace(statement):
        text = statement.strip().upper()
        if text.startswith("INSERT INTO RUNS"):
            seen["run"] = True
        elif text == "COMMIT" and seen["run"]:
            open(marker, "w").close()
            time.sleep(120)
    conn.set_trace_callback(trace)
    return conn
sqlite3.connect = connect
from pybridge.cli import main
sys.exit(main(sys.argv[1:]))
'''


def test_sigkill_with_the_state_commit_open_leaves_the_previous_state(lab, tmp_path, monkeypatch):
    """Killed with the run's transaction open and pages already in the file: the next open rolls the hot
    journal back to the previous consistent state, and the next run completes without a second write."""
    cfg = lab.config(tmp_path)
    first = run_cli("sync", "--config", str(cfg), lab.dns["user_comma"])
    assert first.code == 0, first.stderr
    (user,) = users_named(lab.emulator, "jsmith@contoso.com")
    db = state_path(cfg)
    before = db.read_bytes()

    script = tmp_path / "commit_pause.py"
    script.write_text(COMMIT_PAUSE)
    marker = tmp_path / "in-commit"
    monkeypatch.setenv("PYBRIDGE_TEST_COMMIT_MARKER", str(marker))
    conn = lab.dc.connection()
    try:
        conn.modify(lab.dns["user_comma"], {"department": [(ldap3.MODIFY_REPLACE, ["Treasury"])]})
        lab.emulator.clear_log()
        killed = sync_proc(cfg, lab.dns["user_comma"], script=script)
        assert killed.wait_until(marker.exists, timeout=60), "".join(killed.err)
        journal = db.with_name(db.name + "-journal")
        assert journal.exists() and journal.stat().st_size > 0  # the transaction is open and journalled
        half_written = db.read_bytes() != before
        assert killed.kill9() == -signal.SIGKILL
        # the export itself had happened: Graph has the new value, the state does not know it yet
        assert [r["body"] for r in writes(lab.emulator)] == [{"department": "Treasury"}]
        assert lab.emulator.get_object(user["id"])["department"] == "Treasury"

        assert_state_consistent(cfg)  # opening it rolls the hot journal back
        assert not journal.exists() or journal.stat().st_size == 0
        assert rows(cfg, "SELECT count(*) FROM runs") == [(1,)]
        (attrs,) = rows(cfg, "SELECT attributes FROM metaverse")
        assert "Treasury" not in attrs[0] and "Sales" in attrs[0]
        print(f"database file half-written at the kill: {half_written}")

        lab.emulator.clear_log()
        again = sync_proc(cfg, lab.dns["user_comma"]).finish()
    finally:
        conn.modify(lab.dns["user_comma"], {"department": [(ldap3.MODIFY_REPLACE, ["Sales"])]})
        conn.unbind()
    assert again.code == 0, again.stderr
    assert again.json["TargetIdentity"]["Id"] == user["id"]
    assert writes(lab.emulator) == []  # Graph already holds the value: nothing is written twice
    assert len(users_named(lab.emulator, "jsmith@contoso.com")) == 1
    assert_state_consistent(cfg)
    assert rows(cfg, "SELECT count(*), sum(status='Success') FROM runs") == [(2, 2)]
    (attrs,) = rows(cfg, "SELECT attributes FROM metaverse")
    assert "Treasury" in attrs[0]


# -- two syncs at once -----------------------------------------------------------------------------------

def test_two_syncs_of_the_same_object_at_once(lab, tmp_path):
    """The first holds the lock through a slow create; a second exits 1 at once with
    no-start-ma-already-running; a third with --wait runs after it and finds the user instead of
    creating it again."""
    cfg = lab.config(tmp_path)
    lab.emulator.inject_fault(method="POST", path_regex=POST_USERS, status=None, delay=4)
    first = sync_proc(cfg, lab.dns["user"])
    assert first.wait_until(lambda: fault_taken(lab.emulator)), "".join(first.err)
    waiter = sync_proc(cfg, lab.dns["user"], "--wait", "60")
    t0 = time.monotonic()
    busy = sync_proc(cfg, lab.dns["user"]).finish()
    assert time.monotonic() - t0 < 15
    assert first.running()  # the two really overlapped
    info = assert_failure_json(busy, "no-start-ma-already-running", "Another sync is running")
    assert "--wait" in info["RecommendedAction"]
    assert all(s["Status"] == "Skipped" for s in busy.json["ProvisioningSteps"])

    done = first.finish()
    assert done.code == 0, done.stderr
    assert done.json["Action"] == "Create"
    waited = waiter.finish()
    assert waited.code == 0, waited.stderr
    assert waited.json["Action"] == "Other" and waited.json["ModifiedProperties"] == []
    assert waited.json["TargetIdentity"]["Id"] == done.json["TargetIdentity"]["Id"]

    assert [q["status"] for q in graph(lab.emulator, "POST", POST_USERS)] == [201]
    assert len(users_named(lab.emulator, "jdoe@contoso.com")) == 1
    assert_state_consistent(cfg)
    # the refused sync left no run behind; the two that ran are both recorded
    assert rows(cfg, "SELECT action, status FROM runs ORDER BY started") == [("Create", "Success"),
                                                                               ("Other", "Success")]
    assert rows(cfg, "SELECT count(*) FROM metaverse") == [(1,)]


# -- Graph commits, then does not answer ----------------------------------------------------------------

def _slow_answer_after_commit(monkeypatch, emulator, method: str, seconds: float) -> list[str]:
    """The emulator carries the create out at once and then sits on the answer for *seconds*."""
    store = emulator._dir
    original = getattr(store, method)
    committed: list[str] = []

    def create_then_stall(body):
        obj = original(body)
        committed.append(obj["id"])
        time.sleep(seconds)
        return obj
    monkeypatch.setattr(store, method, create_then_stall)
    return committed


@pytest.mark.parametrize("key, kind", [("user", "user"), ("group_nested", "group")])
def test_create_committed_then_the_answer_times_out(lab, tmp_path, monkeypatch, key, kind):
    """entra.timeout 2 s; Graph commits the POST at once and answers after 4 s. pybridge gives up on the
    answer, looks the object up (onPremisesImmutableId; mailNickname and displayName for a group),
    finds it and goes on: one object, joined in the state."""
    committed = _slow_answer_after_commit(monkeypatch, lab.emulator, f"create_{kind}", 4)
    cfg = lab.config(tmp_path, **{"entra.timeout": 2})
    r = run_cli("sync", "--config", str(cfg), lab.dns[key])
    time.sleep(2.5)  # let the stalled answer go nowhere before looking at the log
    assert r.code == 0, (r.stdout, r.stderr)
    export = r.step(10)
    assert export["Details"]["Create answer lost"].startswith("the object was found by")
    posts = graph(lab.emulator, "POST", POST_USERS if kind == "user" else POST_GROUPS)
    assert len(posts) == 1 and len(committed) == 1
    objects = lab.emulator.users if kind == "user" else lab.emulator.groups
    assert list(objects) == committed
    assert r.json["TargetIdentity"]["Id"] == committed[0]
    assert_state_consistent(cfg)
    assert rows(cfg, "SELECT anchor FROM joins WHERE connector='entra'") == [(committed[0],)]
    assert rows(cfg, "SELECT status FROM runs") == [("Success",)]


@pytest.mark.parametrize("key, kind", [
    ("user", "user"),
    ("group_nested", "group"),
])
def test_create_that_commits_after_pybridge_gave_up(lab, tmp_path, key, kind):
    """entra.timeout 2 s; Graph holds the POST 4 s before carrying it out (the emulator delays before
    committing). When pybridge's lookup runs, the object does not exist yet."""
    lab.emulator.inject_fault(method="POST", path_regex=POST_USERS if kind == "user" else POST_GROUPS,
                              status=None, delay=4)
    cfg = lab.config(tmp_path, **{"entra.timeout": 2})
    r = run_cli("sync", "--config", str(cfg), lab.dns[key])
    time.sleep(4)  # the first POST is carried out now
    assert "Traceback" not in r.stderr
    objects = lab.emulator.users if kind == "user" else lab.emulator.groups
    assert len(objects) == 1, [o.get("displayName") for o in objects.values()]
    assert r.code in (0, 1)
    if r.code == 0:
        assert r.json["TargetIdentity"]["Id"] in objects
    assert_state_consistent(cfg)


@pytest.mark.parametrize("status, retry_after", [(503, None), (429, 1), (500, None)])
def test_create_answered_with_a_server_error_is_made_exactly_once(lab, tmp_path, status, retry_after):
    """Two error answers to the POST. 503 and 429 mean Graph did not run it: sent again as it is. 500 is
    uncertain: looked up, sent once more, and the second 500 ends the run (GraphServiceError) with nothing
    created and nothing recorded but the failed run; the next run creates the user once."""
    lab.emulator.inject_fault(method="POST", path_regex=POST_USERS, status=status, retry_after=retry_after,
                              count=2)
    cfg = lab.config(tmp_path)
    r = run_cli("sync", "--config", str(cfg), lab.dns["user"])
    if status == 500:
        assert_failure_json(r, "GraphServiceError", "500")
        assert r.step(10)["Status"] == "Failure"
        assert [q["status"] for q in graph(lab.emulator, "POST", POST_USERS)] == [500, 500]
        assert users_named(lab.emulator, "jdoe@contoso.com") == []
        assert_state_consistent(cfg)
        assert rows(cfg, "SELECT status, error_code FROM runs") == [("Failure", "GraphServiceError")]
        assert rows(cfg, "SELECT count(*) FROM joins WHERE connector='entra'") == [(0,)]
        r = run_cli("sync", "--config", str(cfg), lab.dns["user"])
    assert r.code == 0, (r.stdout, r.stderr)
    statuses = [q["status"] for q in graph(lab.emulator, "POST", POST_USERS)]
    assert statuses[-1] == 201 and statuses.count(201) == 1
    (user,) = users_named(lab.emulator, "jdoe@contoso.com")
    assert r.json["TargetIdentity"]["Id"] == user["id"]
    assert_state_consistent(cfg)
    assert rows(cfg, "SELECT anchor FROM joins WHERE connector='entra'") == [(user["id"],)]


# -- the directory goes away between import and export ----------------------------------------------------

def test_directory_stops_after_the_import_the_export_still_completes(lab, tmp_path):
    """Steps 8-10 need no LDAP: with the DC stopped once step 7 is done, a user is still exported and
    committed (test_sync.py covers the DC stopping before step 7)."""
    from pybridge import config as configlib
    from pybridge.engine import sync_object

    cfg_path = lab.config(tmp_path)
    cfg = configlib.load(cfg_path)
    stopped = []

    def stop_after_import(step):
        if step.number == 7 and step.status.value == "Success":
            lab.dc.stop()
            stopped.append(True)

    try:
        result = sync_object(lab.dns["user_nonascii"], cfg, progress=stop_after_import)
    finally:
        lab.dc.start()
    assert stopped
    assert result.status_info.status.value == "Success", result.status_info
    assert [s.status.value for s in result.steps] == ["Success"] * 10
    (user,) = users_named(lab.emulator, "zangstrom@contoso.com")
    assert result.target_identity.id == user["id"]
    assert len(graph(lab.emulator, "POST", POST_USERS)) == 1
    assert_state_consistent(cfg_path)
    assert rows(cfg_path, "SELECT status FROM runs") == [("Success",)]
    assert rows(cfg_path, "SELECT connector FROM connector_space ORDER BY connector") == [("contoso.com",),
                                                                                          ("entra",)]


# -- a state store that cannot be written -------------------------------------------------------------------

def _run_commands(*cmds: list[str]) -> bool:
    for cmd in cmds:
        if shutil.which(cmd[0]) is None:
            return False
        if subprocess.run(cmd, capture_output=True, check=False).returncode != 0:
            return False
    return True




@pytest.mark.parametrize("how", [
    "read-only-bind-mount",
    "file-where-the-directory-should-be",
    "immutable-directory",
])
def test_state_directory_that_cannot_be_written(lab, tmp_path, how):
    """We run as root, for whom mode 0500 stops nothing: the directory is made unwritable by a read-only
    bind mount, by a regular file standing where the directory should be, or by chattr +i."""
    state_dir = tmp_path / "state"
    cleanup: list[list[str]] = []
    if how == "read-only-bind-mount":
        state_dir.mkdir(mode=0o700)
        if not _run_commands(["mount", "--bind", str(state_dir), str(state_dir)]):
            pytest.skip("mount --bind is not permitted here (needs root and mount rights)")
        cleanup.append(["umount", str(state_dir)])
        if not _run_commands(["mount", "-o", "remount,bind,ro", str(state_dir)]):
            _run_commands(*cleanup)
            pytest.skip("remounting a bind mount read-only is not permitted here")
    elif how == "file-where-the-directory-should-be":
        state_dir.write_text("not a directory\n")
    else:
        state_dir.mkdir(mode=0o700)
        if not _run_commands(["chattr", "+i", str(state_dir)]):
            pytest.skip("chattr +i is not available on this file system")
        cleanup.append(["chattr", "-i", str(state_dir)])
    try:
        cfg = lab.config(tmp_path)
        r = cli("sync", "--config", str(cfg), lab.dns["user"])
    finally:
        _run_commands(*cleanup)
    info = assert_failure_json(r, "StateStoreError", str(state_dir))
    assert "state.path" in info["RecommendedAction"]
    assert writes(lab.emulator) == []
    assert not (state_dir / "pybridge.db").exists() if state_dir.is_dir() else True


@pytest.fixture
def small_disk(tmp_path):
    """A 512 KB tmpfs at tmp_path/disk (unmounted afterwards); skips where mounting is not permitted."""
    disk = tmp_path / "disk"
    disk.mkdir()
    if not _run_commands(["mount", "-t", "tmpfs", "-o", "size=512k,mode=0700", "tmpfs", str(disk)]):
        pytest.skip("mounting a tmpfs is not permitted here (needs root and mount rights)")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], capture_output=True, check=False)


def _fill(disk: Path, leave: int = 0) -> Path:
    """Fill *disk* to the last byte, then give *leave* bytes back."""
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError:
        pass
    finally:
        os.close(fd)
    if leave:
        size = filler.stat().st_size
        os.truncate(filler, max(0, size - leave))
    return filler


def test_full_disk_before_the_first_run(lab, tmp_path, small_disk):
    cfg = lab.config(tmp_path, **{"state.path": str(small_disk / "state" / "pybridge.db")})
    _fill(small_disk)
    r = cli("sync", "--config", str(cfg), lab.dns["user"])
    assert_failure_json(r, "StateStoreError")
    assert writes(lab.emulator) == []


def test_full_disk_when_the_run_is_committed(lab, tmp_path, small_disk):
    """The export happens, the commit does not fit: a StateStoreError result (never a silent success), the
    previous state intact byte for byte; with room again, the next run records the sync and writes nothing
    twice."""
    cfg = lab.config(tmp_path, **{"state.path": str(small_disk / "pybridge.db")})
    dn = lab.dns["user_disabled"]
    assert run_cli("sync", "--config", str(cfg), dn).code == 0
    (user,) = users_named(lab.emulator, "bdisabled@contoso.com")
    db = state_path(cfg)
    before = db.read_bytes()
    conn = lab.dc.connection()
    try:
        conn.modify(dn, {"department": [(ldap3.MODIFY_REPLACE, ["Audit"])]})
        filler = _fill(small_disk, leave=4096)  # room for the lock file's pid, not for a journal
        lab.emulator.clear_log()
        r = cli("sync", "--config", str(cfg), dn)
        info = assert_failure_json(r, "StateStoreError", "could not be saved", "the state is unchanged")
        assert "disk space" in info["RecommendedAction"]
        assert [q["body"] for q in writes(lab.emulator)] == [{"department": "Audit"}]
        assert db.read_bytes() == before
        filler.unlink()
        assert_state_consistent(cfg)
        lab.emulator.clear_log()
        again = run_cli("sync", "--config", str(cfg), dn)
    finally:
        conn.modify(dn, {"department": [(ldap3.MODIFY_REPLACE, ["Finance"])]})
        conn.unbind()
    assert again.code == 0, again.stderr
    assert writes(lab.emulator) == []
    assert len(users_named(lab.emulator, "bdisabled@contoso.com")) == 1
    assert again.json["TargetIdentity"]["Id"] == user["id"]
    assert_state_consistent(cfg)
    assert rows(cfg, "SELECT count(*) FROM runs") == [(2,)]


# -- corrupt and foreign state files --------------------------------------------------------------------

def _garbage(path: Path, _: Path) -> None:
    path.write_bytes(os.urandom(8192))


def _text(path: Path, _: Path) -> None:
    path.write_text("this is not a database\n" * 200)


def _foreign(path: Path, _: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE inventory(item TEXT, qty INTEGER)")
    conn.execute("INSERT INTO inventory VALUES ('widgets', 3)")
    conn.commit()
    conn.close()


def _newer(path: Path, good: Path) -> None:
    shutil.copyfile(good, path)
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 99")
    conn.commit()
    conn.close()


def _truncated(path: Path, good: Path) -> None:
    path.write_bytes(good.read_bytes()[:6000])


def _damaged_page(path: Path, good: Path) -> None:
    data = bytearray(good.read_bytes())
    data[4096:8192] = os.urandom(4096)  # page 2 overwritten: the header still says pybridge
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("make, reason", [
    (_garbage, "not a pybridge state file or is damaged"),
    (_text, "not a pybridge state file or is damaged"),
    (_foreign, "foreign SQLite database"),
    (_newer, "newer pybridge"),
    (_truncated, ""),
    (_damaged_page, "damaged"),
], ids=["random-bytes", "text", "foreign-sqlite", "newer-schema", "truncated", "damaged-page"])
@pytest.mark.parametrize("mode", [[], ["--what-if"]], ids=["sync", "what-if"])
def test_corrupt_or_foreign_state_file_is_refused_untouched(lab, tmp_path, make, reason, mode):
    good_dir = tmp_path / "good"
    good_dir.mkdir()
    good_cfg = lab.config(good_dir)
    assert run_cli("sync", "--config", str(good_cfg), lab.dns["user_comma"], "--staging-mode").code == 0
    lab.emulator.clear_log()

    cfg = lab.config(tmp_path)
    db = state_path(cfg)
    db.parent.mkdir(parents=True, exist_ok=True)
    make(db, state_path(good_cfg))
    before = db.read_bytes()
    r = run_cli("sync", "--config", str(cfg), lab.dns["user_comma"], *mode)
    assert db.read_bytes() == before
    assert not db.with_name(db.name + "-journal").exists()
    assert "Traceback" not in r.stderr, r.stderr
    assert r.code == 1, (r.stdout, r.stderr)
    info = r.json["StatusInfo"]
    assert info["ErrorCode"] in ("StateStoreError", "InternalError"), info
    assert info["ErrorCode"] == "StateStoreError", info
    assert str(db) in info["Reason"] and reason in info["Reason"]
    assert info["RecommendedAction"]
    assert writes(lab.emulator) == []
    # the lock was released: a run against a good state file works right after
    assert run_cli("sync", "--config", str(good_cfg), lab.dns["user_comma"], "--what-if").code == 0
