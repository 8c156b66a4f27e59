"""Microsoft Graph v1.0 provisioningObjectSummary, rendered from the same result model.

Property names, casing and enum values follow Graph's v1.0 reference for
provisioningObjectSummary, provisioningStep, provisioningStatusInfo and
provisioningErrorInfo (learn.microsoft.com/graph/api/resources/provisioningobjectsummary).
"""
from __future__ import annotations

import getpass
import json
from typing import Any

from ..core.model import AD_SYSTEM, ENTRA_SYSTEM, Status, StepKey, StepType, SyncResult, iso
from ..sync.details import UNRESOLVED_REFERENCES

# provisioningStepType: import, scoping, matching, processing, referenceResolution, export
_STEP_TYPE = {StepType.SCOPING: "scoping", StepType.IMPORT: "import", StepType.SYNC: "processing",
              StepType.EXPORT: "export"}
_STATUS = {Status.SUCCESS: "success", Status.FAILURE: "failure", Status.SKIPPED: "skipped",
           Status.WARNING: "warning"}
# provisioningAction: other, create, delete, disable, update, stagedDelete
_ACTION = {"Create": "create", "Update": "update", "Delete": "delete", "Other": "other"}


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name (service accounts, containers)
        return "unknown"


def to_graph(result: SyncResult, tenant_id: str | None = None) -> dict[str, Any]:
    s = result.status_info
    duration = int((result.end_time - result.start_time).total_seconds() * 1000) if result.end_time else None
    steps = []
    for st in result.steps:
        step_type = _STEP_TYPE[st.type]
        if st.key == StepKey.TARGET_IMPORT:
            step_type = "matching"  # the Entra import is where hard and soft match happen
        steps.append({"name": st.name, "provisioningStepType": step_type, "status": _STATUS[st.status],
                      "description": st.description, "details": dict(st.details)})
    sync_step = result.step(StepKey.SYNC)
    unresolved = sync_step.details.get(UNRESOLVED_REFERENCES) if sync_step else None
    if unresolved:
        # Graph's own step type for references that could not be resolved, before the export (which wrote
        # everything else)
        steps.insert(len(steps) - 1, {"name": "ReferenceResolution", "provisioningStepType": "referenceResolution",
                         "status": "warning",
                         "description": "References to objects that are not (yet) in Entra ID were skipped; "
                                        "everything else was exported.",
                         "details": {"Unresolved references": unresolved}})
    if result.warnings:
        steps.append({"name": "Warnings", "provisioningStepType": "processing", "status": "warning",
                      "description": "What the admin must know although the run did what it could.",
                      "details": {f"Warning {n}": w for n, w in enumerate(result.warnings, start=1)}})
    error = None
    if s.status != Status.SUCCESS:
        error = {"errorCode": s.error_code, "reason": s.reason, "additionalDetails": s.additional_details,
                 "errorCategory": s.error_category or "failure", "recommendedAction": s.recommended_action}
    return {
        "id": result.run_id,
        "activityDateTime": iso(result.start_time),
        "changeId": result.run_id,
        "cycleId": result.run_id,
        "jobId": "pybridge.SingleObjectSync",
        "durationInMilliseconds": duration,
        "initiatedBy": {"id": _user(), "displayName": _user(), "initiatorType": "user"},
        "servicePrincipal": None,
        "tenantId": tenant_id,
        "provisioningAction": _ACTION[result.action.value],
        "provisioningStatusInfo": {"status": _STATUS[s.status], "errorInformation": error},
        "provisioningSteps": steps,
        "modifiedProperties": [{"displayName": p.name, "oldValue": p.old_value, "newValue": p.new_value}
                               for p in result.modified_properties],
        "sourceIdentity": {"id": result.source_identity.id, "displayName": result.source_identity.name,
                           "identityType": result.source_identity.type, "details": None},
        "targetIdentity": {"id": result.target_identity.id, "displayName": result.target_identity.name,
                           "identityType": result.target_identity.type, "details": None},
        "sourceSystem": {"id": None, "displayName": AD_SYSTEM, "details": None},
        "targetSystem": {"id": None, "displayName": ENTRA_SYSTEM, "details": None},
    }


def dumps(result: SyncResult, tenant_id: str | None = None) -> str:
    return json.dumps(to_graph(result, tenant_id), ensure_ascii=False, separators=(",", ":"))
