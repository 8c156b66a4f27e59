"""What pybridge runs in a remote PowerShell session (pipelines.py), whatever the transport, with a fake one."""
from __future__ import annotations

from typing import Any

from pybridge.remote import RemoteRecord, Streams, SyncRequest
from pybridge.remote.pipelines import CMDLET, Command, PipelineSession
from pybridge.remote.settings import RemoteSettings, ServerOptions, resolve

DN = "CN=x'; Remove-Item C:\\ -Recurse #,OU=Corp,DC=contoso,DC=com"


class Recorder(PipelineSession):
    def __init__(self, answers: dict[str, Streams]) -> None:
        self.server = resolve(RemoteSettings(), ["aadc01"], ServerOptions(auth="kerberos"))[0][0]
        self.answers = answers
        self.pipelines: list[list[Command]] = []

    def _invoke(self, commands: Any, stage: str, deadline: float) -> Streams:
        self.pipelines.append(list(commands))
        return self.answers.get(commands[0].text, Streams(stage="Done"))


def names(session: Recorder) -> list[str]:
    return [c.text if not c.script else "(script)" for p in session.pipelines for c in p]


def test_the_module_is_imported_then_the_cmdlet_runs_with_typed_parameters():
    s = Recorder({CMDLET: Streams(stage="Done", output=["{}"])})
    result = s.sync(SyncRequest(DN, staging_mode=True))
    assert names(s) == ["Get-Command", "Import-Module", CMDLET]
    check, imported, invoked = s.pipelines
    # a wildcard that matches only the cmdlet: Get-Command given the plain name would autoload a module
    assert dict(check[0].parameters) == {"Name": "Invoke-ADSyncSingleObjectSyn[c]", "ListImported": True,
                                         "ErrorAction": "SilentlyContinue"}
    assert dict(imported[0].parameters) == {"Name": s.server.module_path, "ErrorAction": "Stop"}
    assert invoked[0].parameters == (("DistinguishedName", DN), ("StagingMode", True))
    assert not any(c.script for p in s.pipelines for c in p) and result.output == ["{}"]


def test_a_session_that_provides_the_cmdlet_is_not_asked_to_import_it():
    s = Recorder({"Get-Command": Streams(stage="Done", output=["Invoke-ADSyncSingleObjectSync"])})
    s.sync(SyncRequest(DN, no_html_report=True))
    assert names(s) == ["Get-Command", CMDLET]
    assert s.pipelines[1][0].parameters == (("DistinguishedName", DN), ("NoHtmlReport", True))


def test_a_failed_import_ends_the_sync_at_that_stage():
    failed = Streams(stage="ImportModule", errors=[RemoteRecord("no valid module file", "Modules_ModuleNotFound")],
                     failed=True)
    s = Recorder({"Import-Module": failed, "Get-Command": Streams(stage="ImportModule", failed=True)})
    result = s.sync(SyncRequest(DN))
    assert names(s) == ["Get-Command", "Import-Module"] and result.stage == "ImportModule" and result.failed


def test_the_report_is_read_by_the_constant_script_with_bound_parameters():
    s = Recorder({})
    s.read_report(path=None, directory=None, since="2026-01-01T00:00:00Z", offset=5, count=10)
    (command,) = s.pipelines[0]
    assert command.script and "param(" in command.text and DN not in command.text
    assert dict(command.parameters) == {"Offset": 5, "Count": 10, "Since": "2026-01-01T00:00:00Z"}
