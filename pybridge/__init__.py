"""pybridge: Single Object Sync from on-premises Active Directory to Microsoft Entra ID."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the engine is imported on the first sync (`pybridge --version` needs none of it)
    from .core.model import SyncResult

__version__ = "0.1.0"


def sync_object(*args: Any, **kwargs: Any) -> SyncResult:
    """Synchronise one AD object (see :func:`pybridge.engine.sync_object`)."""
    from .engine import sync_object as _sync

    return _sync(*args, **kwargs)


__all__ = ["__version__", "sync_object"]
