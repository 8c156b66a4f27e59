"""PSRP in PowerShell's out-of-process framing, the one PowerShell's SSH remoting speaks (``pwsh -sshs``).

Each packet is one line of text on the byte stream (UTF-8, ``\\n``-terminated); GUID 0 is the runspace pool,
any other GUID a pipeline:

    <Data Stream='Default' PSGuid='GUID'>base64 of PSRP fragments</Data>    (Stream 'PromptResponse' for host answers)
    <DataAck PSGuid='GUID' />
    <Command PSGuid='GUID' />      a new pipeline; answered by <CommandAck PSGuid='GUID' />
    <Signal PSGuid='GUID' />       stop the pipeline; answered by <SignalAck PSGuid='GUID' />
    <Close PSGuid='GUID' />        close the pipeline, or (GUID 0) the session; answered by <CloseAck PSGuid='GUID' />

:class:`Channel` moves packets over a pair of byte streams (an ``ssh`` process's stdin and stdout) with a
reader thread; :class:`OutOfProcPool` drives psrpcore's client runspace pool and pipelines over a channel and
turns what comes back into :class:`~pybridge.remote.Streams`. psrpcore does PSRP (fragments, messages, CLIXML);
this module only frames it.
"""
from __future__ import annotations

import base64
import queue
import re
import threading
import time
import uuid
from typing import IO, Any, Callable, Sequence

from msgspec import Struct

from .common import RemoteRecord, Streams

POOL = uuid.UUID(int=0)
#: Largest PSRP fragment sent; PowerShell's own out-of-process client uses 32 KiB.
FRAGMENT_SIZE = 32 * 1024
_PACKET = re.compile(r"^<(?P<kind>Data|DataAck|Command|CommandAck|Close|CloseAck|Signal|SignalAck)"
                     r"(?: Stream='(?P<stream>\w+)')? PSGuid='(?P<guid>[0-9A-Fa-f-]{36})'\s*/?>"
                     r"(?:(?P<data>[A-Za-z0-9+/=]*)</Data>)?\s*$")


class Packet(Struct, frozen=True):
    kind: str
    guid: uuid.UUID
    stream: str | None = None
    data: bytes = b""


def data_packet(guid: uuid.UUID, data: bytes, stream: str = "Default") -> bytes:
    return f"<Data Stream='{stream}' PSGuid='{guid}'>{base64.b64encode(data).decode('ascii')}</Data>\n".encode()


def packet(kind: str, guid: uuid.UUID) -> bytes:
    return f"<{kind} PSGuid='{guid}' />\n".encode()


def parse_packet(line: bytes | str) -> Packet | None:
    """A packet from one line, or None for a line that is not one."""
    text = line.decode("utf-8", "replace") if isinstance(line, bytes) else line
    m = _PACKET.match(text.strip())
    if m is None:
        return None
    raw = m.group("data")
    return Packet(m.group("kind"), uuid.UUID(m.group("guid")), m.group("stream"),
                  base64.b64decode(raw) if raw else b"")


class ChannelClosed(Exception):
    """The other side ended the stream (the connection closed, the process exited)."""


class ChannelTimeout(Exception):
    """Nothing came within the time given."""


class Channel:
    """Packets over a byte-stream pair; a reader thread queues what arrives (lines that are not packets too)."""

    def __init__(self, reader: IO[bytes], writer: IO[bytes], name: str = "psrp") -> None:
        self._writer = writer
        self._lock = threading.Lock()
        self._queue: "queue.Queue[Packet | str | None]" = queue.Queue()
        self.noise: list[str] = []  # lines that were not packets (a login banner, a shell's message)
        self.closed = False
        threading.Thread(target=self._read, args=(reader,), daemon=True, name=f"{name}-reader").start()

    def _read(self, reader: IO[bytes]) -> None:
        try:
            for line in reader:
                found = parse_packet(line)
                if found is not None:
                    self._queue.put(found)
                elif line.strip():
                    self._queue.put(line.decode("utf-8", "replace").strip())
        except (OSError, ValueError):
            pass
        finally:
            self._queue.put(None)

    def send(self, raw: bytes) -> None:
        with self._lock:
            try:
                self._writer.write(raw)
                self._writer.flush()
            except (OSError, ValueError) as exc:
                raise ChannelClosed(str(exc)) from None

    def receive(self, timeout: float) -> Packet:
        """The next packet; ChannelTimeout after *timeout* seconds, ChannelClosed at the end of the stream."""
        deadline = time.monotonic() + timeout
        while True:
            if self.closed:
                raise ChannelClosed("the stream has ended")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ChannelTimeout()
            try:
                item = self._queue.get(timeout=remaining)
            except queue.Empty:
                raise ChannelTimeout() from None
            if item is None:
                self.closed = True
                raise ChannelClosed("the stream has ended")
            if isinstance(item, str):
                self.noise.append(item[:500])
                continue
            return item

    def close(self) -> None:
        with self._lock:
            try:
                self._writer.close()
            except OSError:
                pass


class PoolBroken(Exception):
    """The runspace pool could not be opened or broke; the message is PowerShell's reason."""


