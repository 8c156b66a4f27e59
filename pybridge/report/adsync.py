"""The original cmdlet's JSON: SingleObjectSyncResult, property names and order kept.

Runbooks do ``Invoke-ADSyncSingleObjectSync ... | ConvertFrom-Json`` and read
``.StatusInfo.Status``, ``.ProvisioningSteps`` and ``.ModifiedProperties``; this
shape keeps them working. Improvements that cannot break a parser: ISO 8601 UTC
timestamps, ErrorCategory filled, an Entra import step also for new objects.
"""
from __future__ import annotations

import json
from typing import Any

from ..core.model import AD_SYSTEM, ENTRA_SYSTEM, ProvisioningIdentity, SyncResult, iso


def _identity(i: ProvisioningIdentity) -> dict[str, Any]:
    return {"Id": i.id, "Type": i.type, "Name": i.name}


def to_adsync(result: SyncResult) -> dict[str, Any]:
    s = result.status_info
    return {
        "Action": result.action.value,
        "StartTime": iso(result.start_time),
        "EndTime": iso(result.end_time),
        "SourceSystem": {"Name": AD_SYSTEM},
        "TargetSystem": {"Name": ENTRA_SYSTEM},
        "SourceIdentity": _identity(result.source_identity),
        "TargetIdentity": _identity(result.target_identity),
        "StatusInfo": {"Status": s.status.value, "ErrorCode": s.error_code, "Reason": s.reason,
                       "AdditionalDetails": s.additional_details, "ErrorCategory": s.error_category,
                       "RecommendedAction": s.recommended_action},
        "ModifiedProperties": [{"Name": p.name, "OldValue": p.old_value, "NewValue": p.new_value}
                               for p in result.modified_properties],
        "ProvisioningSteps": [{"Status": st.status.value, "Type": st.type.value, "Name": st.name,
                               "Description": st.description, "Timestamp": iso(st.timestamp),
                               "Details": dict(st.details)} for st in result.steps],
    }


def dumps(result: SyncResult) -> str:
    """One compact line, as the original's ConvertTo-Json -Compress."""
    return json.dumps(to_adsync(result), ensure_ascii=False, separators=(",", ":"))
