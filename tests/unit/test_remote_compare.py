"""compare: attribute-by-attribute differences between Single Object Sync results."""
from __future__ import annotations

import argparse
import copy
import io
import json

from pybridge.remote.cli import run_compare
from pybridge.remote.compare import MISSING, check_adsync, compare, flatten, parse_documents, render_text, to_json


def attr(name: str, value: str | None, **kw) -> dict:
    base = {"Name": name, "IsMultiValued": False, "Type": "String", "Value": value, "Add": None, "Delete": None,
            "Operation": "Add", "SyncRule": "Out to AAD - User Join", "MappingType": "Direct", "DataSource": name}
    base.update(kw)
    return base


def result(name: str, *, export_attrs: list[dict], export_result: str = "success", action: str = "Create") -> dict:
    steps = [{"Status": "Success", "Type": "Scoping", "Name": "ScopingDomain", "Description": "d",
              "Timestamp": f"2026-01-01T00:00:0{i}.000Z", "Details": {}} for i in range(9)]
    steps.append({"Status": "Success", "Type": "Export", "Name": "ExportSpecificObject", "Description": "Export",
                  "Timestamp": "2026-01-01T00:00:09.000Z",
                  "Details": {"Export step result": export_result, "AttributeInfoJson": json.dumps(export_attrs),
                              "Graph request body": json.dumps({"mail": "a@contoso.com", "department": "IT"}),
                              "Connected Object in Metaverse": f"mv-{name}"}})
    return {"Action": action, "StartTime": f"2026-01-01T00:00:00.{len(name)}Z", "EndTime": "x",
            "SourceSystem": {"Name": "Active Directory"}, "TargetSystem": {"Name": "Azure Active Directory"},
            "SourceIdentity": {"Id": "g", "Type": "user", "Name": "CN=Jane,OU=Corp,DC=contoso,DC=com"},
            "TargetIdentity": {"Id": "t", "Type": "user", "Name": "jane@contoso.com"},
            "StatusInfo": {"Status": "Success", "ErrorCode": None, "Reason": None, "AdditionalDetails": None,
                           "ErrorCategory": None, "RecommendedAction": None},
            "ModifiedProperties": [{"Name": "mail", "OldValue": None, "NewValue": "a@contoso.com"}],
            "ProvisioningSteps": steps, "ReportPath": f"/reports/{name}.htm", "ComputerName": name}


def test_identical_results_differ_only_in_times_paths_names_and_metaverse_ids():
    a = result("aadc01", export_attrs=[attr("mail", "a@contoso.com")])
    b = result("aadc02", export_attrs=[attr("mail", "a@contoso.com")])
    c = compare([a, b])
    assert c.identical and c.same_object and c.labels == ("aadc01", "aadc02")
    assert "No differences" in render_text(c)


def test_differences_down_to_single_attributes_of_the_export():
    a = result("aadc01", export_attrs=[attr("mail", "a@contoso.com"), attr("department", "IT")])
    b = result("aadc02", export_attrs=[attr("mail", "b@contoso.com"), attr("displayName", "Jane")],
               export_result="Not exported: staging mode", action="Update")
    c = compare([a, b])
    paths = {d.path: d.values for d in c.differences}
    assert paths["Action"] == ("Create", "Update")
    assert paths["Step 10 ExportSpecificObject / Export step result"] == ("success", "Not exported: staging mode")
    assert paths["Step 10 ExportSpecificObject / AttributeInfoJson / Attribute mail / Value"] == (
        "a@contoso.com", "b@contoso.com")
    assert paths["Step 10 ExportSpecificObject / AttributeInfoJson / Attribute department / Value"] == ("IT", MISSING)
    assert paths["Step 10 ExportSpecificObject / AttributeInfoJson / Attribute displayName / Value"] == (MISSING,
                                                                                                       "Jane")
    assert "Step 10 ExportSpecificObject / AttributeInfoJson / Attribute mail / SyncRule" not in paths
    text = render_text(c)
    assert "aadc01  a@contoso.com" in text and "aadc02  (absent)" in text
    doc = to_json(c)
    assert doc["Identical"] is False
    dept = next(d for d in doc["Differences"] if d["Path"].endswith("Attribute department / Value"))
    assert dept["Values"] == {"aadc01": "IT", "aadc02": None} and dept["AbsentIn"] == ["aadc02"]


