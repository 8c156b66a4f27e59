"""The HTML report and the Graph-shaped JSON, rendered from one result model."""
from __future__ import annotations

import datetime as dt
import json
import re
import stat
from html.parser import HTMLParser
from pathlib import Path

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
    assert first.name == f"ADSyncSingleObjectSyncResult-{stamp}-Sales.htm"
    assert second.name == f"ADSyncSingleObjectSyncResult-{stamp}-Sales_2.htm"
    assert stat.S_IMODE(first.stat().st_mode) == 0o600


@pytest.mark.parametrize("dn, part", [
    ("CN=Smith\\, John,OU=Users,DC=contoso,DC=com", "Smith_John"),
    ("CN=Zo\u00eb \u00c5ngstr\u00f6m,OU=Users,DC=contoso,DC=com", "Zo\u00eb_\u00c5ngstr\u00f6m"),
    ("CN=Zoe\u0308,OU=Users,DC=contoso,DC=com", "Zo\u00eb"),  # NFC: one file name however the DN spells it
    ("CN=Rock (Star) *\\\\ Ops,OU=Users,DC=contoso,DC=com", "Rock_Star_Ops"),
    ("CN=../../etc/passwd,OU=Users,DC=contoso,DC=com", "etc_passwd"),
    ("CN=..\\\\..\\\\Windows,OU=Users,DC=contoso,DC=com", "Windows"),
    ("CN=a\\\\b:c*d?e\\\"f\\<g\\>h|i,OU=Users,DC=contoso,DC=com", "a_b_c_d_e_f_g_h_i"),
    ("CN=evil\u202egnp.exe,OU=Users,DC=contoso,DC=com", "evil_gnp.exe"),  # no right-to-left override
    ("CN=tab\\09and\\0Anewline,OU=Users,DC=contoso,DC=com", "tab_and_newline"),
    ("CN=trailing dots...,OU=Users,DC=contoso,DC=com", "trailing_dots"),
    ("CN=\\#,OU=Users,DC=contoso,DC=com", ""),
    ("not a DN at all", "not_a_DN_at_all"),
])
def test_report_names_carry_the_object_s_name_safely(tmp_path, dn, part):
    r = sample()
    r.distinguished_name = dn
    r.source_identity = ProvisioningIdentity("g-1", "user", dn)
    path = html.write(r, tmp_path)
    stamp = r.start_time.astimezone().strftime("%Y%m%d%H%M%S")
    assert path.parent == tmp_path
    assert path.name == f"ADSyncSingleObjectSyncResult-{stamp}" + (f"-{part}" if part else "") + ".htm"
    assert re.fullmatch(r"ADSyncSingleObjectSyncResult-\d{14}(-[\w.-]+)?\.htm", path.name)
    assert all(c.isalnum() or c in "-_." for c in path.name)  # nothing a file system or a shell treats specially


def test_report_names_are_bounded():
    long_dn = "CN=" + "\u00e9" * 300 + ",OU=Users,DC=contoso,DC=com"
    name = html.report_name(dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc), 12, html.object_name(
        SyncResult(distinguished_name=long_dn, start_time=dt.datetime.now(dt.timezone.utc))))
    part = name[len("ADSyncSingleObjectSyncResult-20260102030405-"):-len("_12.htm")]
    assert 0 < len(part) <= html.MAX_NAME_CHARS and len(part.encode()) <= html.MAX_NAME_BYTES
    assert len(name.encode()) < 200


def test_remote_transfers_keep_and_find_the_new_names(tmp_path):
    """The report copy keeps the name as it is, and every newest-report lookup matches it by prefix."""
    import fnmatch

    from pybridge.remote.runner import _remote_basename

    r = sample()
    r.distinguished_name = "CN=Zo\u00eb \u00c5ngstr\u00f6m (Sales),OU=Users,DC=contoso,DC=com"
    name = html.write(r, tmp_path).name
    assert _remote_basename("C:\\ProgramData\\AADConnect\\ADSyncObjectDiagnostics\\" + name) == name
    assert _remote_basename("/var/reports/" + name) == name
    assert fnmatch.fnmatch(name, "ADSyncSingleObjectSyncResult-*.htm")  # what the test sync server lists
    script = (Path(html.__file__).parents[1] / "remote" / "scripts" / "Read-PyBridgeReport.ps1").read_text()
    pattern = re.search(r"-Filter '([^']+)'", script).group(1)
    assert fnmatch.fnmatch(name, pattern) and pattern.startswith(html.REPORT_PREFIX)


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


# -- the report leads with what went wrong ----------------------------------------------------------------------
def _section(page: str, name: str) -> str:
    start = page.index(f'<section class="tab" id="{name}"')
    return page[start:page.index("</section>", start)]


