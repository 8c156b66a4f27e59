"""pybridge: Single Object Sync from on-premises Active Directory to Microsoft Entra ID."""
from __future__ import annotations

__version__ = "0.1.0"


def sync_object(*args, **kwargs):  # type: ignore[no-untyped-def]
    """Synchronise one AD object (see :func:`pybridge.engine.sync_object`)."""
    from .engine import sync_object as _sync

    return _sync(*args, **kwargs)


__all__ = ["__version__", "sync_object"]
