"""`pybridge scan`: the ten steps in staging mode for every object in scope, from one read of each side.

The directory is read a page at a time (one paged search per container) and each object runs through
the same step table as `pybridge sync --staging-mode`, its questions to the tenant answered from one
snapshot (SnapshotTenant). Nothing is written to Entra ID or to the state, except one history record of
the scan. Results stream to stdout as they come; a summary, the whole-view findings and an HTML summary
report follow.
"""
from __future__ import annotations

import json
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Callable, Iterator, Sequence, TextIO

from msgspec import Struct, field

from ..config import ADConnector, Config
from ..connectors.ad import ADSession
from ..connectors.retry import RetryBudget
from ..core import dn as dnlib
from ..core import scoping
from ..core.model import Status, SyncResult, iso, utcnow
from ..core.rules import RuleSet
from ..errors import PyBridgeError
from ..store import RunWrites, Store, new_id
from ..sync.ports import DirectoryObject, Members
from ..sync.scoping_steps import attributes_to_read
from ..sync.state import Environment, Options
from ..sync.steps import run_steps
from .snapshot import SnapshotTenant
from .whole_view import Finding, WholeView

# A scan reads for minutes: Graph throttling slows it (Retry-After honoured) but must not end it.
SCAN_MAX_WAIT, SCAN_MAX_ATTEMPTS = 900.0, 20


class ScanOptions(Struct):
    search_bases: tuple[str, ...] = ()
    object_types: tuple[str, ...] = ()
    only_problems: bool = False
    fmt: str = "adsync"
    limit: int | None = None
    report_dir: Path | None = None  # None: no HTML summary


class RowSpool:
    """The per-object rows of the HTML summary, kept in a temporary file (one JSON line each), not in memory:
    a scan's memory then grows with the indexes that matching needs, not with the objects scanned. The first
    few failures stay at hand for the summary on stderr."""

    def __init__(self, keep_failures: int = 10) -> None:
        self._file = tempfile.TemporaryFile("w+", encoding="utf-8")  # deleted when closed, or at exit
        self.count = 0
        self.first_failures: list[dict[str, object]] = []
        self._keep = keep_failures

    def append(self, row: dict[str, object]) -> None:
        self._file.write(json.dumps(row, ensure_ascii=False) + "\n")
        self.count += 1
        if row.get("status") == "Failure" and len(self.first_failures) < self._keep:
            self.first_failures.append(row)

    def __iter__(self) -> Iterator[dict[str, object]]:
        self._file.flush()
        self._file.seek(0)
        for line in self._file:
            yield json.loads(line)
        self._file.seek(0, 2)  # appending goes on at the end

    def __len__(self) -> int:
        return self.count

    def close(self) -> None:
        self._file.close()


class ScanSummary(Struct):
    started: str
    ended: str | None = None
    scanned: int = 0
    expected: int = 0  # objects the containers hold, counted before each connector's search (for the ETA)
    statuses: Counter[str] = field(default_factory=Counter)
    codes: Counter[str] = field(default_factory=Counter)
    out_of_scope: int = 0  # in a searched container but excluded by the container filter
    unreadable: list[str] = field(default_factory=list)  # containers that could not be searched
    findings: list[Finding] = field(default_factory=list)
    joined_deleted: list[tuple[str, str]] = field(default_factory=list)  # (DN, Entra id): joins to deleted objects
    interrupted: bool = False
    graph_requests: int = 0
    ldap_operations: int = 0
    rows: RowSpool = field(default_factory=RowSpool)  # per object, for the HTML summary (on disk)

    @property
    def failed(self) -> bool:
        return bool(self.statuses.get("Failure") or self.findings or self.unreadable)

    def as_json(self) -> dict[str, object]:
        return {"Scan": {"Started": self.started, "Ended": self.ended, "Scanned": self.scanned,
                         "Statuses": dict(self.statuses), "ErrorCodes": dict(self.codes),
                         "OutOfScope": self.out_of_scope, "UnreadableContainers": self.unreadable,
                         "Interrupted": self.interrupted,
                         "WholeViewFindings": [{"ErrorCode": f.code, "Value": f.value, "Objects": list(f.objects),
                                                "Reason": f.reason} for f in self.findings],
                         "JoinedToDeletedObjects": [{"Object": dn, "EntraId": i} for dn, i in self.joined_deleted]}}


