"""WinRS transport (pywinrm): a cmd shell on the sync server running powershell.exe.

For endpoints where only WinRS is allowed. WinRS can only start a command line,
so the PowerShell sent is constant (scripts/WinRS-*.ps1 as ``-EncodedCommand``) and
every value travels on stdin as one line of base64 JSON that the constant script
decodes and binds as parameters; nothing the user gives is ever part of the code.
The answer comes back as one ``PYBRIDGE-RESULT:`` line of base64 JSON on stdout.
"""
from __future__ import annotations

import base64
import json
import re
import time
from typing import Any

from .common import (OPERATION_TIMEOUT_FAULT_CODE, RemoteAuthenticationFailed, RemoteError, RemoteProtocolError,
                     RemoteRecord, RemoteThrottled, RemoteTimeout, RemoteWinRMError, Streams, SyncRequest, compact,
                     from_requests_error, from_wsman_fault, load_script)
from .settings import ServerSettings, verify_argument

RESULT_MARKER = "PYBRIDGE-RESULT:"
POWERSHELL = "powershell.exe"
WSMAN_POLL = 20


def sync_script() -> str:
    """The constant script of the sync command (common part + sync part)."""
    return compact(load_script("WinRS-Common.ps1")) + "\n" + compact(load_script("WinRS-Sync.ps1"))


def report_script() -> str:
    """The constant script of the report transfer (common part + Read-PyBridgeReport + report part)."""
    return (compact(load_script("WinRS-Common.ps1")) + "\nfunction Read-PyBridgeReport {\n"
            + compact(load_script("Read-PyBridgeReport.ps1")) + "\n}\n" + compact(load_script("WinRS-ReadReport.ps1")))


def encode_command(script: str) -> str:
    """PowerShell's -EncodedCommand form: base64 of UTF-16LE."""
    return base64.b64encode(script.encode("utf-16-le")).decode("ascii")


def command_line(script: str) -> list[str]:
    """Arguments of powershell.exe for *script* (cmd.exe limits the whole line to 8191 characters)."""
    return ["-NoLogo", "-NoProfile", "-NonInteractive", "-EncodedCommand", encode_command(script)]


def encode_input(values: dict[str, Any]) -> bytes:
    """The stdin line: base64 of the UTF-8 JSON of *values* (only base64 characters cross the wire)."""
    return base64.b64encode(json.dumps(values, ensure_ascii=False).encode("utf-8")) + b"\r\n"


def decode_result(stdout: bytes) -> dict[str, Any] | None:
    """The envelope from the ``PYBRIDGE-RESULT:`` line of stdout, or None if there is none."""
    for line in reversed(stdout.decode("utf-8", "replace").splitlines()):
        line = line.strip()
        if line.startswith(RESULT_MARKER):
            try:
                doc = json.loads(base64.b64decode(line[len(RESULT_MARKER):]).decode("utf-8"))
            except (ValueError, UnicodeDecodeError):
                return None
            return doc if isinstance(doc, dict) else None
    return None


_CLIXML_TEXT = re.compile(r'<S S="Error">(.*?)</S>', re.S)


def readable_stderr(stderr: bytes) -> str:
    """stderr as text; PowerShell's '#< CLIXML' error blobs reduced to their messages."""
    text = stderr.decode("utf-8", "replace").strip()
    if text.startswith("#< CLIXML"):
        parts = [re.sub(r"_x000D__x000A_", "\n", p) for p in _CLIXML_TEXT.findall(text)]
        text = "".join(parts).strip()
    return text


def streams_from_envelope(envelope: dict[str, Any]) -> Streams:
    stage = str(envelope.get("Stage") or "Input")
    errors = []
    for e in envelope.get("Errors") or []:
        if isinstance(e, dict):
            errors.append(RemoteRecord(message=str(e.get("Message") or ""), error_id=e.get("ErrorId") or None,
                                       category=e.get("Category") or None))
        else:
            errors.append(RemoteRecord(message=str(e)))
    output = envelope.get("Output") or []
    if not isinstance(output, list):
        output = [output]
    return Streams(stage=stage if stage != "Done" else "Done", output=[str(o) for o in output], errors=errors,
                   warnings=[str(w) for w in envelope.get("Warnings") or []], failed=stage != "Done")


