"""core.model's constructors of a stopped run: status_info_for and failed_result."""
from __future__ import annotations

import datetime as dt

from pybridge.core.errorcodes import ERROR_CODES
from pybridge.core.model import Action, Status, failed_result, status_info_for
from pybridge.remote import RemoteUnreachable, SyncRequest
from pybridge.remote.runner import failure_document
from pybridge.sync.steps import STEPS, new_steps

DN = "CN=Jane Doe,OU=Users,DC=contoso,DC=com"


def test_category_and_action_come_from_the_table():
    info = status_info_for("ContainerNotInScope", "excluded")
    entry = ERROR_CODES["ContainerNotInScope"]
    assert (info.status, info.error_code, info.reason) == (Status.FAILURE, "ContainerNotInScope", "excluded")
    assert (info.error_category, info.recommended_action) == (entry.category, entry.action)
    assert info.additional_details is None


def test_a_given_action_replaces_the_tables():
    assert status_info_for("ConfigurationError", "bad", recommended="Do this.").recommended_action == "Do this."


def test_an_unknown_code_is_kept_with_internal_errors_category_and_action():
    info = status_info_for("NoSuchCode", "?")
    assert info.error_code == "NoSuchCode"
    assert (info.error_category, info.recommended_action) == (ERROR_CODES["InternalError"].category,
                                                              ERROR_CODES["InternalError"].action)


def test_skipped_is_a_success_category():
    info = status_info_for("ContainerNotInScope", "excluded", status=Status.SKIPPED)
    assert info.status == Status.SKIPPED and info.error_category == "success"


def test_details_are_one_text_or_lines_joined():
    assert status_info_for("ConfigurationError", "x", details="one\n\ntwo").additional_details == "one\n\ntwo"
    assert status_info_for("ConfigurationError", "x", details=["a", "", "b"]).additional_details == "a\nb"
    assert status_info_for("ConfigurationError", "x", details=["", ""]).additional_details is None
    assert status_info_for("ConfigurationError", "x", details=[]).additional_details is None


def test_failed_result_lists_ten_skipped_steps():
    r = failed_result(DN, "StateStoreError", "cannot open", steps=new_steps(), details=["p1"], recommended="Fix it.")
    assert r.distinguished_name == DN and r.source_identity.name == DN
    assert [(s.number, s.key, s.name) for s in r.steps] == [(i + 1, row.key, row.name) for i, row in enumerate(STEPS)]
    assert {s.status for s in r.steps} == {Status.SKIPPED}
    assert r.action == Action.OTHER and r.exit_code == 1
    assert (r.status_info.error_code, r.status_info.reason, r.status_info.additional_details,
            r.status_info.recommended_action) == ("StateStoreError", "cannot open", "p1", "Fix it.")
    assert r.start_time == r.end_time and r.start_time.tzinfo is not None
    assert not r.staging_mode and r.computer_name is None


def test_failed_result_keeps_given_times_staging_and_computer():
    start = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    end = start + dt.timedelta(seconds=3)
    r = failed_result(DN, "RemoteTimeout", "late", steps=new_steps(), start=start, end=end, staging_mode=True,
                      computer_name="aadc01")
    assert (r.start_time, r.end_time, r.staging_mode, r.computer_name) == (start, end, True, "aadc01")


def test_a_remote_failure_document_is_built_by_the_same_constructor():
    started = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    error = RemoteUnreachable("aadc01: unreachable", computer_name="aadc01", detail="connection refused")
    doc = failure_document("aadc01", SyncRequest(distinguished_name=DN, staging_mode=True), error, started)
    entry = ERROR_CODES["RemoteHostUnreachable"]
    assert doc["StatusInfo"] == {"Status": "Failure", "ErrorCode": "RemoteHostUnreachable",
                                 "Reason": "aadc01: unreachable", "AdditionalDetails": "connection refused",
                                 "ErrorCategory": entry.category, "RecommendedAction": entry.action}
    assert doc["ComputerName"] == "aadc01" and doc["StartTime"] == "2026-01-01T00:00:00.000Z"
    assert [s["Status"] for s in doc["ProvisioningSteps"]] == ["Skipped"] * 10
