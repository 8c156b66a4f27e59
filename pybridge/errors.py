"""One exception tree for pybridge, by phase and by what the caller should do.

Context travels as named attributes, never as positional arguments, so that the
pipeline can turn any of these into a StatusInfo without parsing messages.
"""
from __future__ import annotations

from typing import Any


class PyBridgeError(Exception):
    """Root of every error pybridge raises on purpose."""

    #: ErrorCode shown in StatusInfo when this error ends a run.
    error_code: str = "PyBridgeError"
    #: What the admin should do; subclasses and call sites refine it.
    recommended_action: str = ""

    def __init__(self, message: str, *, error_code: str | None = None,
                 recommended_action: str | None = None, **context: object) -> None:
        super().__init__(message)
        self.message = message
        if error_code is not None:
            self.error_code = error_code
        if recommended_action is not None:
            self.recommended_action = recommended_action
        self.context = context

    def __str__(self) -> str:
        return self.message


class ConfigError(PyBridgeError):
    """The configuration file or a setting is unusable (exit code 2)."""

    error_code = "ConfigurationError"

    def __init__(self, message: str, *, problems: list[str] | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.problems = problems or []


class UsageError(PyBridgeError):
    """The command line is wrong (exit code 2)."""

    error_code = "UsageError"


class SourceError(PyBridgeError):
    """Active Directory (LDAP) could not be read as needed."""

    error_code = "SourceError"


class TargetError(PyBridgeError):
    """Microsoft Graph refused or failed a request."""

    error_code = "TargetError"

    def __init__(self, message: str, *, status: int | None = None, graph_code: str | None = None,
                 request_id: str | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.status = status
        self.graph_code = graph_code
        self.request_id = request_id


class AuthenticationError(TargetError):
    """No token could be had for Microsoft Graph."""

    error_code = "AuthenticationFailed"


class StateError(PyBridgeError):
    """The local state store cannot be used."""

    error_code = "StateStoreError"


class LockError(StateError):
    """Another sync holds the lock."""

    error_code = "no-start-ma-already-running"

