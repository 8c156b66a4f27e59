"""The PowerShell resource: a psrpcore ServerRunspacePool per shell, pipelines run in threads.

Pipelines may hold Import-Module (of a known module path),
Invoke-ADSyncSingleObjectSync (once the module is imported in this runspace) and
pybridge's report script (recognised by its exact constant text). Anything else
is refused with a terminating error and logged.
"""
from __future__ import annotations

import base64
import threading
import time
import uuid
from collections import defaultdict
from typing import Any, Callable

from psrpcore import CreatePipelineEvent, PSRPPayload, ServerPipeline, ServerRunspacePool, StreamType
from psrpcore.types import ErrorCategory, ErrorCategoryInfo, ErrorRecord, NETException, PSInvocationState

from ._module import CommandError, ModuleEmulator, Refused, plain

FRAGMENT_SIZE = 64 * 1024
_TERMINAL = (PSInvocationState.Completed, PSInvocationState.Failed, PSInvocationState.Stopped)


def _known_scripts() -> dict[str, str]:
    from pybridge.remote import load_script
    return {load_script("Read-PyBridgeReport.ps1").strip(): "Read-PyBridgeReport"}


def _category(name: str) -> ErrorCategory:
    return getattr(ErrorCategory, name, ErrorCategory.NotSpecified)


def _error_record(err: CommandError) -> ErrorRecord:
    exc = NETException(Message=err.message)
    return ErrorRecord(Exception=exc, CategoryInfo=ErrorCategoryInfo(Category=_category(err.category),
                                                                     Reason=err.error_id.split(",")[0]),
                       FullyQualifiedErrorId=err.error_id)


