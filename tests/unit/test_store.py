import sqlite3
import stat

import pytest

from pybridge.errors import StateError
from pybridge.store import ENTRA, CSObject, RunWrites, Store


def _writes(anchor="g1", mv="m1", entra_id="e1"):
    w = RunWrites()
    w.connector_space = [CSObject("contoso.com", anchor, "CN=Smith\\, John,DC=contoso,DC=com", "user",
                                  {"objectGUID": [b"\x00\x01"], "cn": ["Smith, John"]}),
                         CSObject(ENTRA, entra_id, None, "user", {"id": entra_id})]
    w.metaverse = [(mv, "person", "anchor==", {"displayName": ["John"]})]
    w.joins = [("contoso.com", anchor, mv), (ENTRA, entra_id, mv)]
    w.run = {"id": "r1", "started": "2026-01-01T00:00:00.000Z", "ended": "2026-01-01T00:00:01.000Z", "dn": "CN=x",
             "action": "Create", "status": "Success", "error_code": None, "staging": False, "result": {"a": 1}}
    return w


def test_created_owner_only_with_schema(tmp_path):
    path = tmp_path / "sub" / "state.db"
    store = Store.open(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert store.counts() == {"connector_space": 0, "metaverse": 0, "joins": 0, "runs": 0}
    store.close()


def test_commit_roundtrip_binary_and_references(tmp_path):
    store = Store.open(tmp_path / "s.db")
    store.commit(_writes())
    cs = store.cs_object("contoso.com", "g1")
    assert cs.attributes["objectGUID"] == [b"\x00\x01"]
    assert store.cs_by_dn("contoso.com", "cn=smith\\2c john,dc=CONTOSO,dc=com").anchor == "g1"
    assert store.mv_for("contoso.com", "g1")[0] == "m1"
    assert store.joined_anchor("m1", ENTRA) == "e1"
    assert store.resolve_references("contoso.com", ["CN=Smith\\, John,DC=contoso,DC=com", "CN=nobody,DC=x"]) == {
        "CN=Smith\\, John,DC=contoso,DC=com": "e1", "CN=nobody,DC=x": None}
    assert store.runs()[0]["id"] == "r1" and store.run_result("r1") == {"a": 1}


def test_a_failed_commit_leaves_the_previous_state(tmp_path):
    store = Store.open(tmp_path / "s.db")
    store.commit(_writes())
    bad = _writes(anchor="g2", mv="m2", entra_id="e2")
    bad.run["id"] = "r1"  # duplicate primary key: the last statement of the transaction fails
    with pytest.raises(StateError, match="state is unchanged"):
        store.commit(bad)
    assert store.cs_object("contoso.com", "g2") is None
    assert store.counts()["metaverse"] == 1


def test_foreign_and_corrupt_files_are_refused_untouched(tmp_path):
    foreign = tmp_path / "foreign.db"
    sqlite3.connect(foreign).execute("CREATE TABLE t(x)").connection.commit()
    before = foreign.read_bytes()
    with pytest.raises(StateError, match="not a pybridge state file"):
        Store.open(foreign)
    assert foreign.read_bytes() == before
    corrupt = tmp_path / "corrupt.db"
    corrupt.write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(StateError, match="not a pybridge state file or is damaged"):
        Store.open(corrupt)
    assert corrupt.read_bytes() == b"this is not sqlite at all" * 100


def test_read_only_never_creates_or_writes(tmp_path):
    path = tmp_path / "s.db"
    store = Store.open(path, read_only=True)
    store.commit(_writes())
    assert not path.exists()
    Store.open(path).commit(_writes())
    before = path.read_bytes()
    ro = Store.open(path, read_only=True)
    assert ro.mv_for("contoso.com", "g1")[0] == "m1"
    ro.commit(_writes(anchor="g9", mv="m9", entra_id="e9"))
    assert path.read_bytes() == before


def test_unwritable_directory_is_a_clear_error(tmp_path):
    if hasattr(__import__("os"), "geteuid") and __import__("os").geteuid() == 0:
        target = tmp_path / "file-not-dir" / "s.db"
        (tmp_path / "file-not-dir").write_text("x")  # root ignores modes; a file as parent fails for everyone
    else:
        ro = tmp_path / "ro"
        ro.mkdir(mode=0o500)
        target = ro / "s.db"
    with pytest.raises(StateError, match="cannot be created or opened"):
        Store.open(target)


def test_a_new_join_replaces_the_stale_one(tmp_path):
    store = Store.open(tmp_path / "s.db")
    store.commit(_writes(entra_id="old-id"))
    w = RunWrites()
    w.connector_space = [CSObject(ENTRA, "new-id", None, "user", {"id": "new-id"})]
    w.joins = [(ENTRA, "new-id", "m1")]
    store.commit(w)
    assert store.joined_anchor("m1", ENTRA) == "new-id"
    assert store.cs_object(ENTRA, "old-id") is None


# -- groups of commits (a batch whose DNs are all at hand) ------------------------------------------------------
def _run(n: int, *, deferrable: bool = True, anchor: str | None = None) -> RunWrites:
    w = _writes(anchor=anchor or f"g{n}", mv=f"m{n}", entra_id=f"e{n}")
    w.metaverse = [(f"m{n}", "person", f"anchor{n}==", {"displayName": ["John"]})]
    w.run = {**w.run, "id": f"r{n}", "action": "Other"}
    w.deferrable = deferrable
    return w


def _committed_runs(path) -> int:
    """What another process sees: committed runs only."""
    other = sqlite3.connect(path)
    try:
        return other.execute("SELECT count(*) FROM runs").fetchone()[0]
    finally:
        other.close()


def test_deferrable_runs_share_one_transaction_until_the_group_is_full(tmp_path):
    path = tmp_path / "s.db"
    store = Store.open(path)
    store.begin_group(3)
    store.commit(_run(1))
    store.commit(_run(2))
    assert store.grouped_runs == 2 and _committed_runs(path) == 0  # not yet durable, and not yet shown
    assert store.joined_anchor("m2", ENTRA) == "e2"  # the batch's next run already sees them
    store.commit(_run(3))
    assert store.grouped_runs == 0 and _committed_runs(path) == 3
    store.commit(_run(4))
    store.end_group()
    assert store.grouped_runs == 0 and _committed_runs(path) == 4
    store.commit(_run(5))  # after the group: one transaction per run again
    assert _committed_runs(path) == 5
    store.close()


def test_a_run_that_wrote_to_entra_or_records_a_create_commits_the_group_and_itself_at_once(tmp_path):
    from pybridge.store import PendingCreate
    path = tmp_path / "s.db"
    store = Store.open(path)
    store.begin_group(10)
    store.commit(_run(1))
    store.commit(_run(2, deferrable=False))
    assert store.grouped_runs == 0 and _committed_runs(path) == 2
    store.commit(_run(3))
    store.record_create_intent(RunWrites(), PendingCreate("contoso.com", "g9", "user", {"upn": "x"}, None,
                                                          "2026-01-01T00:00:00.000Z", None))
    assert _committed_runs(path) == 3 and store.pending_create("contoso.com", "g9") is not None
    store.close()


def test_a_run_that_cannot_be_saved_leaves_the_runs_before_it_in_the_group(tmp_path):
    path = tmp_path / "s.db"
    store = Store.open(path)
    store.begin_group(10)
    store.commit(_run(1))
    broken = _run(2)
    broken.run = {**broken.run, "id": "r1"}  # the same run id twice: the insert fails
    with pytest.raises(StateError):
        store.commit(broken)
    assert store.cs_object("contoso.com", "g2") is None  # nothing of the failed run
    store.end_group()
    assert _committed_runs(path) == 1 and store.cs_object("contoso.com", "g1") is not None
    store.close()


def test_closing_the_store_commits_an_open_group(tmp_path):
    path = tmp_path / "s.db"
    store = Store.open(path)
    store.begin_group(10)
    store.commit(_run(1))
    store.close()
    assert _committed_runs(path) == 1


# -- the whole file's check (PRAGMA quick_check reads every page: it runs only when needed) -------------------
@pytest.fixture
def statements(monkeypatch):
    """Every SQL statement the stores opened in the test run."""
    import pybridge.store as store_module

    seen: list[str] = []
    connect = sqlite3.connect

    def traced(*args, **kwargs):
        conn = connect(*args, **kwargs)
        conn.set_trace_callback(seen.append)
        return conn

    monkeypatch.setattr(store_module.sqlite3, "connect", traced)
    return seen


def _opened(path, statements, **kwargs):
    statements.clear()
    store = Store.open(path, **kwargs)
    checked = "PRAGMA quick_check" in statements
    return store, checked


def test_a_state_file_left_unchanged_is_not_read_in_full_again(tmp_path, statements):
    path = tmp_path / "state" / "pybridge.db"
    store, _ = _opened(path, statements)
    store.commit(_writes())
    store.close()
    store, checked = _opened(path, statements)
    assert checked  # never checked before
    second = _writes(anchor="g2", mv="m2", entra_id="e2")
    second.run["id"] = "r2"
    second.metaverse = [("m2", "person", "anchor2==", {"displayName": ["Jane"]})]
    store.commit(second)  # its own writes need no new check
    store.close()
    store, checked = _opened(path, statements)
    assert not checked and store.cs_object("contoso.com", "g2") is not None
    store.close()
    _, checked = _opened(path, statements, read_only=True)  # --what-if trusts the same note
    assert not checked


def test_a_state_file_changed_by_anything_else_is_checked_and_refused_when_damaged(tmp_path, statements):
    path = tmp_path / "state" / "pybridge.db"
    for _ in range(2):
        store, _ = _opened(path, statements)
        store.close()
    other = sqlite3.connect(path)
    other.execute("INSERT INTO meta VALUES ('written by', 'another program')")
    other.commit()
    other.close()
    store, checked = _opened(path, statements)
    assert checked
    store.close()
    data = bytearray(path.read_bytes())
    data[4096:8192] = b"\xa5" * 4096  # a page overwritten in place: same size, same header
    path.write_bytes(bytes(data))
    with pytest.raises(StateError, match="is damaged"):
        Store.open(path)
    assert path.read_bytes() == bytes(data)


def test_an_unchanged_state_file_is_still_checked_daily(tmp_path, statements, monkeypatch):
    import pybridge.store as store_module

    path = tmp_path / "state" / "pybridge.db"
    for _ in range(2):
        store, _ = _opened(path, statements)
        store.close()
    store, checked = _opened(path, statements)
    assert not checked
    store.close()
    later = store_module.time.time() + store_module.RECHECK_SECONDS + 1
    monkeypatch.setattr(store_module.time, "time", lambda: later)
    _, checked = _opened(path, statements)
    assert checked


def test_what_if_writes_no_note_of_the_check(tmp_path, statements):
    path = tmp_path / "state" / "pybridge.db"
    Store.open(path).close()  # created: nothing to check yet
    ro, checked = _opened(path, statements, read_only=True)
    assert checked
    ro.close()
    assert not (path.parent / "cache" / "state-checked.cache").exists()
    _, checked = _opened(path, statements, read_only=True)
    assert checked