class PrefetchedDirectory:
    """The Directory port for one object the paged search already read: its reads are answered from the
    page; only what a page cannot hold (nested membership) goes to the DC."""

    def __init__(self, session: ADSession, obj: DirectoryObject) -> None:
        self.session, self.obj = session, obj

    def connect(self) -> str:
        return self.session.connect()

    def read(self, dn: str, attributes: Sequence[str]) -> DirectoryObject | None:
        if dnlib.canonical(dn) != dnlib.canonical(self.obj.dn):
            return self.session.read(dn, attributes)
        wanted = {a.lower() for a in attributes}
        return DirectoryObject(self.obj.dn, {k: list(v) for k, v in self.obj.attributes.items()
                                             if k.lower() in wanted}, dict(self.obj.ranged))

    def read_members(self, dn: str) -> Members:
        return Members(list(self.obj.attributes.get("member", [])), self.obj.ranged.get("member", 0))

    def is_nested_member(self, dn: str, group_dn: str) -> bool:
        return self.session.is_nested_member(dn, group_dn)

    def find(self, kind: str, value: str) -> list[DirectoryObject]:
        return self.session.find(kind, value)

    def close(self) -> None:
        pass  # the scan's session stays open for the next object


def _containers(connector: ADConnector, bases: tuple[str, ...]) -> list[str]:
    """Where to search: the given bases inside this connector's partitions, or its included containers;
    a container inside another one searched already is not searched twice."""
    if bases:
        chosen = [b for b in bases if any(dnlib.is_descendant(b, p) for p in connector.partitions)]
    else:
        chosen = list(connector.include or connector.partitions)
    return [c for c in chosen if not any(o != c and dnlib.is_descendant(c, o) for o in chosen)]


def scan(config: Config, rules: RuleSet, options: ScanOptions, *, out: TextIO,
         progress: Callable[[ScanSummary, int | None], None] | None = None,
         emit: Callable[[SyncResult], str] | None = None) -> ScanSummary:
    """Scan every object in scope; results go to *out* as they come; returns the summary."""
    from .. import engine

    summary = ScanSummary(started=iso(utcnow()))
    store = Store.open(config.state_path, read_only=True)
    live = engine.graph_client(config, budget=RetryBudget(max_wait=SCAN_MAX_WAIT, max_attempts=SCAN_MAX_ATTEMPTS))
    view = WholeView()
    seen: set[str] = set()
    try:
        tenant = SnapshotTenant(live, rules).load()
        for connector in config.ad_connectors:
            session = engine.ad_session(connector)
            try:
                for obj in _objects(connector, session, config, rules, options, summary):
                    if options.limit is not None and summary.scanned >= options.limit:
                        return summary
                    key = dnlib.canonical(obj.dn)
                    if key in seen:
                        continue
                    seen.add(key)

                    def directory_for(c: ADConnector, o: DirectoryObject = obj,
                                      s: ADSession = session) -> PrefetchedDirectory:
                        return PrefetchedDirectory(s, o)

                    env = Environment(config=config, store=store, rules=rules, directory_for=directory_for,
                                      tenant_for=lambda c: tenant)
                    result = run_steps(env, obj.dn, Options(staging_mode=True, persist=False),
                                       observe=view.observe)
                    _count(summary, result)
                    if not options.only_problems or result.status_info.status != Status.SUCCESS:
                        out.write((emit(result) if emit else json.dumps(result.distinguished_name)) + "\n")
                        out.flush()
                    if progress:
                        progress(summary, None)
            finally:
                summary.ldap_operations += session.operations
                session.close()
    except KeyboardInterrupt:
        summary.interrupted = True
    finally:
        summary.findings = view.findings()
        summary.joined_deleted = list(view.joined_deleted)
        summary.graph_requests = live.requests
        summary.ended = iso(utcnow())
        store.close()
    return summary