def _failed_at_export(**kw) -> SyncResult:
    r = sample(status=Status.FAILURE, **kw)
    r.steps[9].status = Status.FAILURE
    r.steps[9].details["Reason"] = "conflict"
    return r


def test_a_failure_opens_with_a_banner_and_on_troubleshooting():
    page = html.render(_failed_at_export())
    banner = page[page.index('<div class="banner Failure" id="banner"'):page.index("<nav")]
    assert "AttributeValueMustBeUnique" in banner and "Remove the duplicate." in banner
    assert "conflict with &#34;&gt;&lt;img" in banner  # the reason, escaped
    assert 'href="#step-10"' in banner and "Step 10 (ExportSpecificObject) failed" in banner
    assert 'href="#troubleshooting"' in banner and "aka.ms/aadc-exporterror-attributevaluemustbeunique" in banner
    assert page.index('id="banner"') < page.index("<nav")  # above the tabs, at the top
    assert '<body data-initial="troubleshooting">' in page
    assert 'data-tab="troubleshooting" aria-selected="true"' in page and 'data-tab="steps" aria-selected="false"' in page
    # without JavaScript the sections follow one another: what went wrong first
    assert page.index('id="troubleshooting"') < page.index('id="steps"')
    assert 'class="step step-Failure stopped" id="step-10"' in page


def test_a_skipped_run_names_the_step_that_stopped_it():
    r = sample()
    r.status_info = StatusInfo(Status.SKIPPED, "ContainerNotInScope", "excluded OU", error_category="success",
                               recommended_action="Change the containers.")
    for st in r.steps[3:]:
        st.status = Status.SKIPPED
    r.steps[2].status, r.steps[2].details = Status.SKIPPED, {"Reason": "excluded OU"}
    page = html.render(r)
    assert '<div class="banner Skipped" id="banner"' in page
    assert "Step 3 (ScopingOrganizationalUnit) stopped the run" in page
    assert '<body data-initial="troubleshooting">' in page


def test_a_run_that_failed_before_any_step_says_so():
    from pybridge.core.model import failed_result

    page = html.render(failed_result("CN=x,DC=contoso,DC=com", "ConfigurationError", "bad file", steps=new_steps()))
    assert "The run stopped before any step ran." in page and 'href="#step-' not in page.split("<nav")[0]


def test_success_opens_on_steps_without_a_banner():
    page = html.render(sample())
    assert 'id="banner"' not in page and 'id="notice"' not in page
    assert '<body data-initial="steps">' in page and 'data-tab="steps" aria-selected="true"' in page
    assert page.index('id="steps"') < page.index('id="troubleshooting"')
    assert "Looking good! There's nothing to troubleshoot." in _section(page, "troubleshooting")


def test_every_warning_is_listed_and_never_looking_good():
    r = sample(members=5)
    dns = [f"CN=Member {i},OU=Users,DC=contoso,DC=com" for i in range(5)]
    r.steps[6].attributes[0] = AttributeInfo("member", True, "String", "; ".join(dns))
    r.steps[8].details["Unresolved references"] = "; ".join(dns[2:])
    r.warnings = ["The group was created as e-1, but Microsoft Graph does not show it yet (replication).",
                  "3 reference(s) could not be resolved and were not exported: ..."]
    page = html.render(r)
    trouble = _section(page, "troubleshooting")
    assert "nothing to troubleshoot" not in page
    assert "Warnings (2)" in trouble
    assert "Group members: 2 of 5" in trouble and "Entra ID holds 2 of the 5 members" in trouble
    for i in (2, 3, 4):  # the members left out, by name and DN
        assert f"<strong>Member {i}</strong> <span class=\"muted\">CN=Member {i},OU=Users,DC=contoso,DC=com" in trouble
    assert trouble.count("not in Entra ID</em>") == 3
    assert "does not show it yet (replication)." in trouble
    assert "3 reference(s) could not be resolved" not in trouble.split("Warnings (2)")[1]  # said once, with names
    # a success with warnings still opens on Steps, with a notice that points to them
    assert '<body data-initial="steps">' in page
    notice = page[page.index('id="notice"'):page.index("<nav")]
    assert "Success, with 2 warnings" in notice and 'href="#troubleshooting"' in notice


def test_a_manager_left_out_is_an_unresolved_reference():
    r = sample()
    r.source_identity.type = "user"
    r.steps[6].attributes = []
    r.steps[8].details["Unresolved references"] = "CN=Boss,OU=Users,DC=contoso,DC=com"
    trouble = _section(html.render(r), "troubleshooting")
    assert "Unresolved references" in trouble and "<strong>Boss</strong>" in trouble


