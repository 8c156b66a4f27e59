"""PSRP transport (pypsrp): a runspace pool on the sync server, commands with typed parameters.

What runs there is pipelines.py's (the same over SSH). The DN and the switches travel
as CLIXML-typed parameters of ``add_cmdlet`` / ``add_parameter`` (and the report
transfer as a constant script with bound parameters), so no value is ever parsed as
PowerShell code. ``Client.execute_ps`` is not used: it wraps a script string in
Invoke-Expression.
"""
from __future__ import annotations

import time
from typing import Any, Sequence

from .common import (OPERATION_TIMEOUT_FAULT_CODE, RemoteAuthenticationFailed, RemoteError, RemoteProtocolError,
                     RemoteRecord, RemoteThrottled, RemoteTimeout, RemoteUnreachable, RemoteWinRMError, Streams,
                     from_requests_error, from_wsman_fault)
from .pipelines import Command, PipelineSession
from .settings import ServerSettings, verify_argument

#: Seconds one WS-Management Receive may wait on the server before answering "no data yet".
WSMAN_POLL = 20


def _record_message(record: Any) -> str:
    """The text an admin would see for a pypsrp ErrorRecord."""
    for attr in ("details_message",):
        value = getattr(record, attr, None)
        if value:
            return str(value)
    exc = getattr(record, "exception", None)
    if exc is not None:
        for props in (getattr(exc, "adapted_properties", None), getattr(exc, "extended_properties", None)):
            if isinstance(props, dict) and props.get("Message"):
                return str(props["Message"])
        text = str(exc)
        if text and "object at 0x" not in text:
            return text
    return str(getattr(record, "message", None) or record)


def _plain_output(item: Any) -> Any:
    """A string that PowerShell sent with note properties on it (pybridge's module adds ReportPath and
    ComputerName to its JSON string) as the string itself: pypsrp leaves such an object undecoded, its
    string value inside (CLIXML ``<Obj><S>...</S><MS>...</MS></Obj>``)."""
    if isinstance(item, str):
        return item
    xml = getattr(item, "_xml", None)
    if not isinstance(xml, str) or not xml.startswith("<Obj"):
        return item
    import xml.etree.ElementTree as ET

    from pypsrp.serializer import Serializer

    try:
        value = ET.fromstring(xml).find("S")
        return Serializer().deserialize(value) if value is not None else item
    except (ET.ParseError, ValueError, TypeError):
        return item


def _record(record: Any) -> RemoteRecord:
    category = getattr(record, "message", None)  # "ObjectNotFound: (x:String) [Import-Module], ..." -> first word
    name = str(category).split(":", 1)[0].strip() if category else None
    return RemoteRecord(message=_record_message(record), error_id=getattr(record, "fq_error", None),
                        category=name or None)


