"""The internal result model: one run of Single Object Sync.

Every output (the original cmdlet's JSON, Graph's provisioningObjectSummary, the
HTML report) is rendered from these types; none is produced by reshaping another.
"""
from __future__ import annotations

import datetime as dt
from enum import Enum
from typing import Any, Sequence, Union, overload

from msgspec import Struct, field

from .errorcodes import lookup

# A directory value as pybridge carries it: text, binary (objectGUID, objectSid...), numbers, booleans.
Value = Union[str, bytes, int, bool]
Attributes = dict[str, list[Value]]


class Status(str, Enum):
    SUCCESS = "Success"
    FAILURE = "Failure"
    SKIPPED = "Skipped"
    WARNING = "Warning"


class StepType(str, Enum):
    SCOPING = "Scoping"
    IMPORT = "Import"
    SYNC = "Sync"
    EXPORT = "Export"


class StepKey(str, Enum):
    """Which of the ten steps a ProvisioningStep is, in run order (the step table in sync/steps.py follows it)."""

    SOURCE_DOMAIN = "source-domain"
    TARGET_DOMAIN = "target-domain"
    CONTAINER = "container"
    CONNECTIVITY = "connectivity"
    OBJECT_TYPE = "object-type"
    GROUP_FILTER = "group-filter"
    SOURCE_IMPORT = "source-import"
    TARGET_IMPORT = "target-import"
    SYNC = "sync"
    EXPORT = "export"


class Action(str, Enum):
    CREATE = "Create"
    UPDATE = "Update"
    DELETE = "Delete"
    OTHER = "Other"


AD_SYSTEM = "Active Directory"
ENTRA_SYSTEM = "Azure Active Directory"  # the original's name; runbooks compare against it


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


@overload
def iso(ts: dt.datetime) -> str: ...


@overload
def iso(ts: None) -> None: ...


def iso(ts: dt.datetime | None) -> str | None:
    """ISO 8601 UTC with milliseconds and a Z, e.g. 2026-11-25T08:30:00.123Z."""
    if ts is None:
        return None
    return ts.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z"


class AttributeInfo(Struct):
    """One attribute as the import, sync and export steps show it (the original's AttributeInfo)."""

    name: str
    is_multi_valued: bool
    type: str
    value: str | None = None
    add: str | None = None
    delete: str | None = None
    operation: str | None = None
    sync_rule: str | None = None
    mapping_type: str | None = None
    data_source: str | None = None


class ProvisioningStep(Struct):
    number: int
    type: StepType
    name: str
    description: str
    key: StepKey | None = None  # which step this is (results read back from JSON get it by position)
    status: Status = Status.SKIPPED
    timestamp: dt.datetime | None = None
    details: dict[str, str] = field(default_factory=dict)
    attributes: list[AttributeInfo] = field(default_factory=list)


class StatusInfo(Struct):
    status: Status = Status.SUCCESS
    error_code: str | None = None
    reason: str | None = None
    additional_details: str | None = None
    error_category: str | None = None  # "failure" (pybridge's own checks / Graph's 4xx) or "nonServiceFailure"
    recommended_action: str | None = None


class ProvisioningIdentity(Struct):
    id: str | None = None
    type: str | None = None
    name: str | None = None


class CloudObject(Struct, frozen=True):
    """An Entra object where its kind matters ("user", "group", "contact"): who holds an address, say."""

    kind: str
    properties: dict[str, Any]


class ModifiedProperty(Struct):
    name: str
    old_value: str | None
    new_value: str | None


class SyncResult(Struct):
    distinguished_name: str
    start_time: dt.datetime
    end_time: dt.datetime | None = None
    action: Action = Action.OTHER
    source_identity: ProvisioningIdentity = field(default_factory=ProvisioningIdentity)
    target_identity: ProvisioningIdentity = field(default_factory=ProvisioningIdentity)
    status_info: StatusInfo = field(default_factory=StatusInfo)
    modified_properties: list[ModifiedProperty] = field(default_factory=list)
    steps: list[ProvisioningStep] = field(default_factory=list)
    staging_mode: bool = False
    what_if: bool = False
    report_path: str | None = None
    config_path: str | None = None
    computer_name: str | None = None
    run_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    # what the admin must know although the run did what it could: unresolved references, a new object Graph
    # does not show yet, a joined object deleted in the cloud, what Entra Connect would do to a departed object
    # (the CLI says each on stderr)
    warnings: list[str] = field(default_factory=list)

    def step(self, key: StepKey) -> ProvisioningStep | None:
        return next((s for s in self.steps if s.key == key), None)

    @property
    def exit_code(self) -> int:
        return {Status.SUCCESS: 0, Status.WARNING: 0, Status.FAILURE: 1, Status.SKIPPED: 3}[self.status_info.status]


def status_info_for(code: str, reason: str | None, *, status: Status = Status.FAILURE,
                    details: str | Sequence[str] | None = None, recommended: str | None = None) -> StatusInfo:
    """The StatusInfo of a run that stopped with *code*: category and default action from the one table.

    *status* is Failure, or Skipped for an object out of scope (whose ErrorCategory is "success");
    *details* is AdditionalDetails, one text or lines joined (empty lines dropped); *recommended*
    replaces the table's recommended action for this code.
    """
    info = lookup(code)
    if details is not None and not isinstance(details, str):
        details = "\n".join(d for d in details if d) or None
    return StatusInfo(status=status, error_code=code, reason=reason, additional_details=details,
                      error_category=info.category if status == Status.FAILURE else "success",
                      recommended_action=recommended or info.action)


def failed_result(dn: str, code: str, reason: str | None, *, steps: list[ProvisioningStep],
                  details: str | Sequence[str] | None = None, recommended: str | None = None,
                  start: dt.datetime | None = None, end: dt.datetime | None = None, staging_mode: bool = False,
                  computer_name: str | None = None) -> SyncResult:
    """The result of a run that failed before any step ran, with StatusInfo Failure.

    Printed when the configuration is unusable, the state store or the sync lock refuses the run,
    or a remote server produced no result, so that `| ConvertFrom-Json` always has one document.
    *steps* are the ten steps, all Skipped (sync.steps.new_steps(): the step table is the sync's,
    not the model's). *start* defaults to now and *end* to *start*.
    """
    start = start or utcnow()
    return SyncResult(distinguished_name=dn, start_time=start, end_time=end or start, steps=steps,
                      source_identity=ProvisioningIdentity(name=dn),
                      status_info=status_info_for(code, reason, details=details, recommended=recommended),
                      staging_mode=staging_mode, computer_name=computer_name)
