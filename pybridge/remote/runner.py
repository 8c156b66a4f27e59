"""Run Single Object Sync on one or several servers: sessions, retries, results, report copies.

The transports are a seam: :func:`run_servers` takes a session factory (PSRP, WinRS
or SSH by default), so tests can hand in a fake one. Each server's outcome is one
adsync JSON document tagged with ``ComputerName``, whether the server answered a
result or the run failed before there was one.
"""
from __future__ import annotations

import base64
import hashlib
import json
import ntpath
import posixpath
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable, Protocol

from msgspec import Struct, field

from .common import (RemoteCmdletFailed, RemoteError, RemoteModuleImportFailed, RemoteModuleNotFound,
                     RemoteProtocolError, Streams, SyncRequest)
from .. import platform
from .settings import ServerSettings

REPORT_CHUNK = 256 * 1024
REPORT_MAX_BYTES = 64 * 1024 * 1024
_MODULE_NOT_FOUND_IDS = ("Modules_ModuleNotFound", "Modules_ModuleFileNotFound", "FileNotFound")
_EXIT = {"Success": 0, "Warning": 0, "Failure": 1, "Skipped": 3}


class RemoteSession(Protocol):
    def open(self) -> None: ...

    def close(self) -> None: ...

    def sync(self, request: SyncRequest) -> Streams: ...

    def read_report(self, *, path: str | None, directory: str | None, since: str | None, offset: int,
                    count: int) -> Streams: ...


SessionFactory = Callable[[ServerSettings, "str | None"], RemoteSession]
#: progress(server name, stage, message): stages are connect, retry, invoke, report, done
Progress = Callable[[str, str, str], None]


def default_session(server: ServerSettings, password: str | None) -> RemoteSession:
    if server.transport == "ssh":
        from .ssh import SSHSession
        return SSHSession(server, password)
    if server.transport == "winrs":
        from .winrs import WinRSSession
        return WinRSSession(server, password)
    from .psrp import PSRPSession
    return PSRPSession(server, password)


class ServerOutcome(Struct):
    """One server's answer: its JSON document, its remote warnings and errors, its exit code."""

    name: str
    document: dict[str, Any]
    warnings: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    error: RemoteError | None = None
    report_path: Path | None = None

    @property
    def exit_code(self) -> int:
        status = (self.document.get("StatusInfo") or {}).get("Status")
        return _EXIT.get(str(status), 1)


def failure_document(server_name: str, request: SyncRequest, error: RemoteError, started: Any) -> dict[str, Any]:
    """The adsync document of a run that produced no result on the server (all steps Skipped)."""
    from ..core.model import failed_result, utcnow
    from ..report.adsync import to_adsync
    from ..sync.steps import new_steps

    return to_adsync(failed_result(request.distinguished_name, error.error_code, error.message, steps=new_steps(),
                                   details=error.detail, recommended=error.recommended_action or None,
                                   start=started, end=utcnow(), staging_mode=request.staging_mode,
                                   computer_name=server_name))


def find_result(output: list[object]) -> dict[str, Any] | None:
    """The cmdlet's JSON result among the output objects: the last string that is such a document."""
    for item in reversed(output):
        if not isinstance(item, str):
            continue
        text = item.strip()
        if not text.startswith("{"):
            continue
        try:
            doc = json.loads(text)
        except ValueError:
            continue
        if isinstance(doc, dict) and isinstance(doc.get("StatusInfo"), dict):
            return doc
    return None


def interpret(server: ServerSettings, streams: Streams) -> tuple[dict[str, Any], list[str], list[str]]:
    """(document, warnings, errors) from what the sync call produced; raise RemoteError without a result."""
    name = server.name
    errors = [e.message for e in streams.errors if e.message]
    if streams.stage == "ImportModule":
        first = streams.errors[0] if streams.errors else None
        text = first.message if first else "Import-Module failed"
        error_id = (first.error_id or "") if first else ""
        cls: type[RemoteError] = RemoteModuleNotFound if (
            any(error_id.startswith(i) for i in _MODULE_NOT_FOUND_IDS) or "no valid module file" in text
            or "was not found" in text) else RemoteModuleImportFailed
        raise cls(f"{name}: the module {server.module_path} could not be imported: {text}", computer_name=name,
                  stage="ImportModule", detail=error_id or None)
    doc = find_result(streams.output)
    if doc is None:
        if streams.errors:
            raise RemoteCmdletFailed(f"{name}: Invoke-ADSyncSingleObjectSync failed: {streams.errors[-1].message}",
                                     computer_name=name, stage=streams.stage,
                                     detail="\n".join(errors[:-1]) or streams.errors[-1].error_id)
        raise RemoteProtocolError(f"{name}: Invoke-ADSyncSingleObjectSync returned no JSON result "
                                  f"({len(streams.output)} output object(s))", computer_name=name, stage=streams.stage)
    return doc, list(streams.warnings), errors