class PSRPSession(PipelineSession):
    """One runspace pool on one server over WinRM; ``sync`` and ``read_report`` (pipelines.py) run in it."""

    def __init__(self, server: ServerSettings, password: str | None) -> None:
        self.server = server
        self._password = password
        self._wsman: Any = None
        self._pool: Any = None

    # -- errors -------------------------------------------------------------------------------------------------
    def _classify(self, exc: BaseException, stage: str) -> RemoteError:
        from pypsrp.exceptions import AuthenticationError, WinRMTransportError, WSManFaultError

        name = self.server.name
        if isinstance(exc, RemoteError):
            return exc
        mapped = from_requests_error(exc, computer_name=name, endpoint=self.server.endpoint, stage=stage)
        if mapped is not None:
            return mapped
        if isinstance(exc, AuthenticationError):
            return RemoteAuthenticationFailed(
                f"{name} refused the credentials of {self.server.username or 'the current user'} "
                f"({self.server.auth})", computer_name=name, stage=stage, detail=str(exc))
        if isinstance(exc, WSManFaultError):
            return from_wsman_fault(exc.code, exc.reason, computer_name=name, stage=stage)
        if isinstance(exc, WinRMTransportError):
            if exc.code in (429, 503):
                return RemoteThrottled(f"The WinRM service of {name} is busy (HTTP {exc.code})", computer_name=name,
                                       stage=stage)
            return RemoteWinRMError(f"The WinRM service of {name} answered HTTP {exc.code}", computer_name=name,
                                    stage=stage, detail=(exc.response_text or "")[:500])
        try:
            from spnego.exceptions import SpnegoError
        except ImportError:  # pragma: no cover - pyspnego comes with pypsrp
            SpnegoError = ()  # type: ignore[assignment,misc]
        if isinstance(exc, SpnegoError):
            return RemoteAuthenticationFailed(f"Authentication to {name} failed ({self.server.auth}): {exc}",
                                              computer_name=name, stage=stage)
        if isinstance(exc, (ConnectionError, TimeoutError)):
            return RemoteUnreachable(f"{name} cannot be reached: {exc}", computer_name=name, stage=stage)
        return RemoteProtocolError(f"Unexpected answer from {name}: {type(exc).__name__}: {exc}",
                                   computer_name=name, stage=stage)

    # -- session ------------------------------------------------------------------------------------------------
    def open(self) -> None:
        from pypsrp.powershell import RunspacePool
        from pypsrp.wsman import WSMan

        s = self.server
        kwargs: dict[str, Any] = {}
        if s.auth == "certificate":
            kwargs.update(certificate_pem=str(s.certificate_file), certificate_key_pem=str(s.certificate_key_file))
        poll = int(min(WSMAN_POLL, max(1, s.operation_timeout)))
        try:
            # pypsrp annotates cert_validation bool and connection_timeout int, but hands both to requests, which
            # takes a CA bundle's path as verify and a float as a timeout
            self._wsman = WSMan(s.host, port=s.port, ssl=s.use_ssl, path=s.wsman_path, auth=s.auth,
                                username=s.username, password=self._password,
                                cert_validation=verify_argument(s),  # type: ignore[arg-type]
                                connection_timeout=s.connect_timeout,  # type: ignore[arg-type]
                                read_timeout=poll + 10, operation_timeout=poll,
                                encryption=s.message_encryption, reconnection_retries=0, **kwargs)
            self._pool = RunspacePool(self._wsman, configuration_name=s.configuration_name)
            self._pool.open()
        except Exception as exc:  # noqa: BLE001 - every failure becomes a classified RemoteError
            self.close()
            raise self._classify(exc, "Connect") from None

    def close(self) -> None:
        pool, wsman = self._pool, self._wsman
        self._pool = self._wsman = None
        try:
            if pool is not None:
                pool.close()
        except Exception:  # noqa: BLE001 - the server drops the pool on its own after its idle timeout
            pass
        finally:
            if wsman is not None:
                wsman.close()

    def _run(self, ps: Any, stage: str, deadline: float) -> Streams:
        from pypsrp.complex_objects import PSInvocationState
        from pypsrp.exceptions import WSManFaultError

        try:
            ps.begin_invoke()
            while ps.state == PSInvocationState.RUNNING:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    try:
                        ps.stop()
                    except Exception:  # noqa: BLE001
                        pass
                    raise RemoteTimeout(f"{self.server.name}: {stage} did not finish within "
                                        f"{self.server.operation_timeout:g} s", computer_name=self.server.name,
                                        stage=stage)
                try:
                    ps.poll_invoke(timeout=int(max(1, min(WSMAN_POLL, remaining))))
                except WSManFaultError as exc:
                    if exc.code != OPERATION_TIMEOUT_FAULT_CODE:
                        raise
            try:
                ps.close()
            except Exception:  # noqa: BLE001 - the pipeline ended; failing to release it changes nothing
                pass
        except Exception as exc:  # noqa: BLE001
            raise self._classify(exc, stage) from None
        failed = ps.state == PSInvocationState.FAILED
        return Streams(stage=stage if failed else "Done", output=[_plain_output(o) for o in ps.output],
                       errors=[_record(e) for e in ps.streams.error],
                       warnings=[str(getattr(w, "message", w)) for w in ps.streams.warning], failed=failed)

    def _invoke(self, commands: Sequence[Command], stage: str, deadline: float) -> Streams:
        from pypsrp.powershell import PowerShell

        if self._pool is None:
            raise RemoteProtocolError(f"{self.server.name}: the session is not open", computer_name=self.server.name)
        ps = PowerShell(self._pool)
        for command in commands:
            if command.script:
                ps.add_script(command.text)
                if command.parameters:
                    ps.add_parameters(dict(command.parameters))
            else:
                ps.add_cmdlet(command.text)
                for name, value in command.parameters:
                    ps.add_parameter(name, value)
        return self._run(ps, stage, deadline)


__all__ = ["PSRPSession"]