class PowerShellShell:
    """One remote runspace pool (WinRS shell of the PowerShell resource URI)."""

    transport = "psrp"

    def __init__(self, shell_id: str, resource_uri: str, owner: str, module: ModuleEmulator, creation: bytes) -> None:
        self.shell_id, self.resource_uri, self.owner, self.module = shell_id, resource_uri, owner, module
        self.pool = ServerRunspacePool()
        self.cond = threading.Condition()
        self.outbox: dict[uuid.UUID | None, list[bytes]] = defaultdict(list)
        self.imported: str | None = None
        self.cancel: dict[uuid.UUID, threading.Event] = {}
        self.closed = False
        with self.cond:
            self._feed(creation)

    # -- PSRP plumbing (call with self.cond held) ------------------------------------------------------------------
    def _drain(self) -> None:
        while True:
            payload = self.pool.data_to_send(FRAGMENT_SIZE)
            if payload is None:
                break
            self.outbox[payload.pipeline_id].append(payload.data)
        self.cond.notify_all()

    def _feed(self, data: bytes) -> None:
        self.pool.receive_data(PSRPPayload(data, StreamType.default, None))
        while True:
            event = self.pool.next_event()
            if event is None:
                break
            if isinstance(event, CreatePipelineEvent):
                pipeline = self.pool.pipeline_table[event.pipeline_id]
                cancel = threading.Event()
                self.cancel[event.pipeline_id] = cancel
                threading.Thread(target=self._execute, args=(pipeline, cancel), daemon=True,
                                 name=f"psrp-{event.pipeline_id}").start()
        self._drain()

    # -- WS-Management operations ----------------------------------------------------------------------------------
    def command(self, command_id: str | None, arguments: list[str]) -> str:
        pid = uuid.UUID(command_id) if command_id else uuid.uuid4()
        with self.cond:
            ServerPipeline(self.pool, pid)
            for arg in arguments:
                self._feed(base64.b64decode(arg))
        return str(pid).upper()

    def send(self, command_id: str | None, data: bytes, end: bool) -> None:
        with self.cond:
            self._feed(data)

    def receive(self, command_id: str | None, timeout: float) -> tuple[list[bytes], bool] | None:
        """(payloads, pipeline done) for the pool or a pipeline; None when nothing came within *timeout*."""
        key = uuid.UUID(command_id) if command_id else None
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                data = self.outbox.pop(key, [])
                pipeline = self.pool.pipeline_table.get(key) if key else None
                done = key is not None and (pipeline is None or pipeline.state in _TERMINAL)
                if data or done or self.closed:
                    return data, done
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self.cond.wait(remaining)

    def signal(self, command_id: str | None, code: str) -> None:
        if not command_id:
            return
        key = uuid.UUID(command_id)
        with self.cond:
            pipeline = self.pool.pipeline_table.get(key)
            if pipeline is None:
                return
            if pipeline.state in (PSInvocationState.Running, PSInvocationState.Stopping):
                self.cancel.get(key, threading.Event()).set()
                pipeline.stop()
                self._drain()
            if code.endswith("/terminate") or pipeline.state in _TERMINAL:
                if pipeline.state in _TERMINAL or pipeline.state == PSInvocationState.NotStarted:
                    pipeline.close()
                self.outbox.pop(key, None)
                self.cancel.pop(key, None)

    def close(self) -> None:
        with self.cond:
            self.closed = True
            for event in self.cancel.values():
                event.set()
            self.cond.notify_all()

    # -- running a pipeline ----------------------------------------------------------------------------------------
    def _locked(self, fn: Callable[[], Any]) -> Any:
        with self.cond:
            if self.closed:
                return None
            value = fn()
            self._drain()
            return value

    def _execute(self, pipeline: ServerPipeline, cancel: threading.Event) -> None:
        self._locked(pipeline.start)
        try:
            metadata = pipeline.metadata
            commands = list(metadata.commands) if metadata is not None else []
            if not commands:
                raise self.module.refuse("an empty pipeline")
            for cmd in commands:
                self._run_command(pipeline, cmd, cancel)
            self._locked(pipeline.complete)
        except Refused as exc:
            self._fail(pipeline, CommandError(str(exc), error_id="CommandNotAllowed,pybridge.TestEndpoint",
                                              category="PermissionDenied"))
        except CommandError as exc:
            self._fail(pipeline, exc)
        except Exception as exc:  # noqa: BLE001 - a test double reports its own bugs as pipeline failures
            self._fail(pipeline, CommandError(f"test endpoint failure: {type(exc).__name__}: {exc}",
                                              error_id="EndpointFailure", category="NotSpecified"))

    def _fail(self, pipeline: ServerPipeline, err: CommandError) -> None:
        def fail() -> None:
            if pipeline.state == PSInvocationState.Running:
                pipeline._change_state(PSInvocationState.Failed, error=_error_record(err))  # noqa: SLF001
        self._locked(fail)

    def _run_command(self, pipeline: ServerPipeline, cmd: Any, cancel: threading.Event) -> None:
        positional = [v for n, v in cmd.parameters if not n]
        params = {str(n): v for n, v in cmd.parameters if n}
        user = self.owner
        if cmd.is_script:
            name = _known_scripts().get(str(cmd.command_text).strip())
            if name is None:
                raise self.module.refuse(f"script {str(cmd.command_text)[:120]!r}")
            self.module.record("psrp", user, name, params)
            if positional:
                raise self.module.refuse(f"positional arguments to {name}")
            text = self.module.read_report(path=plain(params.get("Path")), directory=plain(params.get("Directory")),
                                           since=plain(params.get("Since")), offset=int(plain(params.get("Offset", 0))),
                                           count=int(plain(params.get("Count", 262144))))
            self._locked(lambda: pipeline.write_output(text))
            return
        name = str(cmd.command_text)
        lowered = name.lower()
        if lowered == "import-module":
            self.module.record("psrp", user, "Import-Module", params)
            if positional or set(k.lower() for k in params) - {"name", "erroraction"}:
                raise self.module.refuse(f"Import-Module with parameters {sorted(params)} {positional!r}")
            module = str(plain(params.get("Name", "")))
            try:
                self.module.import_module(module)
            except CommandError as exc:
                if str(plain(params.get("ErrorAction", ""))).lower() == "stop":
                    raise
                err = exc  # without -ErrorAction Stop the error is not terminating

                def write_error() -> None:
                    pipeline.write_error(NETException(Message=err.message),
                                         ErrorCategoryInfo(Category=_category(err.category)),
                                         fully_qualified_error_id=err.error_id)
                self._locked(write_error)
                return
            self.imported = module
            return
        if lowered == "invoke-adsyncsingleobjectsync":
            self.module.record("psrp", user, "Invoke-ADSyncSingleObjectSync", params)
            if self.imported is None:
                raise CommandError(f"The term '{name}' is not recognized as the name of a cmdlet, function, script "
                                   "file, or operable program.",
                                   error_id="CommandNotFoundException", category="ObjectNotFound")
            allowed = {"distinguishedname", "stagingmode", "nohtmlreport"}
            unknown = set(k.lower() for k in params) - allowed
            if positional or unknown or "distinguishedname" not in {k.lower() for k in params}:
                raise self.module.refuse(f"Invoke-ADSyncSingleObjectSync with parameters {sorted(params)} "
                                         f"{positional!r}")
            by_name = {k.lower(): plain(v) for k, v in params.items()}
            dn = by_name["distinguishedname"]
            if not isinstance(dn, str):
                raise CommandError("Cannot bind parameter 'DistinguishedName': not a string.",
                                   error_id="ParameterArgumentTransformationError", category="InvalidArgument")
            result = self.module.invoke_sync(dn, bool(by_name.get("stagingmode")), bool(by_name.get("nohtmlreport")),
                                             cancel)

            def write() -> None:
                for w in result.warnings:
                    pipeline.write_warning(w)
                for e in result.errors:
                    pipeline.write_error(NETException(Message=e.message),
                                         ErrorCategoryInfo(Category=_category(e.category)),
                                         fully_qualified_error_id=e.error_id)
                for o in result.output:
                    pipeline.write_output(o)
            self._locked(write)
            return
        raise self.module.refuse(f"command {name!r}")
