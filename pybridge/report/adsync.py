"""The original cmdlet's JSON: SingleObjectSyncResult, property names and order kept.

Runbooks do ``Invoke-ADSyncSingleObjectSync ... | ConvertFrom-Json`` and read
``.StatusInfo.Status``, ``.ProvisioningSteps`` and ``.ModifiedProperties``; this
shape keeps them working. Improvements that cannot break a parser: ISO 8601 UTC
timestamps, ErrorCategory filled, an Entra import step also for new objects.
"""
from __future__ import annotations

import json
from typing import Any

from ..core.model import AD_SYSTEM, ENTRA_SYSTEM, AttributeInfo, ProvisioningIdentity, SyncResult, iso


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
        # Beyond the original, appended so that no parser of the original shape notices:
        "ReportPath": result.report_path,
        **({"ComputerName": result.computer_name} if result.computer_name else {}),
    }


def dumps(result: SyncResult) -> str:
    """One compact line, as the original's ConvertTo-Json -Compress."""
    return json.dumps(to_adsync(result), ensure_ascii=False, separators=(",", ":"))


def from_adsync(doc: dict[str, Any]) -> SyncResult:
    """Rebuild the result model from the original's JSON (for results that come back from a remote server)."""
    import datetime as dt

    from ..core.model import Action, ModifiedProperty, ProvisioningStep, Status, StatusInfo, StepKey, StepType

    def ts(text: str | None) -> dt.datetime | None:
        if not text:
            return None
        for fmt in ("%Y-%m-%dT%H:%M:%S.%fZ", "%Y-%m-%dT%H:%M:%SZ", "%m/%d/%Y %H:%M:%S"):
            try:
                return dt.datetime.strptime(text, fmt).replace(tzinfo=dt.timezone.utc)
            except ValueError:
                continue
        return None

    def ident(d: dict[str, Any] | None) -> ProvisioningIdentity:
        d = d or {}
        return ProvisioningIdentity(id=d.get("Id"), type=d.get("Type"), name=d.get("Name"))

    s = doc.get("StatusInfo") or {}
    steps = []
    keys = list(StepKey)  # the JSON lists the ten steps in run order
    for i, st in enumerate(doc.get("ProvisioningSteps") or []):
        details = {str(k): str(v) for k, v in (st.get("Details") or {}).items()}
        steps.append(ProvisioningStep(number=i + 1, type=StepType(st.get("Type", "Scoping")), name=st.get("Name", ""),
                                      description=st.get("Description", ""),
                                      key=keys[i] if i < len(keys) else None, status=Status(st.get("Status", "Skipped")),
                                      timestamp=ts(st.get("Timestamp")), details=details,
                                      attributes=attributes_from_details(details)))
    start = ts(doc.get("StartTime")) or ts(None)
    import datetime as _dt
    result = SyncResult(distinguished_name=(doc.get("SourceIdentity") or {}).get("Name") or "",
                        start_time=start or _dt.datetime.now(_dt.timezone.utc), end_time=ts(doc.get("EndTime")),
                        action=Action(doc.get("Action") or "Other"), source_identity=ident(doc.get("SourceIdentity")),
                        target_identity=ident(doc.get("TargetIdentity")),
                        status_info=StatusInfo(status=Status(s.get("Status") or "Failure"), error_code=s.get("ErrorCode"),
                                               reason=s.get("Reason"), additional_details=s.get("AdditionalDetails"),
                                               error_category=s.get("ErrorCategory") or None,
                                               recommended_action=s.get("RecommendedAction")),
                        modified_properties=[ModifiedProperty(p.get("Name", ""), p.get("OldValue"), p.get("NewValue"))
                                             for p in doc.get("ModifiedProperties") or []],
                        steps=steps, report_path=doc.get("ReportPath"), computer_name=doc.get("ComputerName"),
                        staging_mode=any(st.description.startswith("[Staging Mode] ") for st in steps))
    return result


def attributes_from_details(details: dict[str, str]) -> list[AttributeInfo]:
    """Rebuild a step's attribute table from its AttributeInfoJson (for runs re-rendered from history)."""
    raw = details.get("AttributeInfoJson")
    if not raw:
        return []
    try:
        items = json.loads(raw)
    except ValueError:
        return []
    return [AttributeInfo(name=i.get("Name", ""), is_multi_valued=bool(i.get("IsMultiValued")), type=i.get("Type", ""),
                          value=i.get("Value"), add=i.get("Add"), delete=i.get("Delete"), operation=i.get("Operation"),
                          sync_rule=i.get("SyncRule"), mapping_type=i.get("MappingType"),
                          data_source=i.get("DataSource")) for i in items if isinstance(i, dict)]
