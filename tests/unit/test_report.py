"""The HTML report and the Graph-shaped JSON, rendered from one result model."""
from __future__ import annotations

import datetime as dt
import json
import re
import stat

import pytest

from pybridge.core.model import (Action, AttributeInfo, ModifiedProperty, ProvisioningIdentity, Status, StatusInfo,
                                 SyncResult)
from pybridge.sync.steps import new_steps
from pybridge.report import adsync, graph, html

XSS = ['<script>alert(1)</script>', '"><img src=x onerror=alert(1)>']


def sample(members: int = 3, status: Status = Status.SUCCESS) -> SyncResult:
    start = dt.datetime(2026, 11, 25, 8, 30, 0, 123000, tzinfo=dt.timezone.utc)
    r = SyncResult(distinguished_name="CN=Sales,OU=Groups,DC=contoso,DC=com", start_time=start,
                   end_time=start + dt.timedelta(milliseconds=420), action=Action.UPDATE, steps=new_steps(),
                   source_identity=ProvisioningIdentity("g-1", "group", "CN=Sales,OU=Groups,DC=contoso,DC=com"),
                   target_identity=ProvisioningIdentity("e-1", "group", "Sales"), run_id="run-1")
    for st in r.steps:
        st.status, st.timestamp = Status.SUCCESS, start
    dns = [f"CN=Member {i},OU=Users,DC=contoso,DC=com" for i in range(members)]
    r.steps[6].details = {"Run step result": "success", "Evil": XSS[0]}
    r.steps[6].attributes = [AttributeInfo("member", True, "Reference", "; ".join(dns)),
                             AttributeInfo("department", False, "String", XSS[1])]
    r.steps[9].attributes = [AttributeInfo("members", True, "Reference", f"{members} value(s)", add="; ".join(dns),
                                           operation="Update"),
                             AttributeInfo("displayName", False, "String", XSS[0], add=XSS[0], operation="Replace")]
    r.modified_properties = [ModifiedProperty("members - Count", "0", str(members)),
                             ModifiedProperty("displayName", None, XSS[0])]
    if status != Status.SUCCESS:
        r.status_info = StatusInfo(status, "AttributeValueMustBeUnique", f"conflict with {XSS[1]}",
                                   error_category="failure", recommended_action="Remove the duplicate.")
    return r


def test_directory_values_are_text_never_markup():
    page = html.render(sample(status=Status.FAILURE))
    for payload in XSS:
        assert payload not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in page
    # exactly one script element: pybridge's own, bound to this page's nonce by the CSP
    assert len(re.findall(r"<script\b", page)) == 1
    nonce = re.search(r"script-src 'nonce-([^']+)'", page).group(1)
    assert f'<script nonce="{nonce}">' in page


def test_self_contained_nothing_fetched():
    page = html.render(sample())
    assert not re.search(r"<[a-z][^>]*\ssrc\s*=", page)
    assert "<link" not in page and "@import" not in page and "url(" not in page
    assert "default-src 'none'" in page


def test_tabs_and_contents():
    page = html.render(sample())
    for tab in ("Steps", "Troubleshooting &amp; Recommendations", "Modified Properties", "Summary"):
        assert f">{tab}</a>" in page
    assert "Looking good! There's nothing to troubleshoot." in page
    assert 'href="#export-attr-members"' in page and 'id="export-attr-members"' in page
    assert "pybridge version" in page and "0.420 s" in page


def test_failure_shows_code_reason_action_and_link():
    page = html.render(sample(status=Status.FAILURE))
    assert "AttributeValueMustBeUnique" in page and "Remove the duplicate." in page
    assert "https://aka.ms/aadc-exporterror-attributevaluemustbeunique" in page
    assert "nothing to troubleshoot" not in page


def test_large_groups_are_collapsed_and_counted():
    page = html.render(sample(members=50_000))
    assert "50000 values" in page
    assert "and 49800 more" in page
    assert len(page.encode()) < 1_000_000


def test_report_names_never_collide_and_are_owner_only(tmp_path):
    r = sample()
    first, second = html.write(r, tmp_path), html.write(r, tmp_path)
    stamp = r.start_time.astimezone().strftime("%Y%m%d%H%M%S")
    assert first.name == f"ADSyncSingleObjectSyncResult-{stamp}.htm"
    assert second.name == f"ADSyncSingleObjectSyncResult-{stamp}_2.htm"
    assert stat.S_IMODE(first.stat().st_mode) == 0o600


