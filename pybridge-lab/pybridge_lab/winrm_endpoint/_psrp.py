"""The PowerShell resource: each runspace pool is a real PowerShell, ``pwsh -s``, fed the client's PSRP.

WS-Management carries PSRP fragments in the shell's creationXml, in Command arguments and in Send and
Receive streams; PowerShell's out-of-process server mode (``pwsh -s``, the framing PowerShell's SSH remoting
uses too) carries the same fragments as lines on stdin and stdout:

    <Data Stream='Default' PSGuid='GUID'>base64 fragments</Data>   either way; GUID 0 is the runspace pool
    <Command PSGuid='GUID' />  -> <CommandAck PSGuid='GUID' />       a new pipeline (before its data)
    <Signal PSGuid='GUID' />   -> <SignalAck PSGuid='GUID' />        stop the pipeline
    <Close PSGuid='GUID' />    -> <CloseAck PSGuid='GUID' />         a pipeline (or, GUID 0, the pool) is closed
    <DataAck PSGuid='GUID' />                                          PowerShell has taken the data

This module only moves fragments between the two framings; it reads them (_observe) to log the commands a
client sent and to tell WS-Management when a pipeline is done. Whatever runs, runs in PowerShell.
"""
from __future__ import annotations

import base64
import logging
import os
import re
import signal
import subprocess
import threading
import time
import uuid
from collections import defaultdict, deque
from typing import TYPE_CHECKING

from . import _wsman as W
from ._observe import (CREATE_PIPELINE, PIPELINE_STATE, TERMINAL_STATES, Defragmenter, pipeline_calls,
                       pipeline_state, tamper_report_chunk)

if TYPE_CHECKING:  # pragma: no cover
    from ._server import WinRMEndpoint

log = logging.getLogger("pybridge_lab.winrm_endpoint")

POOL = uuid.UUID(int=0)
ACK_TIMEOUT = 120.0  # seconds PowerShell may take to acknowledge a new pipeline (it may still be starting)
_PACKET = re.compile(r"^<(?P<kind>Data|DataAck|Command|CommandAck|Close|CloseAck|Signal|SignalAck)"
                     r"(?: Stream='(?P<stream>\w+)')? PSGuid='(?P<guid>[0-9A-Fa-f-]{36})'\s*/?>"
                     r"(?:(?P<data>[A-Za-z0-9+/=]*)</Data>)?$")


