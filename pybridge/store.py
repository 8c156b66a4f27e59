"""SQLite state: both connector spaces, the metaverse, the joins and the run history.

One file, created owner-only on first use, with a versioned schema. A run reads
as it goes and writes everything it commits in ONE transaction at its end, so a
crash at any point leaves the previous consistent state.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import sqlite3
import time
import uuid
from pathlib import Path
from typing import Any

from msgspec import Struct, field

from . import platform, timespan
from .cache import FileCache, digest
from .core import dn as dnlib
from .core.model import iso
from .core.values import from_json, to_json
from .errors import StateError, UsageError

APPLICATION_ID = 0x50594252  # "PYBR": marks a pybridge state file; anything else is foreign
#: PRAGMA quick_check reads every page of the state file, so its cost grows with the state (about 0.8 ms per MB
#: here). It runs when the file is not exactly as pybridge last left it (changed by anything else, or never
#: checked), and on an unchanged file at least this often.
RECHECK_SECONDS = 24 * 3600
STAMP_KIND = "state-checked"
SCHEMA_VERSION = 2
ENTRA = "entra"  # connector key of the Entra connector space

_MIGRATIONS: dict[int, str] = {
    1: """
    CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE connector_space(
        connector TEXT NOT NULL, anchor TEXT NOT NULL, dn TEXT, dn_key TEXT, object_type TEXT NOT NULL,
        attributes TEXT NOT NULL, pending_export TEXT, updated TEXT NOT NULL,
        PRIMARY KEY(connector, anchor));
    CREATE INDEX connector_space_dn ON connector_space(connector, dn_key);
    CREATE TABLE metaverse(
        mv_id TEXT PRIMARY KEY, object_type TEXT NOT NULL, source_anchor TEXT NOT NULL UNIQUE,
        attributes TEXT NOT NULL, updated TEXT NOT NULL);
    CREATE TABLE joins(
        connector TEXT NOT NULL, anchor TEXT NOT NULL, mv_id TEXT NOT NULL REFERENCES metaverse(mv_id),
        PRIMARY KEY(connector, anchor));
    CREATE INDEX joins_mv ON joins(mv_id);
    CREATE TABLE runs(
        id TEXT PRIMARY KEY, started TEXT NOT NULL, ended TEXT, dn TEXT NOT NULL, action TEXT, status TEXT,
        error_code TEXT, staging INTEGER NOT NULL, result TEXT NOT NULL);
    CREATE INDEX runs_started ON runs(started);
    CREATE TABLE scheduler(key TEXT PRIMARY KEY, value TEXT NOT NULL);
    """,
    # Creates in Entra ID, recorded before the POST and completed from its answer, so that no crash, lost
    # answer or replication delay can make a later run create the same object again.
    2: """
    CREATE TABLE pending_creates(
        connector TEXT NOT NULL, anchor TEXT NOT NULL, kind TEXT NOT NULL, lookup TEXT NOT NULL,
        entra_id TEXT, started TEXT NOT NULL, created TEXT,
        PRIMARY KEY(connector, anchor));
    """,
}


class CSObject(Struct):
    connector: str
    anchor: str
    dn: str | None
    object_type: str
    attributes: dict[str, Any]
    pending_export: dict[str, Any] | None = None


class RunWrites(Struct):
    """Everything one run commits, applied in a single transaction."""

    connector_space: list[CSObject] = field(default_factory=list)
    metaverse: list[tuple[str, str, str, dict[str, Any]]] = field(default_factory=list)  # mv_id, type, anchor, attrs
    joins: list[tuple[str, str, str]] = field(default_factory=list)  # connector, anchor, mv_id
    run: dict[str, Any] | None = None
    confirmed_creates: list[tuple[str, str]] = field(default_factory=list)  # (connector, anchor): seen in Entra
    # nothing here records a write to Entra ID (an unchanged object, a staging run): in a group of commits
    # (Store.begin_group) it may share one transaction with the runs after it
    deferrable: bool = False


class PendingCreate(Struct, frozen=True):
    """A create in Entra ID not yet confirmed by reading the object back."""

    connector: str
    anchor: str  # the AD object's objectGUID
    kind: str  # user or group
    lookup: dict[str, Any]  # the values that find the object again (source anchor, UPN, names)
    entra_id: str | None  # from the POST's answer; None when the answer never arrived
    started: str  # before the POST (ISO 8601 UTC)
    created: str | None  # when the answer arrived


class Store:
    def __init__(self, conn: sqlite3.Connection, path: Path | None, read_only: bool) -> None:
        self._conn = conn
        self.path = path
        self.read_only = read_only
        self._group_limit = 0  # > 0: deferrable commits share a transaction, up to this many runs
        self.grouped_runs = 0  # runs in the open group's transaction, not yet committed
        self._checked_at: float | None = None  # when quick_check last passed on this file (_check_pages)

    # -- opening --------------------------------------------------------------------------------
    @classmethod
    def open(cls, path: Path, *, read_only: bool = False) -> "Store":
        """Open (creating owner-only if needed) the state file; read_only never creates or writes it.

        The state directory must be one only this user can write to, and state.path must not be a
        link (pybridge.platform says why); otherwise a StateError names the fix.
        """
        if read_only:
            try:
                if path.parent.exists():
                    platform.check_trusted_dir(path.parent, "state directory")
                platform.refuse_link(path)
                if path.exists():
                    platform.check_own_file(path)  # not a FIFO that would block the read, not a device
            except platform.UnsafeFileError as exc:
                raise _unsafe(path, exc) from None
            if not path.exists():
                conn = sqlite3.connect(":memory:")
                store = cls(conn, None, True)
                store._migrate()
                return store
            try:
                conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
            except sqlite3.Error as exc:
                raise StateError(f"State file {path} cannot be opened: {exc}", path=str(path)) from None
            store = cls(conn, path, True)
            store._check()
            return store
        try:
            platform.trusted_dir(path.parent, "state directory")
            platform.refuse_link(path)
            try:
                with platform.open_private(path, "wb", exclusive=True):
                    pass
            except FileExistsError:
                platform.check_own_file(path)  # a regular file of this user, not a link or a device
            conn = sqlite3.connect(path, timeout=10, isolation_level=None)
        except platform.UnsafeFileError as exc:
            raise _unsafe(path, exc) from None
        except (OSError, ValueError, sqlite3.Error) as exc:
            reason = getattr(exc, "strerror", None) or str(exc)
            raise StateError(f"State file {path} cannot be created or opened: {reason}", path=str(path),
                             recommended_action="Check state.path: its directory must exist or be creatable and "
                                                "writable by this user.") from None
        store = cls(conn, path, False)
        store._migrate()
        return store

    def _check(self) -> None:
        try:
            app_id = self._conn.execute("PRAGMA application_id").fetchone()[0]
            version = self._conn.execute("PRAGMA user_version").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            raise StateError(f"State file {self.path} is not a pybridge state file or is damaged: {exc}",
                             path=str(self.path),
                             recommended_action="Move the file aside (pybridge then starts a new state) or point "
                                                "state.path elsewhere; pybridge never overwrites it.") from None
        if app_id != APPLICATION_ID:
            raise StateError(f"State file {self.path} is not a pybridge state file (foreign SQLite database).",
                             path=str(self.path), recommended_action="Point state.path at pybridge's own file.")
        if version > SCHEMA_VERSION:
            raise StateError(f"State file {self.path} was written by a newer pybridge (schema {version}).",
                             path=str(self.path), recommended_action="Upgrade pybridge.")
        self._check_pages()

    # -- the whole file's check, skipped while the file is as pybridge left it -------------------------------
    def _stamp_key(self) -> str | None:
        """The file as it is now (device, inode, size, modification time), as a cache key; None without one."""
        if self.path is None:
            return None
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return digest("state-file", str(self.path.resolve()), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)

    def _check_pages(self) -> None:
        key = self._stamp_key()
        kept = FileCache(self.path.parent).load(STAMP_KIND, key) if self.path is not None and key else None
        try:
            checked_at = float(kept) if kept is not None else None
        except ValueError:
            checked_at = None
        if checked_at is not None and 0 <= time.time() - checked_at < RECHECK_SECONDS:
            self._checked_at = checked_at  # unchanged since pybridge left it after a check that passed
            return
        try:
            verdict = self._conn.execute("PRAGMA quick_check").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            verdict = str(exc)
        if verdict == "ok":
            self._checked_at = time.time()
            return
        raise StateError(f"State file {self.path} is damaged ({verdict}); pybridge leaves it as it is.",
                         path=str(self.path),
                         recommended_action="Move the file aside (pybridge then starts a new state: the next sync "
                                            "of each object matches it again in Entra ID) or restore a backup.")

    def _migrate(self) -> None:
        try:
            app_id = self._conn.execute("PRAGMA application_id").fetchone()[0]
            version = self._conn.execute("PRAGMA user_version").fetchone()[0]
            tables = self._conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            raise StateError(f"State file {self.path} is not a pybridge state file or is damaged: {exc}",
                             path=str(self.path),
                             recommended_action="Move the file aside (pybridge then starts a new state) or point "
                                                "state.path elsewhere; pybridge never overwrites it.") from None
        if app_id == 0 and version == 0 and tables == 0:
            self._conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        else:
            self._check()
        try:
            for target in range(version + 1, SCHEMA_VERSION + 1):
                self._conn.execute("BEGIN IMMEDIATE")
                for statement in _MIGRATIONS[target].split(";"):
                    if statement.strip():
                        self._conn.execute(statement)
                self._conn.execute(f"PRAGMA user_version = {target}")
                self._conn.execute("COMMIT")
        except sqlite3.Error as exc:
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
            raise StateError(f"State file {self.path} could not be prepared: {exc}", path=str(self.path)) from None

    def close(self) -> None:
        self.end_group()
        self._conn.close()
        self._remember_check()

    def _remember_check(self) -> None:
        """Note the file as this process leaves it, with when it was last checked in full: the next open skips
        quick_check while nothing else has changed the file (what SQLite itself wrote is consistent). Never
        under --what-if (read-only), and never for a file that was not checked."""
        if self.read_only or self._checked_at is None or self.path is None:
            return
        key = self._stamp_key()
        if key is not None:
            FileCache(self.path.parent).save(STAMP_KIND, key, repr(self._checked_at).encode("ascii"))

    # -- groups of commits (a batch) ------------------------------------------------------------
    def begin_group(self, max_runs: int) -> None:
        """From now on, deferrable runs (RunWrites.deferrable) share one transaction, committed after *max_runs*
        of them, before any other write, or at flush() / end_group(): a batch of unchanged objects pays one fsync
        per group instead of one per object. The caller shows a run's result only once grouped_runs is 0 again
        (committed), so that nothing shown as done is lost if the process is killed."""
        self._group_limit = max(1, max_runs)

    def flush(self) -> None:
        """Commit the open group now; StateError (nothing of the group kept) when it cannot be saved."""
        if self.grouped_runs and self._conn.in_transaction:
            try:
                self._conn.execute("COMMIT")
            except sqlite3.Error as exc:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                self.grouped_runs = 0
                raise self._not_saved(exc) from None
        self.grouped_runs = 0

    def end_group(self) -> None:
        """Commit the open group and go back to one transaction per run."""
        try:
            self.flush()
        finally:
            self._group_limit = 0

    # -- reads ----------------------------------------------------------------------------------
    def _row_cs(self, row: tuple[Any, ...] | None) -> CSObject | None:
        if row is None:
            return None
        return CSObject(connector=row[0], anchor=row[1], dn=row[2], object_type=row[3],
                        attributes=from_json(json.loads(row[4])),
                        pending_export=json.loads(row[5]) if row[5] else None)

    _CS = "SELECT connector, anchor, dn, object_type, attributes, pending_export FROM connector_space"

    def cs_object(self, connector: str, anchor: str) -> CSObject | None:
        return self._row_cs(self._conn.execute(f"{self._CS} WHERE connector=? AND anchor=?",
                                               (connector, anchor)).fetchone())

    def cs_by_dn(self, connector: str, dn: str) -> CSObject | None:
        return self._row_cs(self._conn.execute(f"{self._CS} WHERE connector=? AND dn_key=?",
                                               (connector, dnlib.canonical(dn))).fetchone())

    def mv_for(self, connector: str, anchor: str) -> tuple[str, dict[str, Any]] | None:
        row = self._conn.execute(
            "SELECT m.mv_id, m.attributes FROM joins j JOIN metaverse m ON m.mv_id=j.mv_id "
            "WHERE j.connector=? AND j.anchor=?", (connector, anchor)).fetchone()
        return (row[0], from_json(json.loads(row[1]))) if row else None

    def mv_by_anchor(self, source_anchor: str) -> str | None:
        row = self._conn.execute("SELECT mv_id FROM metaverse WHERE source_anchor=?", (source_anchor,)).fetchone()
        return row[0] if row else None

    def joined_anchor(self, mv_id: str, connector: str) -> str | None:
        row = self._conn.execute("SELECT anchor FROM joins WHERE mv_id=? AND connector=?",
                                 (mv_id, connector)).fetchone()
        return row[0] if row else None

    def resolve_references(self, connector: str, dns: list[str]) -> dict[str, str | None]:
        """AD member DNs -> Entra object ids through connector space, metaverse and joins (None: not in Entra)."""
        keys: dict[str, str] = {}
        for dn in dns:
            try:
                keys[dn] = dnlib.canonical(dn)
            except dnlib.InvalidDnError:
                continue
        found: dict[str, str] = {}
        wanted = list(set(keys.values()))
        for i in range(0, len(wanted), 500):  # SQLite's variable limit; one query per 500 members
            chunk = wanted[i:i + 500]
            marks = ",".join("?" * len(chunk))
            rows = self._conn.execute(
                "SELECT c.dn_key, e.anchor FROM connector_space c "
                "JOIN joins a ON a.connector=c.connector AND a.anchor=c.anchor "
                "JOIN joins e ON e.mv_id=a.mv_id AND e.connector=? "
                f"WHERE c.connector=? AND c.dn_key IN ({marks})",  # noqa: S608 - placeholders only
                (ENTRA, connector, *chunk)).fetchall()
            found.update(dict(rows))
        return {dn: found.get(keys[dn]) if dn in keys else None for dn in dns}

    def pending_create(self, connector: str, anchor: str) -> PendingCreate | None:
        try:
            row = self._conn.execute("SELECT connector, anchor, kind, lookup, entra_id, started, created "
                                     "FROM pending_creates WHERE connector=? AND anchor=?",
                                     (connector, anchor)).fetchone()
        except sqlite3.OperationalError:  # a read-only look at a state file of schema 1: nothing pending
            return None
        if row is None:
            return None
        return PendingCreate(row[0], row[1], row[2], from_json(json.loads(row[3])), row[4], row[5], row[6])

    def counts(self) -> dict[str, int]:
        return {t: self._conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]  # noqa: S608 - fixed names
                for t in ("connector_space", "metaverse", "joins", "runs")}

    def runs(self, limit: int = 50) -> list[dict[str, Any]]:
        rows = self._conn.execute("SELECT id, started, dn, action, status, error_code, staging FROM runs "
                                  "ORDER BY started DESC LIMIT ?", (limit,)).fetchall()
        return [dict(zip(("id", "started", "dn", "action", "status", "error_code", "staging"), r)) for r in rows]

    def find_runs(self, prefix: str) -> list[str]:
        like = prefix.replace("\\", "").replace("%", "").replace("_", "")
        rows = self._conn.execute("SELECT id FROM runs WHERE id LIKE ? ORDER BY started DESC LIMIT 3",
                                  (like + "%",)).fetchall()
        return [r[0] for r in rows] if like else []

    def run_result(self, run_id: str) -> dict[str, Any] | None:
        row = self._conn.execute("SELECT result FROM runs WHERE id=?", (run_id,)).fetchone()
        return json.loads(row[0]) if row else None

    def _purge_runs(self, now_iso: str) -> None:
        """Drop run history older than the scheduler's PurgeRunHistoryInterval (7 days by default)."""
        raw = self.scheduler_settings().get("PurgeRunHistoryInterval") or timespan.DEFAULT_PURGE
        try:
            keep = timespan.parse(str(raw))
        except UsageError:
            # `scheduler set` refuses such a value, but one written by hand or by an older pybridge
            # (unparsable, or too long to subtract from now) must never fail the commit of a run:
            # the history is then kept for the default interval
            keep = timespan.parse(timespan.DEFAULT_PURGE)
        # fromisoformat, not strptime: the first strptime of a process builds its locale tables (milliseconds)
        now = dt.datetime.fromisoformat(now_iso.replace("Z", "+00:00"))
        cutoff = iso(now - keep)
        self._conn.execute("DELETE FROM runs WHERE started < ?", (cutoff,))

    def scheduler_settings(self) -> dict[str, Any]:
        return {k: json.loads(v) for k, v in self._conn.execute("SELECT key, value FROM scheduler")}

    def save_scheduler_settings(self, values: dict[str, Any]) -> None:
        if self.read_only:
            raise StateError("The state store is open read-only.")
        try:
            self._conn.execute("BEGIN IMMEDIATE")
            for k, v in values.items():
                self._conn.execute("INSERT INTO scheduler(key, value) VALUES(?, ?) ON CONFLICT(key) DO UPDATE "
                                   "SET value=excluded.value", (k, json.dumps(v)))
            self._conn.execute("COMMIT")
        except sqlite3.Error as exc:
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
            raise StateError(f"The scheduler settings could not be saved to {self.path}: {exc}",
                             path=str(self.path)) from None

    # -- creates in Entra ID: recorded before the POST, completed from its answer ----------------------
    def record_create_intent(self, writes: RunWrites, intent: PendingCreate) -> None:
        """Before a create is sent: what the run established so far, and how to find the new object again.

        Committed at once (not with the run) so that a crash, a full disk at the end of the run or a lost
        answer still leaves the next run a way to find the object instead of creating it twice. Raises
        StateError when it cannot be saved, and then nothing may be sent.
        """
        self.commit(RunWrites(connector_space=list(writes.connector_space), metaverse=list(writes.metaverse),
                              joins=list(writes.joins)), pending=intent)

    def record_created(self, intent: PendingCreate, entra_id: str, mv_id: str, created: str,
                       answer: CSObject | None = None) -> None:
        """The create's answer: the new object's id and its join, committed at once, before any follow-up.

        *answer* is the object as Graph's 201 showed it: the Entra connector-space row of the join until a read-back
        replaces it (a join never points at nothing in the connector space, even while Graph does not show the new
        object yet)."""
        done = PendingCreate(intent.connector, intent.anchor, intent.kind, intent.lookup, entra_id, intent.started,
                             created)
        self.commit(RunWrites(connector_space=[answer] if answer is not None else [],
                              joins=[(ENTRA, entra_id, mv_id)]), pending=done)

    # -- the one write ----------------------------------------------------------------------------
    def commit(self, writes: RunWrites, *, pending: PendingCreate | None = None) -> None:
        if self.read_only:
            return
        if self._group_limit and writes.deferrable and pending is None:
            self._commit_grouped(writes)
            return
        self.flush()  # a run that wrote to Entra ID, or a create's record: the group before it, then it, at once
        try:
            self._conn.execute("BEGIN IMMEDIATE")
            self._apply(writes, pending)
            self._conn.execute("COMMIT")
        except sqlite3.Error as exc:
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
            raise self._not_saved(exc) from None

    def _commit_grouped(self, writes: RunWrites) -> None:
        """One run's writes inside the group's transaction, under a savepoint: a run that cannot be saved leaves
        the runs before it in the group as they were."""
        try:
            if not self._conn.in_transaction:
                self._conn.execute("BEGIN IMMEDIATE")
            self._conn.execute("SAVEPOINT run")
            try:
                self._apply(writes, None)
            except sqlite3.Error:
                self._conn.execute("ROLLBACK TO run")
                self._conn.execute("RELEASE run")
                raise
            self._conn.execute("RELEASE run")
        except sqlite3.Error as exc:
            raise self._not_saved(exc) from None
        self.grouped_runs += 1
        if self.grouped_runs >= self._group_limit:
            self.flush()

    def _not_saved(self, exc: sqlite3.Error) -> StateError:
        return StateError(f"The run could not be saved to {self.path}: {exc}; the state is unchanged.",
                          path=str(self.path),
                          recommended_action="Check free disk space and that the state file is writable.")

    def _apply(self, writes: RunWrites, pending: PendingCreate | None) -> None:
        """The statements of one run's writes, in the caller's transaction."""
        now = writes.run["ended"] if writes.run else None
        if pending is not None:
            self._conn.execute(
                "INSERT INTO pending_creates(connector, anchor, kind, lookup, entra_id, started, created) "
                "VALUES(?,?,?,?,?,?,?) ON CONFLICT(connector, anchor) DO UPDATE SET kind=excluded.kind, "
                "lookup=excluded.lookup, entra_id=excluded.entra_id, started=excluded.started, "
                "created=excluded.created",
                (pending.connector, pending.anchor, pending.kind, json.dumps(to_json(pending.lookup)),
                 pending.entra_id, pending.started, pending.created))
        for connector, anchor in writes.confirmed_creates:
            self._conn.execute("DELETE FROM pending_creates WHERE connector=? AND anchor=?", (connector, anchor))
        for cs in writes.connector_space:
            self._conn.execute(
                "INSERT INTO connector_space(connector, anchor, dn, dn_key, object_type, attributes, "
                "pending_export, updated) VALUES(?,?,?,?,?,?,?,?) ON CONFLICT(connector, anchor) DO UPDATE SET "
                "dn=excluded.dn, dn_key=excluded.dn_key, object_type=excluded.object_type, "
                "attributes=excluded.attributes, pending_export=excluded.pending_export, updated=excluded.updated",
                (cs.connector, cs.anchor, cs.dn, dnlib.canonical(cs.dn) if cs.dn else None, cs.object_type,
                 json.dumps(to_json(cs.attributes), sort_keys=True),
                 json.dumps(cs.pending_export) if cs.pending_export is not None else None, now or ""))
        for mv_id, object_type, anchor, attrs in writes.metaverse:
            self._conn.execute(
                "INSERT INTO metaverse(mv_id, object_type, source_anchor, attributes, updated) VALUES(?,?,?,?,?) "
                "ON CONFLICT(mv_id) DO UPDATE SET object_type=excluded.object_type, "
                "source_anchor=excluded.source_anchor, attributes=excluded.attributes, updated=excluded.updated",
                (mv_id, object_type, anchor, json.dumps(to_json(attrs), sort_keys=True), now or ""))
        for connector, anchor, mv_id in writes.joins:
            # a metaverse object joins at most one object per connector: a new join replaces the old
            # one, and the object that lost it (deleted or replaced in the target) leaves the space
            stale = [r[0] for r in self._conn.execute(
                "SELECT anchor FROM joins WHERE connector=? AND mv_id=? AND anchor<>?",
                (connector, mv_id, anchor))]
            for old in stale:
                self._conn.execute("DELETE FROM joins WHERE connector=? AND anchor=?", (connector, old))
                self._conn.execute("DELETE FROM connector_space WHERE connector=? AND anchor=?",
                                   (connector, old))
            self._conn.execute("INSERT INTO joins(connector, anchor, mv_id) VALUES(?,?,?) "
                               "ON CONFLICT(connector, anchor) DO UPDATE SET mv_id=excluded.mv_id",
                               (connector, anchor, mv_id))
        if writes.run:
            self._purge_runs(writes.run["started"])
            r = writes.run
            self._conn.execute("INSERT INTO runs(id, started, ended, dn, action, status, error_code, staging, "
                               "result) VALUES(?,?,?,?,?,?,?,?,?)",
                               (r["id"], r["started"], r["ended"], r["dn"], r["action"], r["status"],
                                r["error_code"], int(r["staging"]), json.dumps(r["result"])))



def _unsafe(path: Path, exc: "platform.UnsafeFileError") -> StateError:
    return StateError(f"State file {path} cannot be created or opened: {exc}.", path=str(path),
                      recommended_action=f"Fix state.path: {exc.fix}.")


def new_id() -> str:
    return str(uuid.uuid4())