def tag(doc: dict[str, Any], computer_name: str) -> dict[str, Any]:
    """The document with ReportPath kept in place and ComputerName last (as pybridge's own output)."""
    out = {k: v for k, v in doc.items() if k != "ComputerName"}
    out.setdefault("ReportPath", None)
    out["ComputerName"] = computer_name
    return out


# -- report transfer ----------------------------------------------------------------------------------------------
class ReportCopyError(Exception):
    pass


def _remote_basename(path: str) -> str:
    name = ntpath.basename(path) if "\\" in path else posixpath.basename(path)
    name = "".join(c for c in name if c.isalnum() or c in "-_.") or "report.htm"
    return name if name.lower().endswith((".htm", ".html")) else name + ".htm"


def copy_report(session: RemoteSession, server_name: str, local_dir: Path, *, path: str | None,
                since: str | None = None, chunk: int = REPORT_CHUNK) -> tuple[Path, str]:
    """Copy the report in chunks, check its SHA-256, write it owner-only; return (local path, remote path)."""
    offset, total, expected, remote_path = 0, None, None, path
    digest = hashlib.sha256()
    parts: list[bytes] = []
    while True:
        streams = session.read_report(path=remote_path, directory=None, since=since if remote_path is None else None,
                                      offset=offset, count=chunk)
        if streams.failed or not streams.output:
            why = streams.errors[-1].message if streams.errors else "no data"
            raise ReportCopyError(f"the server could not read the report: {why}")
        try:
            info = json.loads(str(streams.output[-1]))
            data = base64.b64decode(info["Data"], validate=True)
            length, sha, rpath = int(info["Length"]), str(info["Sha256"]).lower(), str(info["Path"])
        except (ValueError, KeyError, TypeError) as exc:
            raise ReportCopyError(f"unreadable answer of the report transfer ({type(exc).__name__})") from None
        if expected is None:
            expected, total, remote_path = sha, length, rpath
            if total > REPORT_MAX_BYTES:
                raise ReportCopyError(f"the report is {total} bytes, more than the {REPORT_MAX_BYTES} allowed")
        elif (sha, length) != (expected, total):
            raise ReportCopyError("the report changed on the server during the copy")
        assert total is not None
        if not data and offset < total:
            raise ReportCopyError(f"the transfer stopped at byte {offset} of {total}")
        parts.append(data)
        digest.update(data)
        offset += len(data)
        if offset >= total:
            break
    if offset != total or digest.hexdigest() != expected:
        raise ReportCopyError(f"the copy does not match the server's SHA-256 (expected {expected}, got "
                              f"{digest.hexdigest()}, {offset} of {total} bytes)")
    assert remote_path is not None
    target_dir = local_dir / _safe_dir(server_name)
    platform.make_private_dir(target_dir)
    target = target_dir / _remote_basename(remote_path)
    platform.write_private_atomic(target, b"".join(parts))  # never through a link planted at either name
    return target, remote_path


def _safe_dir(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name) or "server"