def test_json_valued_details_are_compared_key_by_key():
    a = result("a", export_attrs=[])
    b = copy.deepcopy(a)
    b["ComputerName"] = "b"
    b["ProvisioningSteps"][9]["Details"]["Graph request body"] = json.dumps({"mail": "a@contoso.com",
                                                                             "department": "Sales"})
    c = compare([a, b])
    assert [d.path for d in c.differences] == ["Step 10 ExportSpecificObject / Graph request body / department"]


def test_an_attribute_that_flows_twice_keeps_both_entries():
    flat = flatten(result("a", export_attrs=[attr("mail", "x"), attr("mail", "y", SyncRule="In from AD")]))
    assert flat["Step 10 ExportSpecificObject / AttributeInfoJson / Attribute mail #2 / Value"] == "y"


def test_labels_are_made_unique_and_different_objects_are_flagged():
    a = result("same", export_attrs=[])
    b = result("same", export_attrs=[])
    b["SourceIdentity"]["Name"] = "CN=Other,DC=contoso,DC=com"
    c = compare([a, b])
    assert c.labels == ("same #1", "same #2") and not c.same_object
    assert "WARNING: the results are for different objects" in render_text(c)


def test_parse_documents_reads_lines_pretty_json_and_arrays():
    a, b = result("a", export_attrs=[]), result("b", export_attrs=[])
    assert len(parse_documents(json.dumps(a) + "\n\n" + json.dumps(b) + "\n", "f")) == 2
    assert len(parse_documents(json.dumps(a, indent=2), "f")) == 1
    assert len(parse_documents(json.dumps([a, b]), "f")) == 2
    assert parse_documents("  ", "f") == []


def test_graph_results_are_refused_with_a_reason():
    import pytest
    with pytest.raises(ValueError, match="--format graph"):
        check_adsync({"provisioningSteps": []}, "x.json")
    with pytest.raises(ValueError, match="not a Single Object Sync result"):
        check_adsync({"foo": 1}, "x.json")


def test_run_compare_exit_codes(tmp_path):
    a = result("aadc01", export_attrs=[attr("mail", "a")])
    b = result("aadc02", export_attrs=[attr("mail", "b")])
    both = tmp_path / "both.json"
    both.write_text(json.dumps(a) + "\n" + json.dumps(b) + "\n")
    one = tmp_path / "one.json"
    one.write_text(json.dumps(a))

    def run(*results: str, stdin: str = "", fmt: str = "text") -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        code = run_compare(argparse.Namespace(results=list(results), compare_format=fmt), out=out, err=err,
                           stdin=io.StringIO(stdin))
        return code, out.getvalue(), err.getvalue()

    code, out, _ = run(str(both))
    assert code == 1 and "Attribute mail / Value" in out
    assert run(str(one), "-", stdin=json.dumps(a))[0] == 0
    code, out, _ = run(str(one), "-", stdin=json.dumps(b), fmt="json")
    assert code == 1 and json.loads(out)["Results"] == ["aadc01", "aadc02"]
    code, _, err = run(str(one))
    assert code == 2 and "at least two" in err
    bad = tmp_path / "bad.json"
    bad.write_text("{not json\n")
    code, _, err = run(str(bad), str(one))
    assert code == 2 and "bad.json, line 1: not JSON" in err
    assert run(str(tmp_path / "missing.json"), str(one))[0] == 2
    assert run("-", "-")[0] == 2


def test_deeply_nested_json_is_a_usage_error_not_a_traceback(tmp_path):
    good = tmp_path / "good.json"
    good.write_text(json.dumps(result("a", export_attrs=[])))
    deep_line = tmp_path / "deep.json"
    deep_line.write_text("[" * 100_000 + "]" * 100_000)
    deep_value = tmp_path / "deep-value.json"
    doc = result("b", export_attrs=[])
    doc["ProvisioningSteps"][9]["Details"]["Graph request body"] = "[" * 100_000 + "]" * 100_000
    deep_value.write_text(json.dumps(doc))
    err = io.StringIO()
    code = run_compare(argparse.Namespace(results=[str(good), str(deep_line)], compare_format="text"),
                       out=io.StringIO(), err=err)
    assert code == 2 and "nested too deeply" in err.getvalue()
    out = io.StringIO()
    code = run_compare(argparse.Namespace(results=[str(good), str(deep_value)], compare_format="json"), out=out,
                       err=io.StringIO())
    assert code == 1 and json.loads(out.getvalue())["Identical"] is False
