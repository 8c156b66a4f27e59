"""A Microsoft Graph v1.0 + identity-platform emulator for the lab and the tests.

    with GraphEmulator(certfile=..., keyfile=..., tenant_id=T, client_id=C,
                       client_secret=S) as graph:
        app = msal.ConfidentialClientApplication(C, client_credential=S,
                                                 authority=f"{graph.base_url}/{T}", ...)

Run as a process for the lab: ``python -m pybridge_lab.graph_emulator --help``.
"""
from __future__ import annotations

from ._emulator import Fault, GraphEmulator

__all__ = ["GraphEmulator", "Fault"]
