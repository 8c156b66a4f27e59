"""The runner with a fake transport: results, failures, retries, report copies, several servers."""
from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from pybridge.remote import (RemoteAuthenticationFailed, RemoteRecord, RemoteThrottled, RemoteUnreachable, Streams,
                             SyncRequest)
from pybridge.remote.runner import (ReportCopyError, copy_report, find_result, run_server, run_servers,
                                    worst_exit_code)
from pybridge.remote.settings import RemoteSettings, ServerOptions, resolve

DN = "CN=Jane Doe,OU=Corp,DC=contoso,DC=com"


def server(name: str = "aadc01", **kw: Any):
    kw.setdefault("retries", 2)
    kw.setdefault("retry_backoff", 1.0)
    return resolve(RemoteSettings(), [name], ServerOptions(auth="kerberos", **kw))[0][0]


def adsync(status: str = "Success", report: Any = "C:\\ProgramData\\r\\ADSyncSingleObjectSyncResult-1.htm",
           **extra: Any) -> str:
    doc = {"Action": "Update", "StartTime": "2026-01-01T10:00:00.000Z", "EndTime": "2026-01-01T10:00:01.000Z",
           "SourceIdentity": {"Id": "g", "Type": "user", "Name": DN},
           "StatusInfo": {"Status": status, "ErrorCode": None, "Reason": None}, "ModifiedProperties": [],
           "ProvisioningSteps": [], **extra}
    if report is not ...:
        doc["ReportPath"] = report
    return json.dumps(doc)


class FakeSession:
    def __init__(self, *, open_errors: list[Exception] | None = None, streams: Streams | None = None,
                 report: bytes = b"<html>report</html>", corrupt: bool = False, change: bool = False) -> None:
        self.open_errors = list(open_errors or [])
        self.streams = streams or Streams(stage="Done", output=[adsync()], warnings=["w1"])
        self.report, self.corrupt, self.change = report, corrupt, change
        self.opened = self.closed = 0
        self.reads: list[dict[str, Any]] = []
        self.synced: list[SyncRequest] = []

    def open(self) -> None:
        self.opened += 1
        if self.open_errors:
            raise self.open_errors.pop(0)

    def close(self) -> None:
        self.closed += 1

    def sync(self, request: SyncRequest) -> Streams:
        self.synced.append(request)
        return self.streams

    def read_report(self, *, path, directory, since, offset, count) -> Streams:
        self.reads.append({"path": path, "since": since, "offset": offset, "count": count})
        data = self.report[offset:offset + count]
        if self.corrupt and data:
            data = b"X" + data[1:]
        digest = hashlib.sha256(self.report if not (self.change and offset) else self.report + b"!").hexdigest()
        info = {"Path": path or "C:\\ProgramData\\r\\ADSyncSingleObjectSyncResult-9.htm", "Length": len(self.report),
                "Sha256": digest.upper(), "Offset": offset, "Data": base64.b64encode(data).decode()}
        return Streams(stage="Done", output=[json.dumps(info)])


def factory(session: FakeSession):
    def make(settings, password):
        return session
    return make


def test_a_result_is_tagged_and_its_report_copied(tmp_path):
    s = FakeSession()
    o = run_server(server(), SyncRequest(DN), password=None, report_dir=tmp_path, session_factory=factory(s))
    assert o.exit_code == 0 and o.error is None and o.warnings == ["w1"]
    assert list(o.document)[-2:] == ["ReportPath", "ComputerName"] and o.document["ComputerName"] == "aadc01"
    local = Path(o.document["ReportPath"])
    assert local == tmp_path / "aadc01" / "ADSyncSingleObjectSyncResult-1.htm" and local.read_bytes() == s.report
    assert local.stat().st_mode & 0o777 == 0o600 and s.closed == 1
    assert s.reads[0]["path"] == "C:\\ProgramData\\r\\ADSyncSingleObjectSyncResult-1.htm"


def test_no_html_report_reads_nothing(tmp_path):
    s = FakeSession()
    o = run_server(server(), SyncRequest(DN, no_html_report=True), password=None, report_dir=tmp_path,
                   session_factory=factory(s))
    assert s.reads == [] and s.synced[0].no_html_report is True
    assert o.document["ReportPath"] == "C:\\ProgramData\\r\\ADSyncSingleObjectSyncResult-1.htm"


