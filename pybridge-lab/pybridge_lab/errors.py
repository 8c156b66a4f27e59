"""The lab's own error: its code is the lab's, not one of pybridge's ErrorCodes (docs/error-codes.md)."""
from __future__ import annotations

from pybridge.errors import PyBridgeError


class LabError(PyBridgeError):
    """The local lab (Samba AD DC, Graph emulator) could not be started or stopped."""

    error_code = "LabError"
    recommended_action = "Read the message; the lab needs root and Debian's samba packages."
