"""The module's known commands, emulated by calling the local pybridge engine.

A sync server runs ``Import-Module <path>`` and ``Invoke-ADSyncSingleObjectSync``;
here the cmdlet becomes ``python -m pybridge sync`` (the DN as one argv element,
never through a shell), its stdout the cmdlet's JSON string and its
``pybridge: WARNING:`` / ``pybridge: error:`` lines the warning and error
streams. The report transfer reads files in the endpoint's report directory only.
Every call is logged with the typed parameters it received.
"""
from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import logging
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger("pybridge_lab.winrm_endpoint")

MICROSOFT_MODULE_PATH = r"C:\Program Files\Microsoft Azure AD Sync\Bin\ADSyncDiagnostics\ADSyncDiagnostics.psm1"
REPORT_PATTERN = "ADSyncSingleObjectSyncResult-*.htm"


class CommandError(Exception):
    """A PowerShell error record the emulated command writes (terminating unless said otherwise)."""

    def __init__(self, message: str, *, error_id: str, category: str, terminating: bool = True) -> None:
        super().__init__(message)
        self.message, self.error_id, self.category, self.terminating = message, error_id, category, terminating


class Refused(Exception):
    """The endpoint refuses to run this: it is a test double that knows a few commands only."""


@dataclass
class Call:
    """One command the endpoint ran, as the module would have received it."""

    transport: str  # psrp | winrs
    user: str
    command: str
    parameters: dict[str, tuple[str, Any]]  # name -> (type received, value)


@dataclass
class Invocation:
    output: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    errors: list[CommandError] = field(default_factory=list)


def type_name(value: Any) -> str:
    """The .NET-ish type a parameter arrived as (psrpcore's PSString -> String, PSBool -> Boolean...)."""
    name = type(value).__name__
    return {"PSString": "String", "str": "String", "PSBool": "Boolean", "bool": "Boolean", "PSInt": "Int32",
            "PSInt64": "Int64", "int": "Int64", "PSSwitchParameter": "SwitchParameter"}.get(name, name)