def test_microsoft_module_without_report_path_gets_the_newest_since_its_start(tmp_path):
    s = FakeSession(streams=Streams(stage="Done", output=[adsync(report=...)]))
    o = run_server(server(), SyncRequest(DN), password=None, report_dir=tmp_path, session_factory=factory(s))
    assert s.reads[0] == {"path": None, "since": "2026-01-01T10:00:00.000Z", "offset": 0, "count": 256 * 1024}
    assert Path(o.document["ReportPath"]).name == "ADSyncSingleObjectSyncResult-9.htm"


def test_a_null_report_path_is_a_warning(tmp_path):
    s = FakeSession(streams=Streams(stage="Done", output=[adsync(report=None)]))
    o = run_server(server(), SyncRequest(DN), password=None, report_dir=tmp_path, session_factory=factory(s))
    assert s.reads == [] and o.exit_code == 0 and "wrote no HTML report" in o.warnings[-1]


@pytest.mark.parametrize("kind,needle", [("corrupt", "does not match the server's SHA-256"),
                                         ("change", "changed on the server during the copy")])
def test_a_bad_copy_is_not_kept(tmp_path, kind, needle):
    s = FakeSession(report=b"x" * 300, **{kind: True})
    with pytest.raises(ReportCopyError, match=needle):
        copy_report(s, "aadc01", tmp_path, path="C:\\r.htm", chunk=100)
    assert not list(tmp_path.rglob("*.htm"))
    o = run_server(server(), SyncRequest(DN), password=None, report_dir=tmp_path,
                   session_factory=factory(FakeSession(report=b"x" * 300_000, **{kind: True})))
    assert o.exit_code == 0 and o.document["ReportPath"] is None
    assert needle in o.warnings[-1] and "stays on the server at C:\\ProgramData" in o.warnings[-1]


def test_copy_in_chunks_and_a_hostile_file_name(tmp_path):
    s = FakeSession(report=bytes(range(256)) * 10)
    local, remote = copy_report(s, "aadc/01", tmp_path, path="C:\\x\\..\\evil name<>.htm", chunk=1000)
    assert [r["offset"] for r in s.reads] == [0, 1000, 2000]
    assert local.parent == tmp_path / "aadc_01" and local.name == "evilname.htm"
    assert hashlib.sha256(local.read_bytes()).hexdigest() == hashlib.sha256(s.report).hexdigest()


def test_retries_only_for_retriable_failures_before_anything_ran(tmp_path):
    sleeps: list[float] = []
    said: list[tuple[str, str, str]] = []
    s = FakeSession(open_errors=[RemoteUnreachable("down"), RemoteThrottled("busy")])
    o = run_server(server(retry_backoff=0.5), SyncRequest(DN, no_html_report=True), password=None, report_dir=None,
                   session_factory=factory(s), sleep=sleeps.append, progress=lambda *a: said.append(a))
    assert o.exit_code == 0 and s.opened == 3 and sleeps == [0.5, 1.0]
    assert [a[1] for a in said].count("retry") == 2
    s = FakeSession(open_errors=[RemoteAuthenticationFailed("no")])
    o = run_server(server(), SyncRequest(DN), password=None, report_dir=None, session_factory=factory(s),
                   sleep=sleeps.append)
    assert s.opened == 1 and o.document["StatusInfo"]["ErrorCode"] == "RemoteAuthenticationFailed"
    s = FakeSession(open_errors=[RemoteUnreachable("down")] * 5)
    o = run_server(server(retries=1), SyncRequest(DN), password=None, report_dir=None, session_factory=factory(s),
                   sleep=lambda _: None)
    assert s.opened == 2 and o.exit_code == 1 and o.document["StatusInfo"]["ErrorCode"] == "RemoteHostUnreachable"


def test_failure_document_has_the_original_shape(tmp_path):
    s = FakeSession(open_errors=[RemoteAuthenticationFailed("refused", detail="401")])
    o = run_server(server(), SyncRequest(DN, staging_mode=True), password=None, report_dir=None,
                   session_factory=factory(s))
    doc = o.document
    assert list(doc)[:10] == ["Action", "StartTime", "EndTime", "SourceSystem", "TargetSystem", "SourceIdentity",
                              "TargetIdentity", "StatusInfo", "ModifiedProperties", "ProvisioningSteps"]
    assert doc["SourceIdentity"]["Name"] == DN and doc["ComputerName"] == "aadc01"
    assert [st["Status"] for st in doc["ProvisioningSteps"]] == ["Skipped"] * 10
    info = doc["StatusInfo"]
    assert info["ErrorCategory"] == "nonServiceFailure" and info["AdditionalDetails"] == "401"
    assert info["RecommendedAction"].startswith("Check the user name")


