"""A loopback WinRM (WS-Management) endpoint in front of a test sync server, for tests.

    server = SyncServer(tmp / "aadc01", engine_config=cfg)          # pybridge_lab.sync_server
    with WinRMEndpoint(users={"CONTOSO\\\\svc-sync": "..."}, server=server,
                       certfile=cert, keyfile=key) as endpoint:
        ... pybridge sync --computer-name 127.0.0.1 --port {endpoint.port} --ca-file ca.pem ...

It speaks WS-Management over HTTP and HTTPS (shell Create, Command, Send, Receive,
Signal, Delete) for the PowerShell resource URI and the WinRS cmd resource URI; it
accepts Basic and Negotiate/NTLM (pyspnego as acceptor), with MS-WSMV message
encryption on HTTP. What arrives runs in real PowerShell on the test sync server:
each runspace pool is a ``pwsh -s`` of its session configuration (PSRP forwarded
both ways), each WinRS command a process (pwsh standing in for powershell.exe).
It logs the commands clients sent (``calls``, PSRP parameters with their types) and
can throttle shell creation and change report chunks in transit (fault injection).

Run as a process for manual tests: ``python -m pybridge_lab.winrm_endpoint --help``.
"""
from __future__ import annotations

from ..sync_server import MICROSOFT_MODULE_PATH, SyncServer
from ._observe import Call
from ._server import WinRMEndpoint

__all__ = ["WinRMEndpoint", "Call", "SyncServer", "MICROSOFT_MODULE_PATH"]
