"""Single Object Sync on a remote Windows sync server, from any workstation.

``pybridge sync --computer-name aadc01 --distinguished-name DN`` opens a WinRM
session to the sync server (PSRP through pypsrp by default, a WinRS shell running
PowerShell through pywinrm with ``--transport winrs``) or PowerShell's SSH remoting
(``--transport ssh``: the OpenSSH client, PSRP through psrpcore), imports the module that
holds ``Invoke-ADSyncSingleObjectSync``, runs it with the DN and switches as typed
parameters, and brings back the JSON, the error and warning streams and the HTML
report (copied and verified by SHA-256).

Every way a remote run can fail ends as a :class:`RemoteError` subclass with its
own ErrorCode, listed in :data:`ERROR_CODES` (and docs/remote.md).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .common import (SyncRequest, RemoteRecord, Streams, from_requests_error, from_wsman_fault,
                         load_script, compact, ERROR_CODES, RemoteErrorCode, RemoteError, RemoteUnreachable,
                         RemoteAuthenticationFailed, RemoteAccessDenied, RemoteTlsValidationFailed,
                         RemoteHostKeyUnknown, RemoteHostKeyChanged, RemoteSubsystemMissing,
                         RemoteModuleNotFound, RemoteModuleImportFailed, RemoteCmdletFailed, RemoteThrottled,
                         RemoteTimeout, RemoteWinRMError, RemoteProtocolError, OPERATION_TIMEOUT_FAULT_CODE,
                         ACCESS_DENIED_FAULT_CODE, THROTTLE_FAULT_CODES)

# What the package's modules share (the errors, the request, the payload scripts) is in
# pybridge.remote.common, loaded on first use: `pybridge sync` on this machine imports
# pybridge.remote.options for its parser and pays for none of the rest (docs/performance.md).
_SHARED = frozenset({
    "SyncRequest", "RemoteRecord", "Streams", "from_requests_error", "from_wsman_fault", "load_script",
    "compact", "ERROR_CODES", "RemoteErrorCode", "RemoteError", "RemoteUnreachable",
    "RemoteAuthenticationFailed", "RemoteAccessDenied", "RemoteTlsValidationFailed", "RemoteHostKeyUnknown",
    "RemoteHostKeyChanged", "RemoteSubsystemMissing", "RemoteModuleNotFound", "RemoteModuleImportFailed",
    "RemoteCmdletFailed", "RemoteThrottled", "RemoteTimeout", "RemoteWinRMError", "RemoteProtocolError",
    "OPERATION_TIMEOUT_FAULT_CODE", "ACCESS_DENIED_FAULT_CODE", "THROTTLE_FAULT_CODES",
})


def __getattr__(name: str) -> Any:
    if name in _SHARED:
        from . import common
        return getattr(common, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = sorted(_SHARED)
