"""The lab's test sync server: what a Windows sync server has installed, as a folder on Linux, run by real PowerShell.

    server = SyncServer(tmp / "aadc01", name="AADC01", engine_config=cfg)
    server.server_command("Microsoft.PowerShell")   # pwsh -s ... : one PSRP runspace pool (the WinRM endpoint)
    server.powershell_command([...])                  # what powershell.exe means there (WinRS)
    server.ssh_subsystem()                            # sshd's `Subsystem powershell ...` line
    server.engine_runs()                              # every engine run, with its arguments

The folder holds the server's system drive (``C/``, mapped to ``C:`` in every PowerShell session it runs), with
a stand-in for Microsoft's ADSyncDiagnostics module where Entra Connect installs it and ``ProgramData``;
pybridge's own module (psmodule/ADSyncDiagnostics) on the server's PSModulePath; its session configurations
(``.pssc`` files: ``Microsoft.PowerShell``, and ``PyBridge.JEA``, a JEA endpoint that exposes only
Invoke-ADSyncSingleObjectSync); the engine (pybridge, run through a small script that logs each run); and a
home folder. Every PowerShell it runs is real: ``pwsh`` from $PYBRIDGE_PWSH, else from PATH.

Both modules run pybridge's engine against the engine configuration given (the server's
``$env:PYBRIDGE_CONFIG``). None of this belongs to pybridge: it is the lab's picture of a sync server.
"""
from __future__ import annotations

import json
import os
import shutil
import sys
import uuid
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from ..errors import LabError

#: Where Entra Connect installs the module holding Invoke-ADSyncSingleObjectSync (pybridge's --module-path microsoft).
MICROSOFT_MODULE_PATH = r"C:\Program Files\Microsoft Azure AD Sync\Bin\ADSyncDiagnostics\ADSyncDiagnostics.psm1"
DEFAULT_CONFIGURATION = "Microsoft.PowerShell"
JEA_CONFIGURATION = "PyBridge.JEA"
REPORT_FOLDER = ("AADConnect", "ADSyncObjectDiagnostics")  # below %ProgramData%, as Microsoft's cmdlet writes it


def find_pwsh() -> str:
    """PowerShell 7 for the test servers: $PYBRIDGE_PWSH, else ``pwsh`` on PATH; LabError without one."""
    explicit = os.environ.get("PYBRIDGE_PWSH")
    if explicit:
        if os.path.isfile(explicit) and os.access(explicit, os.X_OK):
            return explicit
        raise LabError(f"$PYBRIDGE_PWSH={explicit} is not an executable file")
    found = shutil.which("pwsh")
    if found:
        return found
    raise LabError("the test sync server runs PowerShell 7 and there is none: set $PYBRIDGE_PWSH to a pwsh, or "
                   "put pwsh on PATH")


def default_pybridge_module() -> Path | None:
    """psmodule/ADSyncDiagnostics next to the pybridge package, when pybridge runs from its source tree."""
    import pybridge

    candidate = Path(pybridge.__file__).resolve().parents[1] / "psmodule" / "ADSyncDiagnostics"
    return candidate if (candidate / "ADSyncDiagnostics.psd1").is_file() else None


@dataclass(frozen=True)
class EngineRun:
    """One run of the engine on the server: its arguments (after ``-m pybridge``), process id and times.

    ``end`` is None when the process was killed (a stopped pipeline, a closed shell).
    """

    pid: int
    argv: tuple[str, ...]
    start: float
    end: float | None
    exit_code: int | None

    @property
    def command(self) -> str | None:
        return self.argv[0] if self.argv else None


def _quote(text: str | os.PathLike[str]) -> str:
    """A single-quoted PowerShell string."""
    return "'" + str(text).replace("'", "''") + "'"


