"""A loopback WinRM (WS-Management) endpoint that stands in for a Windows sync server in tests.

    with WinRMEndpoint(users={"CONTOSO\\\\svc-sync": "..."}, report_dir=D, engine_config=C,
                       certfile=cert, keyfile=key) as server:
        ... pybridge sync --computer-name 127.0.0.1 --port {server.port} --ca-file ca.pem ...

It speaks WS-Management over HTTP and HTTPS (shell Create, Command, Send, Receive,
Signal, Delete) for the PowerShell resource URI, with PSRP handled by psrpcore's
ServerRunspacePool and ServerPipeline, and for the WinRS cmd resource URI; it
accepts Basic and Negotiate/NTLM (pyspnego as acceptor), with MS-WSMV message
encryption on HTTP. It runs only the sync module's known commands (Import-Module,
Invoke-ADSyncSingleObjectSync, pybridge's report transfer) by calling the local
pybridge engine, logs the typed parameters each received (``calls``), and refuses
anything else loudly (``refused``, an ERROR log line, a terminating error).

Run as a process for manual tests: ``python -m pybridge_lab.winrm_endpoint --help``.
"""
from __future__ import annotations

from ._module import MICROSOFT_MODULE_PATH, Call
from ._server import WinRMEndpoint

__all__ = ["WinRMEndpoint", "Call", "MICROSOFT_MODULE_PATH"]