def test_adsync_roundtrip_keeps_attribute_tables():
    r = sample()
    r.steps[6].details["AttributeInfoJson"] = json.dumps([{"Name": "member", "IsMultiValued": True, "Value": "a; b"}])
    back = adsync.from_adsync(adsync.to_adsync(r))
    assert back.steps[6].attributes[0].name == "member"
    assert adsync.to_adsync(back) == adsync.to_adsync(r)


def test_adsync_property_order_is_the_originals():
    keys = list(adsync.to_adsync(sample()))
    assert keys[:10] == ["Action", "StartTime", "EndTime", "SourceSystem", "TargetSystem", "SourceIdentity",
                         "TargetIdentity", "StatusInfo", "ModifiedProperties", "ProvisioningSteps"]
    assert list(adsync.to_adsync(sample())["StatusInfo"]) == ["Status", "ErrorCode", "Reason", "AdditionalDetails",
                                                               "ErrorCategory", "RecommendedAction"]


# -- Graph's provisioningObjectSummary, checked with the official SDK's model ----------------------------------

def _parse_with_sdk(doc: dict):
    pytest.importorskip("msgraph")
    from kiota_serialization_json.json_parse_node_factory import JsonParseNodeFactory
    from msgraph.generated.models.provisioning_object_summary import ProvisioningObjectSummary

    node = JsonParseNodeFactory().get_root_parse_node("application/json", json.dumps(doc).encode())
    return node.get_object_value(ProvisioningObjectSummary)


def _unknown_properties(obj, path="summary") -> list[str]:
    """Properties the SDK's model did not know (left in additional_data), outside open 'details' types."""
    out = []
    if obj is None or isinstance(obj, (str, int, float, bool, dt.datetime)):
        return out
    if isinstance(obj, list):
        for i, x in enumerate(obj):
            out += _unknown_properties(x, f"{path}[{i}]")
        return out
    from enum import Enum
    if isinstance(obj, Enum):
        return out
    if type(obj).__name__ == "DetailsInfo":  # Graph's open type: free-form by design
        return out
    extra = {k: v for k, v in (getattr(obj, "additional_data", None) or {}).items() if k != "@odata.type"}
    out += [f"{path}.{k}" for k in extra]
    for name in getattr(obj, "__dataclass_fields__", {}):
        if name not in ("additional_data", "odata_type", "backing_store"):
            out += _unknown_properties(getattr(obj, name), f"{path}.{name}")
    return out


@pytest.mark.parametrize("status", [Status.SUCCESS, Status.FAILURE])
def test_graph_shape_deserialises_with_the_official_sdk(status):
    from msgraph.generated.models.provisioning_action import ProvisioningAction
    from msgraph.generated.models.provisioning_result import ProvisioningResult
    from msgraph.generated.models.provisioning_step_type import ProvisioningStepType

    doc = graph.to_graph(sample(status=status), tenant_id="t-1")
    parsed = _parse_with_sdk(doc)
    assert _unknown_properties(parsed) == []
    # enum strings checked against the enums' values (the SDK maps "import" to None: its member is Import_)
    step_types = {e.value for e in ProvisioningStepType}
    results = {e.value for e in ProvisioningResult}
    assert all(s["provisioningStepType"] in step_types for s in doc["provisioningSteps"])
    assert all(s["status"] in results for s in doc["provisioningSteps"])
    assert doc["provisioningStatusInfo"]["status"] in results
    assert doc["provisioningAction"] in {e.value for e in ProvisioningAction}
    assert parsed.provisioning_action == ProvisioningAction.Update
    assert parsed.duration_in_milliseconds == 420
    assert parsed.modified_properties[1].display_name == "displayName"
    if status == Status.FAILURE:
        info = parsed.provisioning_status_info.error_information
        assert info.error_code == "AttributeValueMustBeUnique" and info.error_category.value == "failure"
    else:
        assert parsed.provisioning_status_info.error_information is None


def test_unresolved_references_become_a_reference_resolution_warning():
    r = sample()
    r.steps[8].details["Unresolved references"] = "CN=Sales EMEA,OU=Groups,DC=contoso,DC=com"
    doc = graph.to_graph(r)
    step = doc["provisioningSteps"][9]
    assert (step["provisioningStepType"], step["status"]) == ("referenceResolution", "warning")
    assert "CN=Sales EMEA" in step["details"]["Unresolved references"]
    assert doc["provisioningSteps"][10]["provisioningStepType"] == "export"
    assert _unknown_properties(_parse_with_sdk(doc)) == []
