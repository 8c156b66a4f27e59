"""The cmd resource: a WinRS shell whose only allowed command is powershell.exe with pybridge's payloads.

The command line must be ``powershell.exe [-NoLogo] [-NoProfile] [-NonInteractive]
-EncodedCommand X`` where X decodes to exactly one of pybridge's constant WinRS
scripts; the values come on stdin as base64 JSON and the answer goes to stdout as
the scripts would write it (a ``PYBRIDGE-RESULT:`` line). Anything else is refused.
"""
from __future__ import annotations

import base64
import binascii
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from ._module import CommandError, ModuleEmulator, Refused

_FLAGS = {"-nologo", "-noprofile", "-noninteractive"}


def _known_scripts() -> dict[str, str]:
    from pybridge.remote.winrs import report_script, sync_script
    return {sync_script(): "sync", report_script(): "report"}


@dataclass
class _Command:
    command_id: str
    kind: str
    stdin: bytearray = field(default_factory=bytearray)
    stdout: bytearray = field(default_factory=bytearray)
    stderr: bytearray = field(default_factory=bytearray)
    started: bool = False
    done: bool = False
    cancel: threading.Event = field(default_factory=threading.Event)
    exit_code: int | None = None


def _error(err: CommandError) -> dict[str, Any]:
    return {"Message": err.message, "ErrorId": err.error_id, "Category": err.category}


