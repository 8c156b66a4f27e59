"""The cmd resource: a WinRS shell whose commands are real processes of the test sync server.

``powershell``/``powershell.exe`` (and ``pwsh``) is the server's PowerShell: the portable pwsh with the server's
default session configuration, standing in for Windows PowerShell. Any other command is looked up on the
server's PATH and run; one that does not exist gets cmd.exe's answer (exit code 9009). stdin comes from Send,
stdout and stderr go to Receive, the exit code ends the command; a terminate or Ctrl+C signal ends the process
and everything it started.
"""
from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from . import _wsman as W
from ._observe import Call, tamper_report_chunk

if TYPE_CHECKING:  # pragma: no cover
    from ._server import WinRMEndpoint

log = logging.getLogger("pybridge_lab.winrm_endpoint")

POWERSHELL_NAMES = {"powershell", "powershell.exe", "pwsh", "pwsh.exe"}
NOT_RECOGNIZED_EXIT_CODE = 9009  # cmd.exe's exit code for a command it cannot find
RESULT_MARKER = b"PYBRIDGE-RESULT:"


@dataclass
class _Command:
    command_id: str
    call: Call
    proc: subprocess.Popen[bytes] | None = None
    stdout: bytearray = field(default_factory=bytearray)
    stderr: bytearray = field(default_factory=bytearray)
    stdin: bytearray = field(default_factory=bytearray)
    readers: int = 0
    exit_code: int | None = None

    @property
    def done(self) -> bool:
        return self.exit_code is not None and self.readers == 0