class PowerShellShell:
    """One runspace pool (a WinRS shell of the PowerShell resource URI), backed by its own ``pwsh -s``."""

    transport = "psrp"

    def __init__(self, shell_id: str, resource_uri: str, owner: str, endpoint: "WinRMEndpoint", configuration: str,
                 creation: bytes) -> None:
        self.shell_id, self.resource_uri, self.owner = shell_id, resource_uri, owner
        self.endpoint = endpoint
        self.configuration = configuration
        self.cond = threading.Condition()
        self.outbox: dict[uuid.UUID | None, list[bytes]] = defaultdict(list)
        self.acks: set[tuple[str, uuid.UUID]] = set()
        self.finished: set[uuid.UUID] = set()
        self.closed = False
        self.exited = False
        self.stderr_tail: deque[str] = deque(maxlen=20)
        self._from_client = Defragmenter()
        self._from_server = Defragmenter()
        self._write_lock = threading.RLock()  # one writer at a time; the client's fragments read in order
        server = endpoint.server
        argv = server.server_command(configuration)
        log.info("shell %s: %s", shell_id, " ".join(argv))
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     env=server.environment(), cwd=str(server.home), start_new_session=True)
        threading.Thread(target=self._read_stdout, daemon=True, name=f"pwsh-out-{shell_id[:8]}").start()
        threading.Thread(target=self._read_stderr, daemon=True, name=f"pwsh-err-{shell_id[:8]}").start()
        self._send_data(POOL, creation)

    # -- to PowerShell ----------------------------------------------------------------------------------------------
    def _write(self, line: str) -> None:
        with self._write_lock:
            try:
                assert self.proc.stdin is not None
                self.proc.stdin.write(line.encode("ascii") + b"\n")
                self.proc.stdin.flush()
            except (BrokenPipeError, OSError, ValueError):
                raise self._gone() from None

    def _send_data(self, guid: uuid.UUID, data: bytes, stream: str = "Default") -> None:
        with self._write_lock:
            for message in self._from_client.feed(data):
                if message.message_type == CREATE_PIPELINE:
                    self.endpoint.record(pipeline_calls(message, "psrp", self.owner))
            self._write(f"<Data Stream='{stream}' PSGuid='{guid}'>{base64.b64encode(data).decode('ascii')}</Data>")

    def _gone(self) -> W.WSManFault:
        tail = " ".join(self.stderr_tail)
        return W.WSManFault(W.SHELL_NOT_FOUND, f"The PowerShell process of shell {self.shell_id} has ended"
                            + (f": {tail[-500:]}" if tail else "."))

    # -- from PowerShell --------------------------------------------------------------------------------------------
    def _read_stdout(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            line = raw.decode("utf-8", "replace").strip()
            if not line:
                continue
            m = _PACKET.match(line)
            if m is None:
                log.warning("shell %s: PowerShell wrote something that is not a packet: %.200s", self.shell_id, line)
                continue
            guid = uuid.UUID(m.group("guid"))
            kind = m.group("kind")
            with self.cond:
                if kind == "Data":
                    self._received(guid, bytearray(base64.b64decode(m.group("data") or "")))
                elif kind.endswith("Ack"):
                    self.acks.add((kind, guid))
                self.cond.notify_all()
        with self.cond:
            self.exited = True
            self.cond.notify_all()
        log.info("shell %s: PowerShell exited with %s", self.shell_id, self.proc.wait())

    def _received(self, guid: uuid.UUID, data: bytearray) -> None:
        """(cond held) One Data packet from PowerShell: into the outbox, and note pipelines that ended."""
        if self.endpoint.take_tamper() and not tamper_report_chunk(data):
            self.endpoint.give_back_tamper()
        key = None if guid == POOL else guid
        self.outbox[key].append(bytes(data))
        for message in self._from_server.feed(bytes(data)):
            if message.message_type == PIPELINE_STATE and message.pipeline_id is not None:
                if pipeline_state(message) in TERMINAL_STATES:
                    self.finished.add(message.pipeline_id)

    def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        for raw in self.proc.stderr:
            text = raw.decode("utf-8", "replace").rstrip()
            if text:
                self.stderr_tail.append(text)
                log.debug("shell %s: pwsh stderr: %s", self.shell_id, text)

    # -- WS-Management operations ----------------------------------------------------------------------------------
    def command(self, command_id: str | None, arguments: list[str]) -> str:
        data = [base64.b64decode(a) for a in arguments]
        pid = uuid.UUID(command_id) if command_id else None
        if pid is None:  # the pipeline's id is in its CREATE_PIPELINE message
            probe = Defragmenter()
            found = [m.pipeline_id for d in data for m in probe.feed(d) if m.message_type == CREATE_PIPELINE]
            pid = found[0] if found and found[0] else uuid.uuid4()
        self._write(f"<Command PSGuid='{pid}' />")
        deadline = time.monotonic() + ACK_TIMEOUT
        with self.cond:
            while ("CommandAck", pid) not in self.acks:
                if self.exited:
                    raise self._gone()
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise W.WSManFault(W.OPERATION_TIMEOUT, "PowerShell did not acknowledge the new pipeline.")
                self.cond.wait(remaining)
        for chunk in data:
            self._send_data(pid, chunk)
        return str(pid).upper()

    def send(self, command_id: str | None, data: bytes, end: bool, stream: str = "stdin") -> None:
        guid = uuid.UUID(command_id) if command_id else POOL
        self._send_data(guid, data, "PromptResponse" if stream == "pr" else "Default")

    def receive(self, command_id: str | None, timeout: float) -> tuple[list[bytes], bool] | None:
        """(payloads, pipeline done) for the pool or a pipeline; None when nothing came within *timeout*."""
        key = uuid.UUID(command_id) if command_id else None
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                data = self.outbox.pop(key, [])
                done = key is not None and (key in self.finished or self.exited)
                if data or done:
                    return data, done
                if self.exited or self.closed:
                    raise self._gone()
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self.cond.wait(remaining)

    def signal(self, command_id: str | None, code: str) -> None:
        if not command_id:
            return
        pid = uuid.UUID(command_id)
        with self.cond:
            finished = pid in self.finished or self.exited
        try:
            if not finished:  # Ctrl+C (pypsrp's stop) or terminate of a running pipeline: PowerShell stops it
                self._write(f"<Signal PSGuid='{pid}' />")
            if code.endswith("/terminate"):
                self._write(f"<Close PSGuid='{pid}' />")
                with self.cond:
                    self.outbox.pop(pid, None)
        except W.WSManFault:
            pass  # PowerShell has gone; nothing runs there any more

    def close(self) -> None:
        with self.cond:
            if self.closed:
                return
            self.closed = True
            self.cond.notify_all()
        try:
            self._write(f"<Close PSGuid='{POOL}' />")
        except W.WSManFault:
            pass
        threading.Thread(target=self._reap, daemon=True, name=f"pwsh-reap-{self.shell_id[:8]}").start()

    def _reap(self, grace: float = 5.0) -> None:
        """Let PowerShell close the pool, then end it and whatever it started (its process group)."""
        deadline = time.monotonic() + grace
        with self.cond:
            while ("CloseAck", POOL) not in self.acks and not self.exited and time.monotonic() < deadline:
                self.cond.wait(max(0.0, deadline - time.monotonic()))
        with self._write_lock:
            try:
                assert self.proc.stdin is not None
                self.proc.stdin.close()  # end of input: PowerShell's server mode exits
            except OSError:
                pass
        try:
            self.proc.wait(timeout=max(0.5, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:  # pragma: no cover
            log.error("shell %s: PowerShell (pid %s) did not end", self.shell_id, self.proc.pid)