class OutOfProcPool:
    """A psrpcore client runspace pool over a :class:`Channel`, and pipelines run one at a time in it."""

    def __init__(self, channel: Channel) -> None:
        from psrpcore import ClientRunspacePool

        self.channel = channel
        self.pool = ClientRunspacePool()

    def _flush(self) -> None:
        from psrpcore import StreamType

        while True:
            payload = self.pool.data_to_send(FRAGMENT_SIZE)
            if payload is None:
                return
            stream = "PromptResponse" if payload.stream_type == StreamType.prompt_response else "Default"
            self.channel.send(data_packet(payload.pipeline_id or POOL, payload.data, stream))

    def _feed(self, data: bytes) -> list[Any]:
        from psrpcore import PSRPPayload, StreamType

        self.pool.receive_data(PSRPPayload(data, StreamType.default, None))
        events: list[Any] = []
        while True:
            event = self.pool.next_event()
            if event is None:
                return events
            events.append(event)

    def open(self, timeout: float) -> None:
        """Open the pool; PoolBroken with PowerShell's reason if it refuses, Channel* if the stream fails."""
        from psrpcore.types import RunspacePoolState

        self.pool.open()
        self._flush()
        deadline = time.monotonic() + timeout
        while self.pool.state not in (RunspacePoolState.Opened, RunspacePoolState.Broken, RunspacePoolState.Closed):
            found = self.channel.receive(deadline - time.monotonic())
            if found.kind == "Data":
                for event in self._feed(found.data):
                    reason = getattr(event, "reason", None)
                    # (_feed changed the state that the loop's condition narrowed: mypy cannot know)
                    if self.pool.state == RunspacePoolState.Broken:  # type: ignore[comparison-overlap]
                        raise PoolBroken(str(reason) if reason else "the runspace pool is broken")
        if self.pool.state != RunspacePoolState.Opened:
            raise PoolBroken(f"the runspace pool is {self.pool.state.name}")

    def _wait_ack(self, kind: str, guid: uuid.UUID, deadline: float, events: list[Any]) -> None:
        while True:
            found = self.channel.receive(max(0.0, deadline - time.monotonic()))
            if found.kind == kind and found.guid == guid:
                return
            if found.kind == "Data":
                events.extend(self._feed(found.data))

    def run(self, build: Callable[[Any], None], deadline: float,
            on_timeout: Callable[[], Exception]) -> Streams:
        """Run one pipeline (*build* adds its commands to a psrpcore ClientPowerShell); collect its streams.

        At *deadline* the pipeline is stopped and ``on_timeout()`` raised.
        """
        from psrpcore import (ClientPowerShell, ErrorRecordEvent, PipelineOutputEvent, PipelineStateEvent,
                              WarningRecordEvent)
        from psrpcore.types import PSInvocationState

        ps = ClientPowerShell(self.pool)
        build(ps)
        ps.start()
        pid = ps.pipeline_id
        pending: list[Any] = []
        self.channel.send(packet("Command", pid))
        try:
            self._wait_ack("CommandAck", pid, deadline, pending)
            self._flush()
            streams = Streams(stage="Done")
            final: Any = None
            while final is None:
                for event in pending:
                    if getattr(event, "pipeline_id", None) != pid:
                        continue
                    if isinstance(event, PipelineOutputEvent):
                        streams.output.append(event.data)
                    elif isinstance(event, ErrorRecordEvent):
                        streams.errors.append(error_record(event.record))
                    elif isinstance(event, WarningRecordEvent):
                        streams.warnings.append(str(getattr(event.record, "Message", event.record)))
                    elif isinstance(event, PipelineStateEvent) and event.state in (
                            PSInvocationState.Completed, PSInvocationState.Failed, PSInvocationState.Stopped):
                        final = event
                pending = []
                if final is not None:
                    break
                found = self.channel.receive(max(0.0, deadline - time.monotonic()))
                if found.kind == "Data":
                    pending = self._feed(found.data)
        except ChannelTimeout:
            self._stop(pid)
            raise on_timeout() from None
        if final.state != PSInvocationState.Completed:
            streams.failed = True
            if final.reason is not None:
                streams.errors.append(error_record(final.reason))
        self._close_pipeline(ps)
        return streams

    def _stop(self, pid: uuid.UUID) -> None:
        """Ask PowerShell to stop a pipeline (a best effort: the caller is giving up on it)."""
        try:
            self.channel.send(packet("Signal", pid))
        except ChannelClosed:
            pass

    def _close_pipeline(self, ps: Any) -> None:
        try:
            ps.close()
        except Exception:  # noqa: BLE001 - psrpcore's bookkeeping only; PowerShell is told below
            pass
        try:
            self.channel.send(packet("Close", ps.pipeline_id))
        except ChannelClosed:
            pass

    def close(self) -> None:
        try:
            self.channel.send(packet("Close", POOL))
        except ChannelClosed:
            pass


def error_record(record: Any) -> RemoteRecord:
    """A psrpcore ErrorRecord as pybridge's RemoteRecord (message, FullyQualifiedErrorId, category name)."""
    message = None
    details = getattr(record, "ErrorDetails", None)
    if details is not None:
        message = getattr(details, "Message", None)
    exception = getattr(record, "Exception", None)
    if not message and exception is not None:
        message = getattr(exception, "Message", None)
    category = None
    info = getattr(record, "CategoryInfo", None)
    if info is not None:
        value = getattr(info, "Category", None)
        category = getattr(value, "name", None) or (str(value) if value is not None else None)
    return RemoteRecord(message=str(message or record), error_id=getattr(record, "FullyQualifiedErrorId", None),
                        category=category)


def build_commands(commands: Sequence[Any]) -> Callable[[Any], None]:
    """A *build* for :meth:`OutOfProcPool.run` from pipelines.Command values."""
    def build(ps: Any) -> None:
        for command in commands:
            if command.script:
                ps.add_script(command.text)
            else:
                ps.add_command(command.text)
            for name, value in command.parameters:
                ps.add_parameter(name, value)
    return build


__all__ = ["Channel", "ChannelClosed", "ChannelTimeout", "OutOfProcPool", "PoolBroken", "Packet", "parse_packet",
           "data_packet", "packet", "error_record", "build_commands"]