def _objects(connector: ADConnector, session: ADSession, config: Config, rules: RuleSet, options: ScanOptions,
             summary: ScanSummary) -> Iterator[DirectoryObject]:
    """The objects in scope of one connector, a page at a time; objects in excluded containers are counted,
    not run (a single run would stop them at step 3); an unreadable container is reported, the scan goes on."""
    types = [t for t in connector.object_types
             if not options.object_types or t.lower() in {o.lower() for o in options.object_types}]
    attributes = attributes_to_read(config, rules)
    containers = _containers(connector, options.search_bases)
    for container in containers:  # a count first (no attributes read: cheap), so the progress has an ETA
        try:
            summary.expected += session.count_under(container, types)
        except PyBridgeError:
            pass  # the search below reports it
    for container in containers:
        try:
            for obj in session.objects_under(container, types, attributes):
                if not scoping.container_decision(connector, obj.dn).included:
                    summary.out_of_scope += 1
                    continue
                yield obj
        except PyBridgeError as exc:
            summary.unreadable.append(f"{container}: {exc.message}")


def _count(summary: ScanSummary, result: SyncResult) -> None:
    status = result.status_info
    summary.scanned += 1
    summary.statuses[status.status.value] += 1
    if status.error_code:
        summary.codes[status.error_code] += 1
    # a compact row: problems keep their steps (without the attribute tables) for the HTML summary
    steps = [{"number": st.number, "name": st.name, "status": st.status.value,
              "details": {k: v for k, v in st.details.items() if k != "AttributeInfoJson"}}
             for st in result.steps] if status.status != Status.SUCCESS else None
    summary.rows.append({"dn": result.source_identity.name or result.distinguished_name,
                         "status": status.status.value, "code": status.error_code or "",
                         "reason": status.reason or "", "steps": steps})


def record(config: Config, summary: ScanSummary) -> None:
    """The one write of a scan: its history record."""
    store = Store.open(config.state_path)
    try:
        status = "Failure" if summary.failed else "Success"
        store.commit(RunWrites(run={"id": new_id(), "started": summary.started, "ended": summary.ended,
                                    "dn": "(scan)", "action": "Other", "status": status,
                                    "error_code": summary.codes.most_common(1)[0][0] if summary.codes else None,
                                    "staging": True, "result": summary.as_json()}))
    finally:
        store.close()


class ProgressLine:
    """Count, rate and ETA on stderr: one line redrawn on a terminal, a plain line now and then otherwise."""

    def __init__(self, err: TextIO) -> None:
        self.err = err
        self.start = time.monotonic()
        self.last = 0.0
        self.tty = bool(getattr(err, "isatty", lambda: False)())

    def __call__(self, summary: ScanSummary, _: int | None) -> None:
        now = time.monotonic()
        if now - self.last < (0.2 if self.tty else 10.0):
            return
        self.last = now
        rate = summary.scanned / max(now - self.start, 1e-6)
        total = summary.expected - summary.out_of_scope  # objects in excluded containers are not run
        eta = ""
        if total > summary.scanned:
            left = (total - summary.scanned) / max(rate, 1e-6)
            eta = f", about {left:.0f} s left"
        text = f"pybridge scan: {summary.scanned:,}" + (f"/{total:,}" if total >= summary.scanned else "") + \
            f" objects, {rate:,.0f}/s{eta}"
        self.err.write(("\r" + text + "\x1b[K") if self.tty else text + "\n")
        self.err.flush()

    def done(self) -> None:
        if self.tty:
            self.err.write("\n")