@pytest.mark.parametrize("streams,code", [
    (Streams(stage="ImportModule", failed=True, errors=[RemoteRecord(
        "The specified module 'x' was not loaded because no valid module file was found in any module directory.",
        "Modules_ModuleNotFound,Microsoft.PowerShell.Commands.ImportModuleCommand")]), "RemoteModuleNotFound"),
    (Streams(stage="ImportModule", failed=True, errors=[RemoteRecord("signature broken", "Signature")]),
     "RemoteModuleImportFailed"),
    (Streams(stage="Invoke", failed=True, errors=[RemoteRecord("The ADSync service is not running", "X")]),
     "RemoteCmdletFailed"),
    (Streams(stage="Done", output=["hello", 42]), "RemoteProtocolError"),
])
def test_no_result_becomes_a_classified_failure(streams, code):
    o = run_server(server(), SyncRequest(DN), password=None, report_dir=None,
                   session_factory=factory(FakeSession(streams=streams)))
    assert o.exit_code == 1 and o.document["StatusInfo"]["ErrorCode"] == code


def test_the_result_wins_over_errors_and_errors_are_passed_on():
    streams = Streams(stage="Done", output=["noise", adsync(status="Skipped")],
                      errors=[RemoteRecord("non-terminating")], warnings=["careful"])
    o = run_server(server(), SyncRequest(DN, no_html_report=True), password=None, report_dir=None,
                   session_factory=factory(FakeSession(streams=streams)))
    assert o.exit_code == 3 and o.errors == ["non-terminating"] and o.warnings == ["careful"]


def test_an_unexpected_bug_in_one_server_does_not_take_the_others_down():
    class Broken(FakeSession):
        def sync(self, request):
            raise KeyError("boom")
    o = run_server(server(), SyncRequest(DN), password=None, report_dir=None, session_factory=factory(Broken()))
    assert o.document["StatusInfo"]["ErrorCode"] == "RemoteProtocolError" and "KeyError" in o.error.message


def test_servers_run_in_parallel_and_come_back_in_the_given_order():
    barrier = threading.Barrier(3, timeout=5)

    class Slow(FakeSession):
        def __init__(self, name: str, delay: float) -> None:
            super().__init__(streams=Streams(stage="Done", output=[adsync()]))
            self.delay = delay

        def sync(self, request):
            barrier.wait()  # all three must be inside sync at once
            time.sleep(self.delay)
            return super().sync(request)

    sessions = {"a": Slow("a", 0.2), "b": Slow("b", 0.0), "c": Slow("c", 0.1)}
    servers = [server(n) for n in "abc"]
    outcomes = run_servers(servers, SyncRequest(DN, no_html_report=True), passwords={}, report_dir=None,
                           session_factory=lambda s, p: sessions[s.name])
    assert [o.name for o in outcomes] == ["a", "b", "c"]
    assert all(o.document["ComputerName"] == o.name for o in outcomes)


def test_worst_exit_code_and_find_result():
    assert worst_exit_code([0, 3, 1]) == 1 and worst_exit_code([0, 3]) == 3 and worst_exit_code([0, 0]) == 0
    assert worst_exit_code([]) == 0
    assert find_result(["{not json", '{"a": 1}', adsync(), "tail"])["Action"] == "Update"
    assert find_result([{"StatusInfo": {}}]) is None


def test_a_copied_report_is_never_written_through_a_planted_link(tmp_path):
    """The copy goes to a new owner-only file (O_EXCL, unpredictable name) renamed into place: links planted
    at the report's name or at the temporary name an earlier pybridge used are replaced, never followed."""
    import os
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    local = tmp_path / "reports" / "aadc01"
    local.mkdir(parents=True)
    name = "ADSyncSingleObjectSyncResult-1.htm"
    (local / f".{name}.{os.getpid()}.tmp").symlink_to(victim)
    (local / name).symlink_to(victim)
    s = FakeSession()
    o = run_server(server(), SyncRequest(DN), password=None, report_dir=tmp_path / "reports",
                   session_factory=factory(s))
    assert o.error is None and victim.read_text() == "precious\n"
    copied = Path(o.document["ReportPath"])
    assert not copied.is_symlink() and copied.read_bytes() == s.report and copied.stat().st_mode & 0o777 == 0o600