def split_command_line(text: str) -> list[str]:
    """Arguments of a Windows command line, split as the C runtime does (CommandLineToArgvW's rules).

    WinRS sends a command's arguments as one line (pywinrm joins them with blanks); a program on
    Windows splits it itself: blanks separate, double quotes group, backslashes are literal unless
    they precede a double quote (2n backslashes + quote: n backslashes and a quote that groups;
    2n+1: n backslashes and a literal quote).
    """
    args: list[str] = []
    current: list[str] = []
    in_quotes = False
    have = False
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "\\":
            j = i
            while j < n and text[j] == "\\":
                j += 1
            count = j - i
            if j < n and text[j] == '"':
                current.append("\\" * (count // 2))
                if count % 2:
                    current.append('"')
                    i = j + 1
                else:
                    i = j
                have = True
                continue
            current.append("\\" * count)
            i, have = j, True
            continue
        if c == '"':
            if in_quotes and i + 1 < n and text[i + 1] == '"':
                current.append('"')
                i += 2
                continue
            in_quotes = not in_quotes
            have = True
            i += 1
            continue
        if c in " \t" and not in_quotes:
            if have:
                args.append("".join(current))
                current, have = [], False
            i += 1
            continue
        current.append(c)
        have = True
        i += 1
    if have:
        args.append("".join(current))
    return args


class CmdShell:
    transport = "winrs"

    def __init__(self, shell_id: str, resource_uri: str, owner: str, endpoint: "WinRMEndpoint") -> None:
        self.shell_id, self.resource_uri, self.owner = shell_id, resource_uri, owner
        self.endpoint = endpoint
        self.cond = threading.Condition()
        self.commands: dict[str, _Command] = {}
        self.closed = False

    def _argv(self, executable: str, arguments: list[str]) -> list[str] | None:
        """The process to start for a WinRS command line, or None when the server has no such command."""
        name = executable.strip().strip('"')
        base = name.replace("\\", "/").rsplit("/", 1)[-1].lower()
        if base in POWERSHELL_NAMES:
            return self.endpoint.server.powershell_command(arguments)
        path = self.endpoint.server.environment().get("PATH")
        found = shutil.which(name, path=path) or (shutil.which(base[:-4], path=path) if base.endswith(".exe")
                                                  else None)
        return [found, *arguments] if found else None

    def command(self, command_id: str | None, executable: str, arguments: list[str]) -> str:
        cid = (command_id or str(uuid.uuid4())).upper()
        arguments = [a for line in arguments for a in split_command_line(line)]
        call = Call("winrs", self.owner, executable, {"Arguments": ("String[]", list(arguments))})
        self.endpoint.record([call])
        cmd = _Command(cid, call)
        argv = self._argv(executable, arguments)
        if argv is None:
            cmd.stderr += (f"'{executable}' is not recognized as an internal or external command,\r\n"
                           "operable program or batch file.\r\n").encode()
            cmd.exit_code = NOT_RECOGNIZED_EXIT_CODE
        else:
            server = self.endpoint.server
            log.info("shell %s: %s", self.shell_id, " ".join(argv)[:300])
            cmd.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        env=server.environment(), cwd=str(server.home), start_new_session=True)
            cmd.readers = 2
            for name, pipe in (("stdout", cmd.proc.stdout), ("stderr", cmd.proc.stderr)):
                threading.Thread(target=self._read, args=(cmd, name, pipe), daemon=True,
                                 name=f"winrs-{name}-{cid[:8]}").start()
            threading.Thread(target=self._wait, args=(cmd,), daemon=True, name=f"winrs-wait-{cid[:8]}").start()
        with self.cond:
            self.commands[cid] = cmd
        return cid

    def _read(self, cmd: _Command, name: str, pipe: Any) -> None:
        for chunk in iter(lambda: pipe.read1(65536), b""):
            with self.cond:
                getattr(cmd, name).extend(chunk)
                self.cond.notify_all()
        with self.cond:
            cmd.readers -= 1
            self.cond.notify_all()

    def _tamper(self, chunk: bytes) -> bytes:
        """Change one byte of a report chunk inside the PYBRIDGE-RESULT line (base64 JSON of base64 data)."""
        import base64

        head, _, rest = chunk.partition(RESULT_MARKER)
        encoded, newline, tail = rest.partition(b"\r\n") if b"\r\n" in rest else rest.partition(b"\n")
        try:
            envelope = bytearray(base64.b64decode(encoded))
        except ValueError:
            self.endpoint.give_back_tamper()
            return chunk
        # the envelope holds the report chunk as a JSON string inside JSON: its quotes are escaped there
        marker = b'\\"Data\\":\\"'
        at = envelope.find(marker)
        if at < 0 or not chr(envelope[at + len(marker)]).isalnum():
            inner = tamper_report_chunk(envelope)
            if not inner:
                self.endpoint.give_back_tamper()
                return chunk
        else:
            i = at + len(marker)
            envelope[i] = ord("B") if envelope[i] != ord("B") else ord("C")
        return head + RESULT_MARKER + base64.b64encode(bytes(envelope)) + newline + tail

    def _wait(self, cmd: _Command) -> None:
        assert cmd.proc is not None
        code = cmd.proc.wait()
        with self.cond:
            cmd.exit_code = code
            self.cond.notify_all()

    def send(self, command_id: str | None, data: bytes, end: bool, stream: str = "stdin") -> None:
        with self.cond:
            cmd = self.commands.get((command_id or "").upper())
        if cmd is None or cmd.proc is None or cmd.proc.stdin is None:
            return
        cmd.stdin += data
        try:
            if data:
                cmd.proc.stdin.write(data)
                cmd.proc.stdin.flush()
            if end:
                cmd.proc.stdin.close()
                cmd.call.parameters["Input"] = ("String", bytes(cmd.stdin).decode("utf-8", "replace"))
        except (BrokenPipeError, OSError, ValueError):
            pass  # the process has ended; its exit code says how

    def receive(self, command_id: str | None, timeout: float) -> tuple[list[tuple[str, bytes]], bool, int | None] | None:
        deadline = time.monotonic() + timeout
        with self.cond:
            cmd = self.commands.get((command_id or "").upper())
            if cmd is None:
                raise W.WSManFault(W.INVALID, f"The command {command_id} is not known in this shell.")
            while True:
                streams = []
                hold = self.endpoint.tamper_pending()  # a report chunk to change: stdout goes out whole, at the end
                for name in ("stdout", "stderr"):
                    buffer = getattr(cmd, name)
                    if name == "stdout" and hold:
                        if not cmd.done:
                            continue
                        if RESULT_MARKER in buffer and self.endpoint.take_tamper():
                            buffer[:] = self._tamper(bytes(buffer))
                    if buffer:
                        streams.append((name, bytes(buffer)))
                        buffer.clear()
                if streams or cmd.done or self.closed:
                    return streams, cmd.done or self.closed, cmd.exit_code
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self.cond.wait(remaining)

    def signal(self, command_id: str | None, code: str) -> None:
        with self.cond:
            cmd = self.commands.get((command_id or "").upper())
        if cmd is None:
            return
        if code.endswith(("/terminate", "/ctrl_c", "/ctrl_break")):
            self._kill(cmd)
            if code.endswith("/terminate"):
                with self.cond:
                    self.commands.pop(cmd.command_id, None)

    @staticmethod
    def _kill(cmd: _Command) -> None:
        """End the process and everything it started (its process group), as closing a console does."""
        if cmd.proc is not None and cmd.proc.poll() is None:
            try:
                os.killpg(cmd.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass

    def close(self) -> None:
        with self.cond:
            self.closed = True
            commands = list(self.commands.values())
            self.cond.notify_all()
        for cmd in commands:
            self._kill(cmd)
