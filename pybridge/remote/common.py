"""What the remote path's modules share: its errors (each with its own ErrorCode, listed in
:data:`ERROR_CODES` and docs/remote.md), the request a server runs, the streams and records
that come back, and the PowerShell payloads shipped in pybridge/remote/scripts.

``from pybridge.remote import X`` finds these too (the package loads this module on first use).
"""
from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources
from typing import Any

from msgspec import Struct, field

from ..core.errorcodes import ERROR_CODES as ALL_CODES
from ..core.errorcodes import ErrorCode
from ..errors import PyBridgeError


# The remote path's ErrorCodes live in the one table, pybridge.core.errorcodes; this is their view.
RemoteErrorCode = ErrorCode
ERROR_CODES: dict[str, ErrorCode] = {c: e for c, e in ALL_CODES.items() if c.startswith("Remote")}


class RemoteError(PyBridgeError):
    """A remote run could not produce a result; ``error_code`` says why (see :data:`ERROR_CODES`).

    ``retriable`` marks failures that happen before anything ran on the server, so
    the runner may try again without running the sync twice.
    """

    error_code = "RemoteWinRMError"
    retriable = False

    def __init__(self, message: str, *, computer_name: str | None = None, stage: str | None = None,
                 detail: str | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.computer_name = computer_name
        self.stage = stage
        self.detail = detail
        if not self.recommended_action and self.error_code in ERROR_CODES:
            self.recommended_action = ERROR_CODES[self.error_code].action

    @property
    def category(self) -> str:
        entry = ERROR_CODES.get(self.error_code)
        return entry.category if entry else "nonServiceFailure"


class RemoteUnreachable(RemoteError):
    error_code = "RemoteHostUnreachable"
    retriable = True


class RemoteAuthenticationFailed(RemoteError):
    error_code = "RemoteAuthenticationFailed"


class RemoteAccessDenied(RemoteError):
    error_code = "RemoteAccessDenied"


class RemoteTlsValidationFailed(RemoteError):
    error_code = "RemoteTlsValidationFailed"


class RemoteHostKeyUnknown(RemoteError):
    error_code = "RemoteHostKeyUnknown"


class RemoteHostKeyChanged(RemoteError):
    error_code = "RemoteHostKeyChanged"


class RemoteSubsystemMissing(RemoteError):
    error_code = "RemoteSubsystemMissing"


class RemoteModuleNotFound(RemoteError):
    error_code = "RemoteModuleNotFound"


class RemoteModuleImportFailed(RemoteError):
    error_code = "RemoteModuleImportFailed"


class RemoteCmdletFailed(RemoteError):
    error_code = "RemoteCmdletFailed"


class RemoteThrottled(RemoteError):
    error_code = "RemoteThrottled"
    retriable = True


class RemoteTimeout(RemoteError):
    error_code = "RemoteTimeout"


class RemoteWinRMError(RemoteError):
    error_code = "RemoteWinRMError"


class RemoteProtocolError(RemoteError):
    error_code = "RemoteProtocolError"


@lru_cache(maxsize=None)
def load_script(name: str) -> str:
    """A constant PowerShell payload shipped in pybridge/remote/scripts (package data)."""
    return (resources.files(__package__ or "pybridge.remote") / "scripts" / name).read_text(encoding="utf-8")


def compact(script: str) -> str:
    """The script without comment lines, indentation and blank lines (WinRS command lines are short).

    Only whole-line ``#`` comments are dropped; the payloads use no block comments
    and no here-strings, so nothing else changes meaning.
    """
    lines = (line.strip() for line in script.splitlines())
    return "\n".join(line for line in lines if line and not line.startswith("#"))


class SyncRequest(Struct, frozen=True):
    """What to run on each server: the cmdlet's three parameters, passed as typed values."""

    distinguished_name: str
    staging_mode: bool = False
    no_html_report: bool = False


class RemoteRecord(Struct, frozen=True):
    """One record of the remote error stream."""

    message: str
    error_id: str | None = None
    category: str | None = None


class Streams(Struct):
    """What one remote call produced: output objects, error and warning records.

    ``stage`` is how far the call got (ImportModule, Invoke, ReadReport, Done);
    ``failed`` is true when it ended with a terminating error.
    """

    stage: str
    output: list[object] = field(default_factory=list)
    errors: list[RemoteRecord] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    failed: bool = False


_ERRNO = re.compile(r"\[Errno -?\d+\] [^'\")]+")
_SSL_REASON = re.compile(r"certificate verify failed: [^('\")]+|hostname [^('\")]+ doesn't match [^('\")]+|"
                         r"IP address mismatch[^('\")]*")


def from_requests_error(exc: BaseException, *, computer_name: str, endpoint: str, stage: str) -> RemoteError | None:
    """Classify a requests/urllib3 exception raised by either WinRM client, or None if it is not one."""
    import requests

    if not isinstance(exc, requests.exceptions.RequestException):
        return None
    text = str(exc)
    where = f"{computer_name} ({endpoint})"
    if isinstance(exc, requests.exceptions.SSLError):
        reason = _SSL_REASON.search(text)
        if reason or "CERTIFICATE_VERIFY_FAILED" in text:
            why = reason.group(0).strip() if reason else "certificate verify failed"
            return RemoteTlsValidationFailed(f"The TLS certificate of {where} did not validate: {why}",
                                             computer_name=computer_name, stage=stage, detail=text)
        return RemoteProtocolError(f"The TLS handshake with {where} failed (is the port HTTPS?): "
                                   f"{_short(text)}", computer_name=computer_name, stage=stage, detail=text)
    if isinstance(exc, requests.exceptions.ReadTimeout):
        return RemoteTimeout(f"{where} did not answer in time", computer_name=computer_name, stage=stage,
                             detail=text)
    if isinstance(exc, requests.exceptions.RetryError) and re.search(r"\b(429|503)\b", text):
        return RemoteThrottled(f"The WinRM service of {where} is busy (HTTP 503/429)", computer_name=computer_name,
                               stage=stage, detail=text)
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return RemoteUnreachable(f"{where} cannot be reached: the connection timed out", computer_name=computer_name,
                                 stage=stage, detail=text)
    if isinstance(exc, requests.exceptions.ConnectionError):
        errno = _ERRNO.search(text)
        why = errno.group(0).strip() if errno else _short(text)
        if "NameResolutionError" in text or "Name or service not known" in text or "getaddrinfo" in text:
            why = "the name does not resolve"
        return RemoteUnreachable(f"{where} cannot be reached: {why}", computer_name=computer_name, stage=stage,
                                 detail=text)
    return RemoteProtocolError(f"The request to {where} failed: {_short(text)}", computer_name=computer_name,
                               stage=stage, detail=text)


def _short(text: str, limit: int = 300) -> str:
    text = re.sub(r"<[^>]* object at 0x[0-9a-f]+>:?\s*", "", text)
    return text if len(text) <= limit else text[:limit] + "..."


#: WS-Management fault codes of exceeded quotas (shells per user, operations per user, commands per shell...).
THROTTLE_FAULT_CODES = frozenset({2150859173, 2150859174, 2150859175, 2150859180, 2150859181})
_THROTTLE_TEXT = re.compile(r"maximum number of|quota", re.I)
ACCESS_DENIED_FAULT_CODE = 5
OPERATION_TIMEOUT_FAULT_CODE = 2150858793


def from_wsman_fault(code: object, reason: str | None, *, computer_name: str, stage: str) -> RemoteError:
    """Classify a WS-Management fault: quota -> throttled, access denied, or a plain WinRM error."""
    text = (reason or "").strip() or "(no message)"
    try:
        number = int(str(code))
    except (TypeError, ValueError):
        number = None
    if number in THROTTLE_FAULT_CODES or _THROTTLE_TEXT.search(text):
        return RemoteThrottled(f"{computer_name} is throttling WinRM requests: {text}", computer_name=computer_name,
                               stage=stage, detail=f"WSManFault {code}")
    if number == ACCESS_DENIED_FAULT_CODE:
        return RemoteAccessDenied(f"{computer_name} denied access to the remote shell: {text}",
                                  computer_name=computer_name, stage=stage, detail=f"WSManFault {code}")
    return RemoteWinRMError(f"The WinRM service of {computer_name} answered a fault (code {code}): {text}",
                            computer_name=computer_name, stage=stage, detail=f"WSManFault {code}")


__all__ = ["SyncRequest", "RemoteRecord", "Streams", "from_requests_error", "from_wsman_fault", "load_script", "compact", "ERROR_CODES", "RemoteErrorCode", "RemoteError", "RemoteUnreachable", "RemoteAuthenticationFailed",
           "RemoteAccessDenied", "RemoteTlsValidationFailed", "RemoteHostKeyUnknown", "RemoteHostKeyChanged",
           "RemoteSubsystemMissing", "RemoteModuleNotFound", "RemoteModuleImportFailed",
           "RemoteCmdletFailed", "RemoteThrottled", "RemoteTimeout", "RemoteWinRMError", "RemoteProtocolError"]
