"""Get-ADSyncScheduler / Set-ADSyncScheduler, backed by the state store, and the sync lock.

pybridge runs no sync cycles of its own; the scheduler's settings are kept so that
scripts written for Entra Connect (which disable the scheduler around Single Object
Sync and wait on SyncCycleInProgress) keep working. StagingModeEnabled comes from
the configuration (sync.staging_mode), as Entra Connect's comes from its wizard.
"""
from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Any

from . import platform, timespan
from .config import Config
from .errors import LockError, StateError, UsageError
from .notices import Notify, Waiting
from .platform import FileLock, UnsafeFileError
from .store import Store

DEFAULT_INTERVAL = timespan.DEFAULT_SYNC_INTERVAL  # Entra Connect's AllowedSyncCycleInterval
POLICY_TYPES = ("Delta", "Initial", "Unspecified")

# property -> (default, type) in Get-ADSyncScheduler's order
SETTABLE = {
    "CustomizedSyncCycleInterval": (None, "timespan"),
    "SyncCycleEnabled": (True, "bool"),
    "NextSyncCyclePolicyType": ("Delta", "policy"),
    "PurgeRunHistoryInterval": (timespan.DEFAULT_PURGE, "timespan"),
    "MaintenanceEnabled": (True, "bool"),
    "SchedulerSuspended": (False, "bool"),
}


def lock_path(config: Config) -> Path:
    return config.state_path.with_suffix(".lock")


def coerce(name: str, value: Any) -> Any:
    if name not in SETTABLE:
        raise UsageError(f"unknown scheduler setting {name!r} (settable: {', '.join(SETTABLE)})")
    kind = SETTABLE[name][1]
    if kind == "bool":
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower().lstrip("$")
        if text in ("true", "1", "yes"):
            return True
        if text in ("false", "0", "no"):
            return False
        raise UsageError(f"{name} takes true or false, not {value!r}")
    if kind == "policy":
        for p in POLICY_TYPES:
            if str(value).lower() == p.lower():
                return p
        raise UsageError(f"{name} takes one of {', '.join(POLICY_TYPES)}, not {value!r}")
    if value is None or str(value).strip().lower() in ("", "null", "none"):
        return None
    td = timespan.parse(str(value))
    if name == "CustomizedSyncCycleInterval" and td < timespan.parse(DEFAULT_INTERVAL):
        raise UsageError(f"CustomizedSyncCycleInterval must be at least {DEFAULT_INTERVAL} "
                         "(the AllowedSyncCycleInterval)")
    return timespan.format(td)


def get(store: Store, config: Config) -> dict[str, Any]:
    """The scheduler's properties, named and ordered as Get-ADSyncScheduler prints them."""
    saved = store.scheduler_settings()
    values = {name: saved.get(name, default) for name, (default, _) in SETTABLE.items()}
    effective = values["CustomizedSyncCycleInterval"] or DEFAULT_INTERVAL
    try:
        interval = timespan.parse(str(effective))
    except UsageError:
        # a value `scheduler set` would refuse today (stored by hand or by an older pybridge):
        # it is still shown as stored, and the next start is reckoned with the default interval
        interval = timespan.parse(DEFAULT_INTERVAL)
    next_start = dt.datetime.now(dt.timezone.utc) + interval
    return {
        "AllowedSyncCycleInterval": DEFAULT_INTERVAL,
        "CurrentlyEffectiveSyncCycleInterval": effective,
        "CustomizedSyncCycleInterval": values["CustomizedSyncCycleInterval"],
        "NextSyncCyclePolicyType": values["NextSyncCyclePolicyType"],
        "NextSyncCycleStartTimeInUTC": next_start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "PurgeRunHistoryInterval": values["PurgeRunHistoryInterval"],
        "SyncCycleEnabled": values["SyncCycleEnabled"],
        "MaintenanceEnabled": values["MaintenanceEnabled"],
        "StagingModeEnabled": config.sync.staging_mode,
        "SchedulerSuspended": values["SchedulerSuspended"],
        "SyncCycleInProgress": FileLock(lock_path(config)).is_held_elsewhere(),
    }