# -- one server, all servers -------------------------------------------------------------------------------------
def run_server(server: ServerSettings, request: SyncRequest, *, password: str | None, report_dir: Path | None,
               session_factory: SessionFactory = default_session, progress: Progress | None = None,
               sleep: Callable[[float], None] = time.sleep) -> ServerOutcome:
    """Run the sync on one server; never raises for remote failures (they become the outcome)."""
    from ..core.model import iso, utcnow

    started = utcnow()
    say = progress or (lambda *_: None)
    name = server.name
    session: RemoteSession | None = None
    try:
        for attempt in range(server.retries + 1):
            say(name, "connect", f"connecting to {server.endpoint} ({server.transport}, {server.authentication})")
            candidate = session_factory(server, password)
            try:
                candidate.open()
                session = candidate
                break
            except RemoteError as exc:
                if not exc.retriable or attempt >= server.retries:
                    raise
                wait = server.retry_backoff * (2 ** attempt)
                say(name, "retry", f"{exc.message}; retrying in {wait:g} s ({attempt + 1} of {server.retries})")
                sleep(wait)
        assert session is not None
        say(name, "invoke", f"Invoke-ADSyncSingleObjectSync -DistinguishedName {request.distinguished_name!r}"
                            + (" -StagingMode" if request.staging_mode else "")
                            + (" -NoHtmlReport" if request.no_html_report else ""))
        doc, warnings, errors = interpret(server, session.sync(request))
        outcome = ServerOutcome(name=name, document=tag(doc, name), warnings=warnings, errors=errors)
        if not request.no_html_report and report_dir is not None:
            since = doc.get("StartTime") if isinstance(doc.get("StartTime"), str) else iso(started)
            _fetch_report(session, server, outcome, doc, report_dir, since, say)
        say(name, "done", f"done: {(outcome.document.get('StatusInfo') or {}).get('Status')}")
        return outcome
    except Exception as exc:  # noqa: BLE001 - one server's failure must not take the others' results with it
        error = exc if isinstance(exc, RemoteError) else RemoteProtocolError(
            f"{name}: unexpected failure: {type(exc).__name__}: {exc}", computer_name=name, stage="Internal")
        error.computer_name = error.computer_name or name
        say(name, "done", f"failed: {error.error_code}")
        return ServerOutcome(name=name, document=failure_document(name, request, error, started), error=error)
    finally:
        if session is not None:
            session.close()


def _fetch_report(session: RemoteSession, server: ServerSettings, outcome: ServerOutcome, doc: dict[str, Any],
                  report_dir: Path, since: str | None, say: Progress) -> None:
    if "ReportPath" in doc and not doc.get("ReportPath"):
        outcome.warnings.append("the server wrote no HTML report (ReportPath is null)")
        return
    remote = doc.get("ReportPath")  # absent: Microsoft's module, which does not say; take the newest since the start
    say(server.name, "report", f"copying the HTML report {remote or '(newest on the server)'}")
    try:
        local, remote_path = copy_report(session, server.name, report_dir, path=remote, since=since)
    except (ReportCopyError, RemoteError, OSError) as exc:
        text = exc.message if isinstance(exc, RemoteError) else str(exc)
        where = f" it stays on the server at {remote}" if remote else ""
        outcome.warnings.append(f"the HTML report was not copied: {text};{where or ' it stays on the server'}")
        outcome.document["ReportPath"] = None
        return
    outcome.report_path = local
    outcome.document["ReportPath"] = str(local)
    say(server.name, "report", f"report copied from {remote_path} to {local} (SHA-256 verified)")


def run_servers(servers: list[ServerSettings], request: SyncRequest, *, passwords: dict[str, str | None],
                report_dir: Path | None, max_parallel: int = 8, session_factory: SessionFactory = default_session,
                progress: Progress | None = None, sleep: Callable[[float], None] = time.sleep) -> list[ServerOutcome]:
    """Run on every server in parallel; outcomes in the order the servers were given."""
    def one(server: ServerSettings) -> ServerOutcome:
        return run_server(server, request, password=passwords.get(server.name), report_dir=report_dir,
                          session_factory=session_factory, progress=progress, sleep=sleep)

    if len(servers) == 1:
        return [one(servers[0])]
    with ThreadPoolExecutor(max_workers=max(1, min(max_parallel, len(servers))),
                            thread_name_prefix="pybridge-remote") as pool:
        return list(pool.map(one, servers))


def worst_exit_code(codes: list[int]) -> int:
    """1 (Failure) beats 3 (Skipped) beats 0 (Success)."""
    for code in (2, 1, 3):
        if code in codes:
            return code
    return 0


__all__ = ["RemoteSession", "ServerOutcome", "run_server", "run_servers", "copy_report", "interpret", "find_result",
           "failure_document", "worst_exit_code", "default_session"]