def test_staging_says_how_many_members_would_be_written():
    r = sample(members=4)
    r.staging_mode = True
    r.steps[6].attributes[0] = AttributeInfo("member", True, "String", "; ".join(f"CN=M{i},DC=c,DC=com" for i in range(4)))
    r.steps[8].details["Unresolved references"] = "CN=M0,DC=c,DC=com; CN=M1,DC=c,DC=com; CN=M2,DC=c,DC=com; CN=M3,DC=c,DC=com"
    trouble = _section(html.render(r), "troubleshooting")
    assert "Group members: 0 of 4" in trouble and "Entra ID would hold 0 of the 4 members" in trouble


def test_a_read_back_that_cannot_see_the_object_yet_is_a_warning():
    r = sample()
    r.steps[9].details["Confirmed by read-back"] = "Not yet: Microsoft Graph does not show the new object yet"
    page = html.render(r)
    assert "nothing to troubleshoot" not in page
    assert "Read-back" in _section(page, "troubleshooting")
    assert "written (not confirmed yet)" in _section(page, "modified")


def test_member_changes_cut_short_by_a_failed_export_are_a_warning():
    r = _failed_at_export(members=30)
    r.steps[9].details["Export step result"] = "failure after sending to Microsoft Graph"
    trouble = _section(html.render(r), "troubleshooting")
    assert "Member changes not confirmed" in trouble and "30 member addition(s) and 0 removal(s)" in trouble


@pytest.mark.parametrize("case, label, sentence", [
    ("success", "written", "Written to Entra ID"),
    ("staging", "would be written (staging)", "Staging mode: these changes would be written; nothing was sent"),
    ("what-if", "would be written (what-if)", "nothing was recorded locally"),
    ("staging-failure", "not written (a real run stops too)", "a real run would stop at step 10"),
    ("failure-before-export", "not written", "the run stopped at step 9 (SyncSpecificObject) before the export"),
    ("failure-before-sending", "not written", "before sending anything"),
    ("failure-while-sending", "not confirmed (the export failed while writing)", "Entra ID may hold part"),
])
def test_modified_properties_say_whether_they_were_written(case, label, sentence):
    r = _failed_at_export() if "failure" in case else sample()
    r.staging_mode = case.startswith(("staging", "what-if"))
    r.what_if = case == "what-if"
    if case == "failure-before-export":
        r.steps[9].status, r.steps[9].details = Status.SKIPPED, {}
        r.steps[8].status, r.steps[8].details["Reason"] = Status.FAILURE, "invalid"
    if case == "failure-while-sending":
        r.steps[9].details["Export step result"] = "failure after sending to Microsoft Graph"
    if case == "success":
        r.steps[9].details["Confirmed by read-back"] = "True"
    modified = _section(html.render(r), "modified")
    assert "<th scope=\"col\" class=\"w\">Written to Entra ID</th>" in modified
    assert modified.count(f'<td class="written">{label}</td>') == len(r.modified_properties)
    assert sentence in modified


def test_members_are_shown_by_name_dn_and_id():
    r = sample(members=3)
    dns = [f"CN=Member {i},OU=Users,DC=contoso,DC=com" for i in range(3)]
    ids = [f"00000000-0000-0000-0000-00000000000{i}" for i in range(3)]
    r.steps[9].attributes[0] = AttributeInfo("members", True, "Reference", "3 value(s)", add="; ".join(ids),
                                             operation="Update")
    r.steps[8].attributes = [AttributeInfo("members", True, "Reference", "; ".join(dns), add="; ".join(dns))]
    r.extra["resolved_references"] = dict(zip(dns, ids))
    page = html.render(r)
    for dn, i, n in zip(dns, ids, range(3)):
        shown = (f'<span class="who"><strong>Member {n}</strong> <span class="muted">{dn}</span> '
                 f'<code class="id">{i.replace("-", "-<wbr>")}</code></span>')
        assert shown in _section(page, "modified")  # added: the ids, named
        assert page.count(shown) >= 4  # and in steps 9 (value, add) and 10 (add)


def test_without_the_resolution_ids_stay_bare():
    r = sample(members=1)
    r.steps[9].attributes[0] = AttributeInfo("members", True, "Reference", "1 value(s)", add="id-1")
    assert "<li>id-1</li>" in html.render(r)


def test_value_cells_wrap_anywhere_and_names_never_inside_a_word():
    page = html.render(sample())
    css = page[page.index("<style>"):page.index("</style>")]
    assert re.search(r"th, td \{[^}]*word-break: normal; overflow-wrap: normal;", css)
    assert re.search(r"td\.v \{[^}]*overflow-wrap: anywhere;", css)
    assert '<th scope="col" class="k">Detail</th>' in page and '<td class="k">Run step result</td>' in page