def set_(store: Store, config: Config, changes: dict[str, Any]) -> dict[str, Any]:
    store.save_scheduler_settings({k: coerce(k, v) for k, v in changes.items()})
    return get(store, config)


def concurrent_cycle_warning(store: Store, system: str | None = None) -> str | None:
    """The warning a sync gives when a sync cycle of Entra Connect could run at the same time, else None.

    pybridge runs no sync cycles, so on its own the scheduler's settings mean nothing to a sync. They
    mean something on a Windows server where Entra Connect's sync engine is installed and the scheduler
    was enabled (SyncCycleEnabled set to true with `scheduler set` or Set-ADSyncScheduler): a cycle of
    Entra Connect may then export the same object while pybridge does. A state where the scheduler was
    never configured never warns.
    """
    if store.scheduler_settings().get("SyncCycleEnabled") is not True:
        return None
    if not platform.entra_connect_installed(system):
        return None
    return ("Entra Connect's sync engine is installed on this server and the sync scheduler is enabled "
            "(SyncCycleEnabled = True): a sync cycle of Entra Connect may export this object while pybridge "
            "does. As Microsoft recommends for Single Object Sync, disable the scheduler first "
            "(Set-ADSyncScheduler -SyncCycleEnabled $false in Entra Connect's ADSync module, and 'pybridge "
            "scheduler set --sync-cycle-enabled false'), and enable it again afterwards")


class SyncLock:
    """The one-sync-at-a-time lock (Entra Connect's "no-start-ma-already-running").

    With *create* False (a what-if run, which persists nothing) neither the state directory nor
    the lock file is created: a lock file that does not exist is held by no one.
    """

    def __init__(self, config: Config, wait: float = 0.0, notify: Notify | None = None, create: bool = True) -> None:
        self.config = config
        self.wait = wait
        self.notify = notify  # hears of the wait, when another sync holds the lock
        self.create = create
        if self.wait != self.wait:  # NaN: no deadline would ever pass
            raise UsageError("the time to wait for a running sync must be a number of seconds, not NaN")
        self._lock = FileLock(lock_path(self.config), create=self.create)

    def __enter__(self) -> "SyncLock":
        deadline = time.monotonic() + max(self.wait, 0.0)
        announced = False
        while not self._try():
            if not announced and self.wait > 0 and self.notify is not None:
                self.notify(Waiting(self.wait, f"another sync holds the lock on state {self.config.state_path}; "
                                    "this one starts as soon as it finishes", at_most=True))
                announced = True
            if time.monotonic() >= deadline:
                waited = f" after waiting {self.wait:g} s" if self.wait else ""
                raise LockError(
                    f"Another sync is running against state {self.config.state_path}{waited}; only one sync runs "
                    "at a time.", recommended_action="Wait for the running sync to finish and run again, or pass "
                    "--wait SECONDS to wait for it.")
            time.sleep(0.2)
        return self

    def _try(self) -> bool:
        try:
            return self._lock.try_acquire()
        except UnsafeFileError as exc:  # a link planted at the lock file, a directory others can write to
            raise StateError(f"The state directory {self.config.state_path.parent} cannot be used: {exc}.",
                             path=str(self.config.state_path),
                             recommended_action=f"Fix state.path: {exc.fix}.") from None
        except (OSError, ValueError) as exc:  # read-only or full file system, a file where a directory should be
            reason = getattr(exc, "strerror", None) or str(exc)
            raise StateError(f"The state directory {self.config.state_path.parent} cannot be used: {reason}.",
                             path=str(self.config.state_path),
                             recommended_action="Point state.path at a writable directory with free space "
                                                "(pybridge creates it when it does not exist).") from None

    def __exit__(self, *exc: object) -> None:
        self._lock.release()
