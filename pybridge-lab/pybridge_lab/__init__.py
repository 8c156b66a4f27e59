"""pybridge-lab: the local lab for pybridge, a distribution of its own (never inside pybridge's wheel).

- samba: a Samba AD DC on loopback, provisioned and seeded with a sample directory
- ca: the lab's certificate authority (LDAPS, the Graph emulator, the WinRM endpoint)
- graph_emulator: Microsoft Graph v1.0 and the identity platform's token endpoint, on loopback
- sync_server: a test sync server on disk (its modules, session configurations, engine), run by real PowerShell
- winrm_endpoint: a loopback WS-Management endpoint in front of a test sync server (PSRP and WinRS)
- orchestrator: `pybridge lab up|status|down` (cli: the `pybridge lab` plugin and the `pybridge-lab` command)
"""
from __future__ import annotations

__version__ = "0.1.0"
