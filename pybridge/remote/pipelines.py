"""What pybridge runs in a PowerShell runspace on a sync server, whatever carries PSRP there.

The WinRM transport (psrp.py, pypsrp) and the SSH transport (ssh.py, psrpcore over OpenSSH) both give a
runspace pool; :class:`PipelineSession` runs the same pipelines in either:

1. ``Get-Command -Name Invoke-ADSyncSingleObjectSyn[c] -ListImported``:
   does the session already provide the cmdlet? A JEA endpoint does (its session configuration imports the
   module and makes the cmdlet visible); importing the module again there would replace the visible cmdlet with
   a private one, so it is not imported then. The name is a wildcard pattern that matches only the cmdlet's
   name, because Get-Command given the plain name imports a module on PSModulePath that exports it (module
   autoloading), even with -ListImported: the session would then seem to provide a module nobody asked for.
2. Otherwise ``Import-Module -Name <module_path> -ErrorAction Stop``.
3. ``Invoke-ADSyncSingleObjectSync -DistinguishedName <DN> [-StagingMode] [-NoHtmlReport]``.

Every value is a typed parameter of a command (CLIXML), never part of PowerShell code; the report transfer is
the constant script Read-PyBridgeReport.ps1 with bound parameters. Commands, not scripts, so that a JEA
endpoint in NoLanguage mode runs the sync (the report transfer, a script, needs a language mode that allows
scripts).
"""
from __future__ import annotations

import time
from typing import Any, Sequence

from msgspec import Struct

from .common import Streams, SyncRequest, load_script
from .settings import ServerSettings

CMDLET = "Invoke-ADSyncSingleObjectSync"


class Command(Struct, frozen=True):
    """One command of a pipeline: a cmdlet or function name (or, with ``script``, a script) and its parameters."""

    text: str
    parameters: tuple[tuple[str, Any], ...] = ()
    script: bool = False


class PipelineSession:
    """The sync and the report transfer, over a transport that runs pipelines (:meth:`_invoke`)."""

    server: ServerSettings

    def _invoke(self, commands: Sequence[Command], stage: str, deadline: float) -> Streams:
        """Run one pipeline of *commands* and collect its streams; stop it at *deadline* (RemoteTimeout)."""
        raise NotImplementedError

    def provided_by_session(self, deadline: float) -> bool:
        """Whether this session already provides the cmdlet (a JEA endpoint's session configuration imports it).

        Only Get-Command runs (a JEA endpoint makes few commands visible, and some only with some parameters).
        """
        found = self._invoke([Command("Get-Command", (("Name", CMDLET[:-1] + "[c]"), ("ListImported", True),
                                                      ("ErrorAction", "SilentlyContinue")))], "ImportModule", deadline)
        return not found.failed and bool(found.output)  # else not there, or Get-Command is not visible: import

    def sync(self, request: SyncRequest) -> Streams:
        """Import the module (unless the session provides the cmdlet), then run the cmdlet with typed parameters."""
        deadline = time.monotonic() + self.server.operation_timeout
        warnings: list[str] = []
        if not self.provided_by_session(deadline):
            imported = self._invoke([Command("Import-Module", (("Name", self.server.module_path),
                                                               ("ErrorAction", "Stop")))], "ImportModule", deadline)
            if imported.failed or imported.errors:
                imported.stage, imported.failed = "ImportModule", True
                return imported
            warnings = imported.warnings
        parameters: list[tuple[str, Any]] = [("DistinguishedName", request.distinguished_name)]
        if request.staging_mode:
            parameters.append(("StagingMode", True))
        if request.no_html_report:
            parameters.append(("NoHtmlReport", True))
        result = self._invoke([Command(CMDLET, tuple(parameters))], "Invoke", deadline)
        result.warnings = warnings + result.warnings
        return result

    def read_report(self, *, path: str | None, directory: str | None, since: str | None, offset: int,
                    count: int) -> Streams:
        """One chunk of the HTML report through the constant Read-PyBridgeReport script."""
        deadline = time.monotonic() + min(self.server.operation_timeout, 120)
        parameters: list[tuple[str, Any]] = [("Offset", offset), ("Count", count)]
        for key, value in (("Path", path), ("Directory", directory), ("Since", since)):
            if value:
                parameters.append((key, value))
        return self._invoke([Command(load_script("Read-PyBridgeReport.ps1"), tuple(parameters), script=True)],
                            "ReadReport", deadline)


__all__ = ["Command", "PipelineSession", "CMDLET"]