# -- every directory value is data, in every place the pages show one --------------------------------------------
class _Markup(HTMLParser):
    """The elements and attributes of a page, and its text as a browser reads it."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attributes: set[str] = set()
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attributes.update(name for name, _ in attrs)

    def handle_data(self, data):
        self.text.append(data)


def _assert_only_text(page: str, shown: int) -> None:
    """None of XSS's payloads is markup in *page*: no element or attribute of theirs, one script (the page's own,
    bound to its nonce); the payloads are there as text, at least *shown* times each."""
    for payload in XSS:
        assert payload not in page
    parsed = _Markup()
    parsed.feed(page)
    assert "img" not in parsed.tags and parsed.tags.count("script") == 1
    assert not any(name.startswith("on") for name in parsed.attributes)
    text = "".join(parsed.text)
    for payload in XSS:
        assert text.count(payload) >= shown


def _hostile_result(status: Status) -> SyncResult:
    """A group whose every directory value (DN, names, attribute values, members, warnings, errors) is hostile."""
    a, b = XSS
    dn = f"CN={a}{b},OU=Groups,DC=contoso,DC=com"
    r = sample(members=2, status=status)
    r.distinguished_name = dn
    r.source_identity = ProvisioningIdentity(a, "group", dn)
    r.target_identity = ProvisioningIdentity(b, "group", a)
    r.computer_name, r.config_path, r.run_id = a, b, a
    members = [f"CN={a},OU=Users,DC=contoso,DC=com", f"CN={b},OU=Users,DC=contoso,DC=com", f"CN=x{a},DC=contoso"]
    ids = [f"id-{a}", f"id-{b}"]
    r.steps[6].details = {a: b, "Reason": a}
    r.steps[6].attributes = [AttributeInfo("member", True, "Reference", "; ".join(members)),
                             AttributeInfo(a, False, b, b, add=a, delete=b, operation=a, sync_rule=b,
                                           mapping_type=a, data_source=b),
                             AttributeInfo("proxyAddresses", True, "String", f"smtp:{a}; smtp:{b}")]
    r.steps[8].details["Unresolved references"] = members[2]
    r.steps[9].attributes = [AttributeInfo("members", True, "Reference", b, add="; ".join(ids), delete=ids[1]),
                             AttributeInfo("displayName", False, "String", a, add=b, operation="Replace")]
    r.extra["resolved_references"] = {members[0]: ids[0], members[1]: ids[1], members[2]: None}
    r.modified_properties = [ModifiedProperty("members - Count", a, b), ModifiedProperty("displayName", b, a),
                             ModifiedProperty(a, b, None)]
    r.warnings = [a, b]
    r.steps[9].details["Confirmed by read-back"] = b
    if status != Status.SUCCESS:
        r.steps[9].status = status
        r.steps[9].details["Reason"] = b
        r.status_info.additional_details = f"{a} {b} " * 40  # folded under its first 160 characters
        r.status_info.recommended_action = a
    return r


@pytest.mark.parametrize("status", [Status.SUCCESS, Status.WARNING, Status.FAILURE, Status.SKIPPED])
def test_hostile_directory_values_are_text_in_every_section(status):
    page = html.render(_hostile_result(status))
    _assert_only_text(page, shown=5)
    for section in ("steps", "troubleshooting", "modified", "summary"):
        _assert_only_text(page[:page.index("<main>")] + _section(page, section) + "</section></main>"
                          + page[page.index("</main>") + len("</main>"):], shown=1)


def _hostile_scan():
    from collections import Counter

    from pybridge.scan.runner import ScanSummary
    from pybridge.scan.whole_view import Finding

    a, b = XSS
    s = ScanSummary(started=a, ended=b, scanned=3, statuses=Counter({"Failure": 2, a: 1}),
                    codes=Counter({a: 2, "AttributeValueMustBeUnique": 1}), out_of_scope=1, unreadable=[b],
                    findings=[Finding("AttributeValueMustBeUnique", a, (b,), b)], joined_deleted=[(a, b)])
    steps = [{"number": n, "name": a, "status": b, "details": {a: b, "Reason": a}} for n in range(1, 11)]
    s.rows.append({"dn": f"CN={a},DC=contoso,DC=com", "status": "Failure", "code": b, "reason": a, "steps": steps})
    s.rows.append({"dn": b, "status": a, "code": a, "reason": b, "steps": None})
    s.rows.append({"dn": a, "status": "Success", "code": "", "reason": "", "steps": None})
    return s


def test_hostile_values_are_text_in_the_scan_summary():
    from pybridge.report import scan_html

    summary = _hostile_scan()
    pieces = scan_html.render(summary)
    assert not isinstance(pieces, str)  # streamed: a scan of many objects is never one string in memory
    pieces = list(pieces)
    assert len(pieces) > len(summary.rows)
    _assert_only_text("".join(pieces), shown=5)
