"""Throttling and transient faults: Retry-After, the wait limit, and creates that are never duplicated."""
from __future__ import annotations

import time

import pytest

from tests.integration.conftest import run_cli

pytestmark = pytest.mark.integration


def graph_calls(emulator, method, regex):
    import re
    return [r for r in emulator.requests if r["method"] == method and re.search(regex, r["path"])]


def users_named(emulator, upn):
    return [u for u in emulator.users.values() if u.get("userPrincipalName", "").lower() == upn]


def test_429_storm_honours_retry_after_then_succeeds(lab, tmp_path):
    lab.emulator.inject_fault(method="GET", path_regex=r"^/v1\.0/users$", status=429, retry_after=1, count=2)
    t0 = time.monotonic()
    r = run_cli("sync", "--config", str(lab.config(tmp_path)), lab.dns["user"])
    elapsed = time.monotonic() - t0
    assert r.code == 0, r.stderr
    lookups = graph_calls(lab.emulator, "GET", r"^/v1\.0/users$")
    assert [q["status"] for q in lookups[:3]] == [429, 429, 200]
    assert elapsed >= 2.0  # both Retry-After waits were honoured
    assert len(users_named(lab.emulator, "jdoe@contoso.com")) == 1


def test_throttling_past_the_wait_limit_fails_with_throttled(lab, tmp_path):
    lab.emulator.inject_fault(method="GET", path_regex=r"^/v1\.0/users$", status=429, retry_after=30, count=50)
    cfg = lab.config(tmp_path, **{"entra.retry": {"max_wait": 5, "max_attempts": 6}})
    t0 = time.monotonic()
    r = run_cli("sync", "--config", str(cfg), lab.dns["user"])
    assert time.monotonic() - t0 < 20  # it did not sit out a 30 s Retry-After it could not afford
    assert r.code == 1
    info = r.json["StatusInfo"]
    assert info["ErrorCode"] == "Throttled"
    assert "429" in info["Reason"] and "entra.retry.max_wait" in info["Reason"]
    assert "5 minutes" in info["RecommendedAction"]
    assert len(graph_calls(lab.emulator, "GET", r"^/v1\.0/users$")) == 1
    assert graph_calls(lab.emulator, "POST", r"^/v1\.0/users$") == []


def test_503_without_retry_after_backs_off_and_recovers(lab, tmp_path):
    lab.emulator.inject_fault(method="GET", path_regex=r"^/v1\.0/users$", status=503, count=2)
    r = run_cli("sync", "--config", str(lab.config(tmp_path)), lab.dns["user"])
    assert r.code == 0, r.stderr
    assert [q["status"] for q in graph_calls(lab.emulator, "GET", r"^/v1\.0/users$")[:3]] == [503, 503, 200]


def test_persistent_500_is_a_service_error(lab, tmp_path):
    lab.emulator.inject_fault(method="GET", path_regex=r"^/v1\.0/users$", status=500, count=50)
    cfg = lab.config(tmp_path, **{"entra.retry": {"max_wait": 3, "max_attempts": 3}})
    r = run_cli("sync", "--config", str(cfg), lab.dns["user"])
    assert r.code == 1 and r.json["StatusInfo"]["ErrorCode"] == "GraphServiceError"
    assert len(graph_calls(lab.emulator, "GET", r"^/v1\.0/users$")) == 3


def test_create_committed_then_connection_lost_is_not_duplicated(lab, tmp_path):
    lab.emulator.inject_fault(method="POST", path_regex=r"^/v1\.0/users$", drop_after_commit=True, count=1)
    r = run_cli("sync", "--config", str(lab.config(tmp_path)), lab.dns["user"])
    assert r.code == 0, r.stderr
    assert len(graph_calls(lab.emulator, "POST", r"^/v1\.0/users$")) == 1
    (user,) = users_named(lab.emulator, "jdoe@contoso.com")
    assert r.json["TargetIdentity"]["Id"] == user["id"]
    assert "found by onPremisesImmutableId" in r.step(10)["Details"]["Create answer lost"]


def test_create_answered_504_before_commit_is_made_once(lab, tmp_path):
    lab.emulator.inject_fault(method="POST", path_regex=r"^/v1\.0/users$", status=504, count=1)
    r = run_cli("sync", "--config", str(lab.config(tmp_path)), lab.dns["user"])
    assert r.code == 0, r.stderr
    assert [q["status"] for q in graph_calls(lab.emulator, "POST", r"^/v1\.0/users$")] == [504, 201]
    assert len(users_named(lab.emulator, "jdoe@contoso.com")) == 1


def test_update_connection_reset_is_retried(lab, tmp_path):
    cfg = lab.config(tmp_path)
    assert run_cli("sync", "--config", str(cfg), lab.dns["user"]).code == 0
    (user,) = users_named(lab.emulator, "jdoe@contoso.com")
    lab.emulator.clear_log()
    import ldap3
    conn = lab.dc.connection()
    try:
        conn.modify(lab.dns["user"], {"title": [(ldap3.MODIFY_REPLACE, ["Director"])]})
        lab.emulator.inject_fault(method="PATCH", path_regex=r"^/v1\.0/users/", drop_after_commit=True, count=1)
        r = run_cli("sync", "--config", str(cfg), lab.dns["user"])
    finally:
        conn.modify(lab.dns["user"], {"title": [(ldap3.MODIFY_REPLACE, ["Account Manager"])]})
        conn.unbind()
    assert r.code == 0, r.stderr
    assert len(graph_calls(lab.emulator, "PATCH", r"^/v1\.0/users/")) == 2
    assert lab.emulator.get_object(user["id"])["jobTitle"] == "Director"


def test_token_endpoint_unknown_tenant_names_the_setting(lab, tmp_path):
    cfg = lab.config(tmp_path, **{"entra.tenant_id": "00000000-0000-0000-0000-00000000dead"})
    r = run_cli("sync", "--config", str(cfg), lab.dns["user"])
    assert r.code == 1 and r.step(2)["Status"] == "Failure"
    assert r.json["StatusInfo"]["ErrorCode"] in ("TenantNotFound", "AuthenticationFailed", "GraphUnavailable")
    assert "entra.tenant_id" in r.json["StatusInfo"]["RecommendedAction"]


@pytest.mark.parametrize("aadsts, code, setting", [
    (700027, "AuthenticationFailed", "client secret"),   # the client assertion/certificate is expired or invalid
    (65001, "GraphAuthorizationFailed", "admin consent"),  # consent missing
    (700016, "AuthenticationFailed", "entra.client_id"),   # application not found in the tenant
])
def test_token_failures_name_the_setting_to_fix(lab, tmp_path, aadsts, code, setting):
    lab.emulator.inject_fault(method="POST", path_regex=r"/oauth2/v2\.0/token$", status=400, count=1, body={
        "error": "invalid_client", "error_description": f"AADSTS{aadsts}: injected by the test.",
        "error_codes": [aadsts]})
    r = run_cli("sync", "--config", str(lab.config(tmp_path)), lab.dns["user"])
    assert r.code == 1 and r.step(2)["Status"] == "Failure"
    assert r.json["StatusInfo"]["ErrorCode"] == code
    assert setting in r.json["StatusInfo"]["RecommendedAction"]