def plain(value: Any) -> Any:
    """A psrpcore value as a plain Python value (for the call log and for use)."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, str):
        return str(value)
    if isinstance(value, int):
        return int(value)
    if hasattr(value, "IsPresent"):
        return bool(value.IsPresent)
    return value


class ModuleEmulator:
    """Import-Module, Invoke-ADSyncSingleObjectSync and the report transfer, done by the local engine."""

    def __init__(self, *, engine_config: Path | None, report_dir: Path, module_paths: tuple[str, ...],
                 flavour: str = "pybridge", python: str = sys.executable, engine_timeout: float = 300.0,
                 engine_env: dict[str, str] | None = None) -> None:
        if flavour not in ("pybridge", "microsoft"):
            raise ValueError("flavour must be pybridge or microsoft")
        self.engine_config, self.report_dir = engine_config, report_dir
        self.module_paths = tuple(module_paths)
        self.flavour, self.python, self.engine_timeout = flavour, python, engine_timeout
        self.engine_env = engine_env
        self.calls: list[Call] = []
        self.refused: list[str] = []
        self.corrupt_next_reports = 0
        #: (start, end) of each engine run, time.monotonic(): shows whether servers ran at the same time
        self.runs: list[tuple[float, float]] = []
        self._lock = threading.Lock()
        self._procs: set[subprocess.Popen[str]] = set()

    def record(self, transport: str, user: str, command: str, params: dict[str, Any]) -> None:
        call = Call(transport, user, command, {k: (type_name(v), plain(v)) for k, v in params.items()})
        with self._lock:
            self.calls.append(call)
        log.info("%s %s by %s: %s", transport, command, user,
                 ", ".join(f"-{k} [{t}] {v!r}" for k, (t, v) in call.parameters.items()))

    def refuse(self, what: str) -> Refused:
        message = f"pybridge WinRM test endpoint: REFUSED: {what} (it runs only Import-Module of the sync module, " \
                  "Invoke-ADSyncSingleObjectSync and pybridge's report transfer)"
        with self._lock:
            self.refused.append(what)
        log.error(message)
        return Refused(message)

    # -- Import-Module ------------------------------------------------------------------------------------------
    def import_module(self, name: str) -> None:
        wanted = name.strip().lower()
        if not any(wanted == p.lower() for p in self.module_paths):
            raise CommandError(f"The specified module '{name}' was not loaded because no valid module file was found "
                               "in any module directory.",
                               error_id="Modules_ModuleNotFound,Microsoft.PowerShell.Commands.ImportModuleCommand",
                               category="ResourceUnavailable")

    # -- Invoke-ADSyncSingleObjectSync --------------------------------------------------------------------------
    def invoke_sync(self, distinguished_name: str, staging_mode: bool, no_html_report: bool,
                    cancel: threading.Event | None = None) -> Invocation:
        if self.engine_config is None:
            raise CommandError("The sync engine of this server is not configured (no engine configuration).",
                               error_id="EngineNotConfigured,Invoke-ADSyncSingleObjectSync",
                               category="NotInstalled")
        self.report_dir.mkdir(parents=True, exist_ok=True)
        argv = [self.python, "-m", "pybridge", "sync", "--config", str(self.engine_config),
                f"--distinguished-name={distinguished_name}", "--progress", "none",
                "--report-dir", str(self.report_dir)]
        if staging_mode:
            argv.append("--staging-mode")
        if no_html_report:
            argv.append("--no-html-report")
        env = dict(self.engine_env if self.engine_env is not None else os.environ)
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, encoding="utf-8",
                                env=env, stdin=subprocess.DEVNULL)
        with self._lock:
            self._procs.add(proc)
        began = time.monotonic()
        try:
            while True:
                try:
                    stdout, stderr = proc.communicate(timeout=0.2)
                    break
                except subprocess.TimeoutExpired:
                    stopped = cancel is not None and cancel.is_set()
                    if not stopped and time.monotonic() - began < self.engine_timeout:
                        continue
                    proc.kill()
                    proc.communicate()
                    if stopped:
                        raise CommandError("The pipeline has been stopped.", error_id="PipelineStopped",
                                           category="OperationStopped") from None
                    raise CommandError(f"The sync did not finish within {self.engine_timeout:g} s.",
                                       error_id="Timeout,Invoke-ADSyncSingleObjectSync",
                                       category="OperationTimeout") from None
        finally:
            with self._lock:
                self._procs.discard(proc)
                self.runs.append((began, time.monotonic()))
        if cancel is not None and cancel.is_set():
            raise CommandError("The pipeline has been stopped.", error_id="PipelineStopped",
                               category="OperationStopped")
        result = Invocation()
        for line in stderr.splitlines():
            if line.startswith("pybridge: WARNING: "):
                result.warnings.append(line[len("pybridge: WARNING: "):])
            elif line.startswith(("pybridge: error: ", "pybridge: configuration error: ")):
                text = line.split(": ", 2)[2]
                result.errors.append(CommandError(text, error_id="PyBridgeError,Invoke-ADSyncSingleObjectSync",
                                                  category="NotSpecified", terminating=False))
        json_lines = [line for line in stdout.splitlines() if line.strip().startswith("{")]
        if not json_lines:
            detail = "; ".join(e.message for e in result.errors) or stderr.strip()[-500:] or "no output"
            raise CommandError(f"Single Object Sync failed (exit code {proc.returncode}): {detail}",
                               error_id="SyncFailed,Invoke-ADSyncSingleObjectSync", category="InvalidResult")
        text = json_lines[-1].strip()
        if self.flavour == "microsoft":
            text = self._as_microsoft(text)
        result.output.append(text)
        return result

    def _as_microsoft(self, text: str) -> str:
        """Microsoft's cmdlet says nothing about the report: drop pybridge's additions from the JSON."""
        doc = json.loads(text)
        doc.pop("ReportPath", None)
        doc.pop("ComputerName", None)
        return json.dumps(doc, ensure_ascii=False, separators=(",", ":"))

    def stop_all(self) -> None:
        with self._lock:
            procs = list(self._procs)
        for p in procs:
            p.kill()

    # -- the report transfer (Read-PyBridgeReport.ps1) ------------------------------------------------------------
    def read_report(self, *, path: str | None, directory: str | None, since: str | None, offset: int,
                    count: int) -> str:
        base = self.report_dir.resolve()
        if not path:
            folder = Path(directory).resolve() if directory else base
            if folder != base:
                raise self.refuse(f"report search outside the report directory: {directory}")
            after = _parse_since(since)
            candidates = [p for p in base.glob(REPORT_PATTERN)
                          if dt.datetime.fromtimestamp(p.stat().st_mtime, dt.timezone.utc) >= after]
            if not candidates:
                raise CommandError(f"No report was written in {folder} since {since}",
                                   error_id="ReportNotFound", category="ObjectNotFound")
            target = max(candidates, key=lambda p: p.stat().st_mtime)
        else:
            target = Path(path).resolve()
            if base not in target.parents:
                raise self.refuse(f"report read outside the report directory: {path}")
            if not target.is_file():
                raise CommandError(f"Cannot find path '{path}' because it does not exist.",
                                   error_id="PathNotFound,Microsoft.PowerShell.Commands.GetItemCommand",
                                   category="ObjectNotFound")
        data = target.read_bytes()
        chunk = data[offset:offset + max(0, count)]
        with self._lock:
            corrupt = self.corrupt_next_reports > 0
            if corrupt:
                self.corrupt_next_reports -= 1
        if corrupt and chunk:
            chunk = bytes([chunk[0] ^ 0xFF]) + chunk[1:]
        return json.dumps({"Path": str(target), "Length": len(data), "Sha256": hashlib.sha256(data).hexdigest().upper(),
                           "Offset": offset, "Data": base64.b64encode(chunk).decode("ascii")},
                          separators=(",", ":"))


def _parse_since(since: str | None) -> dt.datetime:
    if not since:
        return dt.datetime.min.replace(tzinfo=dt.timezone.utc)
    text = since.strip().replace("Z", "+00:00")
    for parse in (dt.datetime.fromisoformat, lambda s: dt.datetime.strptime(s, "%m/%d/%Y %H:%M:%S")):
        try:
            value = parse(text)
        except ValueError:
            continue
        value = value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
        # file times have a coarser clock than the cmdlet's StartTime; allow a second of slack
        return value - dt.timedelta(seconds=1)
    return dt.datetime.min.replace(tzinfo=dt.timezone.utc)