class WinRSSession:
    """One WinRS shell on one server; each call is one powershell.exe command in it."""

    def __init__(self, server: ServerSettings, password: str | None) -> None:
        self.server = server
        self._password = password
        self._protocol: Any = None
        self._shell_id: str | None = None

    def _classify(self, exc: BaseException, stage: str) -> RemoteError:
        from winrm.exceptions import (InvalidCredentialsError, WinRMError, WinRMTransportError,
                                      WSManFaultError)

        name = self.server.name
        if isinstance(exc, RemoteError):
            return exc
        mapped = from_requests_error(exc, computer_name=name, endpoint=self.server.endpoint, stage=stage)
        if mapped is not None:
            return mapped
        if isinstance(exc, InvalidCredentialsError):
            return RemoteAuthenticationFailed(
                f"{name} refused the credentials of {self.server.username or 'the current user'} ({self.server.auth})",
                computer_name=name, stage=stage, detail=str(exc))
        if isinstance(exc, WSManFaultError):
            return from_wsman_fault(exc.wsman_fault_code if exc.wsman_fault_code is not None else exc.code,
                                    exc.reason, computer_name=name, stage=stage)
        if isinstance(exc, WinRMTransportError):
            if exc.code in (429, 503):
                return RemoteThrottled(f"The WinRM service of {name} is busy (HTTP {exc.code})", computer_name=name,
                                       stage=stage)
            return RemoteWinRMError(f"The WinRM service of {name} answered HTTP {exc.code}", computer_name=name,
                                    stage=stage, detail=str(exc.response_text)[:500])
        if isinstance(exc, WinRMError):
            return RemoteWinRMError(f"{name}: {exc}", computer_name=name, stage=stage)
        try:
            from spnego.exceptions import SpnegoError
        except ImportError:  # pragma: no cover
            SpnegoError = ()  # type: ignore[assignment,misc]
        if isinstance(exc, SpnegoError):
            return RemoteAuthenticationFailed(f"Authentication to {name} failed ({self.server.auth}): {exc}",
                                              computer_name=name, stage=stage)
        return RemoteProtocolError(f"Unexpected answer from {name}: {type(exc).__name__}: {exc}",
                                   computer_name=name, stage=stage)

    def open(self) -> None:
        from winrm.protocol import Protocol

        s = self.server
        verify = verify_argument(s)
        poll = int(min(WSMAN_POLL, max(1, s.operation_timeout)))
        kwargs: dict[str, Any] = {}
        if s.auth == "certificate":
            kwargs.update(cert_pem=str(s.certificate_file), cert_key_pem=str(s.certificate_key_file))
        try:
            self._protocol = Protocol(  # s.auth is one of pywinrm's (settings: Negotiate is NTLM over WinRS)
                s.endpoint, transport=s.auth, username=s.username, password=self._password,  # type: ignore[arg-type]
                server_cert_validation="validate" if verify is not False else "ignore",
                # an explicit bundle, so that REQUESTS_CA_BUNDLE does not silently replace it
                ca_trust_path=verify if isinstance(verify, str) else "legacy_requests",
                read_timeout_sec=poll + 10, operation_timeout_sec=poll, message_encryption=s.message_encryption,
                **kwargs)
            # pywinrm has one timeout for connect and read; requests takes a (connect, read) pair
            self._protocol.transport.read_timeout_sec = (s.connect_timeout, poll + 10)
            self._shell_id = self._protocol.open_shell(codepage=65001)
        except Exception as exc:  # noqa: BLE001 - every failure becomes a classified RemoteError
            self.close()
            raise self._classify(exc, "Connect") from None

    def close(self) -> None:
        protocol, shell = self._protocol, self._shell_id
        self._protocol = self._shell_id = None
        if protocol is None:
            return
        try:
            if shell is not None:
                protocol.close_shell(shell)
        except Exception:  # noqa: BLE001 - the server reaps idle shells itself
            pass
        finally:
            protocol.transport.close_session()

    def _call(self, script: str, values: dict[str, Any], stage: str, timeout: float) -> Streams:
        from winrm.exceptions import WinRMOperationTimeoutError, WSManFaultError

        if self._protocol is None or self._shell_id is None:
            raise RemoteProtocolError(f"{self.server.name}: the session is not open", computer_name=self.server.name)
        p, shell = self._protocol, self._shell_id
        deadline = time.monotonic() + timeout
        stdout, stderr = bytearray(), bytearray()
        try:
            command = p.run_command(shell, POWERSHELL, command_line(script))
            try:
                p.send_command_input(shell, command, encode_input(values), end=True)
                rc, done = -1, False
                while not done:
                    if time.monotonic() > deadline:
                        raise RemoteTimeout(f"{self.server.name}: {stage} did not finish within {timeout:g} s",
                                            computer_name=self.server.name, stage=stage)
                    try:
                        out, err, rc, done = p.get_command_output_raw(shell, command)
                    except WinRMOperationTimeoutError:
                        continue
                    except WSManFaultError as exc:
                        if exc.wsman_fault_code == OPERATION_TIMEOUT_FAULT_CODE:
                            continue
                        raise
                    stdout += out
                    stderr += err
            finally:
                try:
                    p.cleanup_command(shell, command)
                except Exception:  # noqa: BLE001
                    pass
        except Exception as exc:  # noqa: BLE001
            raise self._classify(exc, stage) from None
        envelope = decode_result(bytes(stdout))
        if envelope is None:
            detail = readable_stderr(bytes(stderr)) or bytes(stdout).decode("utf-8", "replace").strip()
            raise RemoteProtocolError(f"{self.server.name}: powershell.exe returned no result (exit code {rc})"
                                      + (f": {detail[:500]}" if detail else ""), computer_name=self.server.name,
                                      stage=stage)
        return streams_from_envelope(envelope)

    def sync(self, request: SyncRequest) -> Streams:
        return self._call(sync_script(), {"ModulePath": self.server.module_path,
                                          "DistinguishedName": request.distinguished_name,
                                          "StagingMode": request.staging_mode,
                                          "NoHtmlReport": request.no_html_report},
                          "Invoke", self.server.operation_timeout)

    def read_report(self, *, path: str | None, directory: str | None, since: str | None, offset: int,
                    count: int) -> Streams:
        values: dict[str, Any] = {"Offset": offset, "Count": count}
        for key, value in (("Path", path), ("Directory", directory), ("Since", since)):
            if value:
                values[key] = value
        return self._call(report_script(), values, "ReadReport", min(self.server.operation_timeout, 120))


__all__ = ["WinRSSession", "sync_script", "report_script", "command_line", "encode_input", "decode_result"]