class SyncServer:
    """One test sync server on disk; see the module's documentation.

    *engine_config*: the pybridge configuration its engine syncs with (None: the server's engine is not
    configured). *python*: the Python that runs the engine (default: this one). *engine*: an executable that
    replaces the engine script altogether (for tests of slow or broken engines). *pybridge_module*: the folder
    of pybridge's PowerShell module to install (default: the source tree's; False: none). *microsoft_module*:
    install the stand-in of Microsoft's module.
    """

    def __init__(self, root: Path, *, name: str = "AADC01", engine_config: Path | None = None,
                 pwsh: str | None = None, python: str = sys.executable, engine: str | None = None,
                 pybridge_module: Path | None | bool = None, microsoft_module: bool = True,
                 environment: dict[str, str] | None = None) -> None:
        self.root = Path(root).resolve()
        self.name = name
        self.engine_config = engine_config
        self.pwsh = pwsh or find_pwsh()
        self.python = python
        self.extra_environment = dict(environment or {})
        if pybridge_module is None or pybridge_module is True:
            pybridge_module = default_pybridge_module()
        self._prepare(None if pybridge_module is False else pybridge_module, microsoft_module, engine)

    # -- the server's disk ---------------------------------------------------------------------------------------
    @property
    def system_drive(self) -> Path:
        """The folder that is C: on this server."""
        return self.root / "C"

    @property
    def program_data(self) -> Path:
        return self.system_drive / "ProgramData"

    @property
    def reports_dir(self) -> Path:
        """Where Microsoft's cmdlet writes its HTML reports (%ProgramData%\\AADConnect\\ADSyncObjectDiagnostics)."""
        return self.program_data.joinpath(*REPORT_FOLDER)

    @property
    def microsoft_module_file(self) -> Path:
        """MICROSOFT_MODULE_PATH on this server's disk."""
        return self.system_drive.joinpath(*MICROSOFT_MODULE_PATH[3:].split("\\"))

    @property
    def modules_dir(self) -> Path:
        return self.root / "Modules"

    @property
    def home(self) -> Path:
        return self.root / "home"

    @property
    def engine_log(self) -> Path:
        return self.root / "engine-runs.jsonl"

    @property
    def configurations(self) -> dict[str, Path]:
        """Session configuration name (lower case) -> its .pssc file."""
        return {DEFAULT_CONFIGURATION.lower(): self.root / "lab" / "Microsoft.PowerShell.pssc",
                JEA_CONFIGURATION.lower(): self.root / "lab" / "PyBridge.JEA.pssc"}

    def _prepare(self, pybridge_module: Path | None, microsoft_module: bool, engine: str | None) -> None:
        lab = self.root / "lab"
        for folder in (lab, self.reports_dir, self.modules_dir, self.home, self.system_drive / "Windows" / "Temp"):
            folder.mkdir(parents=True, exist_ok=True)
        files = resources.files(__name__).joinpath("files")
        startup = lab / "Enter-SyncServerSession.ps1"
        startup.write_text(files.joinpath("Enter-SyncServerSession.ps1").read_text(encoding="utf-8"),
                           encoding="utf-8")
        if microsoft_module:
            target = self.microsoft_module_file
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(files.joinpath("ADSyncDiagnostics.psm1").read_text(encoding="utf-8"), encoding="utf-8")
        if pybridge_module is not None:
            destination = self.modules_dir / "ADSyncDiagnostics"
            if destination.exists():
                shutil.rmtree(destination)
            shutil.copytree(pybridge_module, destination)
        if engine is None:
            script = lab / "pybridge-engine"
            script.write_text(f"#!{self.python}\n" + files.joinpath("engine.py").read_text(encoding="utf-8"),
                              encoding="utf-8")
            script.chmod(0o755)
            engine = str(script)
        self.engine = engine
        header = ["@{", "SchemaVersion = '2.0.0.0'"]
        default = header + [
            f"GUID = '{uuid.uuid4()}'",
            f"Description = {_quote('The default session configuration of the test sync server ' + self.name)}",
            "SessionType = 'Default'",
            f"ScriptsToProcess = {_quote(startup)}",
            "}", ""]
        jea = header + [
            f"GUID = '{uuid.uuid4()}'",
            f"Description = {_quote('JEA: Single Object Sync only, on the test sync server ' + self.name)}",
            "SessionType = 'RestrictedRemoteServer'",
            "LanguageMode = 'NoLanguage'",
            f"ScriptsToProcess = {_quote(startup)}",
            "VisibleProviders = 'FileSystem'",
            *([f"ModulesToImport = {_quote(self.microsoft_module_file)}"] if microsoft_module else []),
            "VisibleFunctions = 'Invoke-ADSyncSingleObjectSync'",
            "}", ""]
        paths = self.configurations
        paths[DEFAULT_CONFIGURATION.lower()].write_text("\n".join(default), encoding="utf-8")
        paths[JEA_CONFIGURATION.lower()].write_text("\n".join(jea), encoding="utf-8")

    # -- how PowerShell runs there -------------------------------------------------------------------------------
    def environment(self) -> dict[str, str]:
        """The environment of every process the server runs (PowerShell, and through it the engine): this
        process's, with the server's own variables (:meth:`server_variables`) laid over it."""
        env = {k: v for k, v in os.environ.items() if k not in ("PSModulePath", "PYBRIDGE_CONFIG")}
        env.update(self.server_variables())
        return env

    def server_variables(self) -> dict[str, str]:
        """What makes this server this server: its home, module path, ProgramData, engine and configuration
        (what sshd's SetEnv gives the sessions it starts)."""
        env: dict[str, str] = {}
        env.update({
            "HOME": str(self.home),
            "PSModulePath": str(self.modules_dir),
            "ProgramData": str(self.program_data),
            "TEMP": str(self.system_drive / "Windows" / "Temp"),
            "COMPUTERNAME": self.name,
            "PYBRIDGE_PYTHON": self.engine,
            "PYBRIDGE_LAB_SYSTEM_DRIVE": str(self.system_drive),
            "PYBRIDGE_LAB_ENGINE_LOG": str(self.engine_log),
        })
        if self.engine_config is not None:
            env["PYBRIDGE_CONFIG"] = str(self.engine_config)
        env.update(self.extra_environment)
        return env

    def configuration_file(self, configuration: str) -> Path | None:
        return self.configurations.get(configuration.lower())

    def server_command(self, configuration: str = DEFAULT_CONFIGURATION) -> list[str]:
        """pwsh in PowerShell's out-of-process server mode for one runspace pool of *configuration*."""
        pssc = self.configuration_file(configuration)
        if pssc is None:
            raise LabError(f"the test sync server {self.name} has no session configuration {configuration}")
        return [self.pwsh, "-s", "-NoLogo", "-NoProfile", "-ConfigurationFile", str(pssc)]

    def powershell_command(self, arguments: list[str]) -> list[str]:
        """What ``powershell.exe ARGUMENTS`` runs on this server: pwsh with the server's default configuration."""
        return [self.pwsh, "-ConfigurationFile", str(self.configurations[DEFAULT_CONFIGURATION.lower()]),
                *arguments]

    def ssh_subsystem(self) -> str:
        """The command of sshd's ``Subsystem powershell`` line for this server (PowerShell's SSH remoting)."""
        return (f"{self.pwsh} -sshs -NoLogo -NoProfile -ConfigurationFile "
                f"{self.configurations[DEFAULT_CONFIGURATION.lower()]}")

    # -- what happened there -------------------------------------------------------------------------------------
    def engine_runs(self, command: str | None = "sync") -> list[EngineRun]:
        """The engine's runs, oldest first; by default only `pybridge sync` (not the module's version checks)."""
        if not self.engine_log.exists():
            return []
        starts: dict[int, dict] = {}
        ends: dict[int, dict] = {}
        order: list[int] = []
        for line in self.engine_log.read_text(encoding="utf-8").splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if entry.get("event") == "start":
                starts[entry["pid"]] = entry
                order.append(entry["pid"])
            elif entry.get("event") == "end":
                ends[entry["pid"]] = entry
        runs = []
        for pid in order:
            start, end = starts[pid], ends.get(pid)
            run = EngineRun(pid=pid, argv=tuple(start.get("argv") or ()), start=start["time"],
                            end=end["time"] if end else None, exit_code=end.get("code") if end else None)
            if command is None or run.command == command:
                runs.append(run)
        return runs

    def reports(self) -> list[Path]:
        """The HTML reports in Microsoft's report folder, oldest first."""
        return sorted(self.reports_dir.glob("ADSyncSingleObjectSyncResult-*.htm"), key=lambda p: p.stat().st_mtime)


__all__ = ["SyncServer", "EngineRun", "find_pwsh", "default_pybridge_module", "MICROSOFT_MODULE_PATH",
           "DEFAULT_CONFIGURATION", "JEA_CONFIGURATION"]