class CmdShell:
    transport = "winrs"

    def __init__(self, shell_id: str, resource_uri: str, owner: str, module: ModuleEmulator) -> None:
        self.shell_id, self.resource_uri, self.owner, self.module = shell_id, resource_uri, owner, module
        self.cond = threading.Condition()
        self.commands: dict[str, _Command] = {}
        self.closed = False

    def command(self, command_id: str | None, executable: str, arguments: list[str]) -> str:
        tokens = executable.split() + [t for a in arguments for t in a.split()]
        if not tokens:
            raise self.module.refuse("an empty command line")
        exe = tokens[0].strip('"').replace("/", "\\").rsplit("\\", 1)[-1].lower()
        if exe not in ("powershell", "powershell.exe"):
            raise self.module.refuse(f"command line {' '.join(tokens)[:200]!r}")
        encoded = None
        rest = tokens[1:]
        i = 0
        while i < len(rest):
            tok = rest[i].lower()
            if tok in _FLAGS:
                i += 1
            elif tok in ("-encodedcommand", "-enc", "-e", "-ec") and i + 1 < len(rest) and encoded is None:
                encoded = rest[i + 1]
                i += 2
            else:
                raise self.module.refuse(f"powershell.exe argument {rest[i][:80]!r}")
        try:
            script = base64.b64decode(encoded or "", validate=True).decode("utf-16-le") if encoded else None
        except (binascii.Error, UnicodeDecodeError):
            script = None
        kind = _known_scripts().get(script or "")
        if kind is None:
            raise self.module.refuse(f"powershell.exe with a script that is not one of pybridge's payloads: "
                                     f"{(script or '(none)')[:160]!r}")
        cid = (command_id or str(uuid.uuid4())).upper()
        with self.cond:
            self.commands[cid] = _Command(cid, kind)
        return cid

    def send(self, command_id: str | None, data: bytes, end: bool) -> None:
        with self.cond:
            cmd = self.commands.get((command_id or "").upper())
            if cmd is None or cmd.started:
                return
            cmd.stdin += data
            if end:
                cmd.started = True
                threading.Thread(target=self._run, args=(cmd,), daemon=True, name=f"winrs-{cmd.command_id}").start()

    def receive(self, command_id: str | None, timeout: float) -> tuple[list[tuple[str, bytes]], bool, int | None] | None:
        deadline = time.monotonic() + timeout
        with self.cond:
            cmd = self.commands.get((command_id or "").upper())
            if cmd is None:
                return [], True, 0
            while True:
                streams = []
                if cmd.stdout:
                    streams.append(("stdout", bytes(cmd.stdout)))
                    cmd.stdout.clear()
                if cmd.stderr:
                    streams.append(("stderr", bytes(cmd.stderr)))
                    cmd.stderr.clear()
                if streams or cmd.done or self.closed:
                    return streams, cmd.done or self.closed, cmd.exit_code
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self.cond.wait(remaining)

    def signal(self, command_id: str | None, code: str) -> None:
        with self.cond:
            cmd = self.commands.get((command_id or "").upper())
            if cmd is not None and (code.endswith("/terminate") or code.endswith("/ctrl_c")):
                cmd.cancel.set()  # a running sync is stopped, as closing the console stops powershell.exe
                if cmd.done or not cmd.started:
                    del self.commands[cmd.command_id]

    def close(self) -> None:
        with self.cond:
            self.closed = True
            for cmd in self.commands.values():
                cmd.cancel.set()
            self.cond.notify_all()

    def _run(self, cmd: _Command) -> None:
        envelope: dict[str, Any] = {"Stage": "Input", "Output": [], "Errors": [], "Warnings": []}
        try:
            try:
                values = json.loads(base64.b64decode(bytes(cmd.stdin).strip()).decode("utf-8"))
            except (ValueError, UnicodeDecodeError) as exc:
                raise CommandError(f"Invalid input: {exc}", error_id="FormatException", category="InvalidData")
            if not isinstance(values, dict):
                raise CommandError("Invalid input: not an object", error_id="FormatException", category="InvalidData")
            if cmd.kind == "sync":
                self._sync(values, envelope, cmd.cancel)
            else:
                envelope["Stage"] = "ReadReport"
                self.module.record("winrs", self.owner, "Read-PyBridgeReport", values)
                envelope["Output"] = [self.module.read_report(
                    path=values.get("Path"), directory=values.get("Directory"), since=values.get("Since"),
                    offset=int(values.get("Offset", 0)), count=int(values.get("Count", 262144)))]
            envelope["Stage"] = "Done"
        except CommandError as exc:
            envelope["Errors"].append(_error(exc))
        except Refused as exc:
            envelope["Errors"].append({"Message": str(exc), "ErrorId": "CommandNotAllowed,pybridge.TestEndpoint",
                                       "Category": "PermissionDenied"})
        except Exception as exc:  # noqa: BLE001
            envelope["Errors"].append({"Message": f"test endpoint failure: {type(exc).__name__}: {exc}",
                                       "ErrorId": "EndpointFailure", "Category": "NotSpecified"})
        line = "PYBRIDGE-RESULT:" + base64.b64encode(json.dumps(envelope, ensure_ascii=False).encode("utf-8")).decode()
        with self.cond:
            cmd.stdout += (line + "\r\n").encode("ascii")
            cmd.exit_code = 0
            cmd.done = True
            self.cond.notify_all()

    def _sync(self, values: dict[str, Any], envelope: dict[str, Any], cancel: threading.Event) -> None:
        allowed = {"ModulePath", "DistinguishedName", "StagingMode", "NoHtmlReport"}
        if set(values) - allowed:
            raise self.module.refuse(f"sync input with keys {sorted(values)}")
        envelope["Stage"] = "ImportModule"
        self.module.record("winrs", self.owner, "Import-Module", {"Name": values.get("ModulePath")})
        self.module.import_module(str(values.get("ModulePath") or ""))
        envelope["Stage"] = "Invoke"
        params = {"DistinguishedName": values.get("DistinguishedName")}
        if values.get("StagingMode"):
            params["StagingMode"] = True
        if values.get("NoHtmlReport"):
            params["NoHtmlReport"] = True
        self.module.record("winrs", self.owner, "Invoke-ADSyncSingleObjectSync", params)
        dn = values.get("DistinguishedName")
        if not isinstance(dn, str) or not dn:
            raise CommandError("Cannot validate argument on parameter 'DistinguishedName'.",
                               error_id="ParameterArgumentValidationError", category="InvalidData")
        result = self.module.invoke_sync(dn, bool(values.get("StagingMode")), bool(values.get("NoHtmlReport")),
                                         cancel)
        envelope["Output"] = list(result.output)
        envelope["Warnings"] = list(result.warnings)
        envelope["Errors"] = [_error(e) for e in result.errors]
